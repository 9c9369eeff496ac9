"""configs/cllm4rec/*.toml: the defaults runs recorded before they moved out of the code, the layering ([train] <
[train.<recipe>] < --config < --set < an explicit option), --set/--config checks, keyword-only requests."""

import json

import pytest

from llmrec_cli import artifacts
from llmrec_cli.cllm4rec import config as hp_config
from llmrec_cli.cllm4rec import multivae, train
from llmrec_cli.commands import cllm4rec as commands
from llmrec_cli.errors import LLMRecError

# What the code used before the values moved to configs/cllm4rec (train.DEFAULT_HP, multivae.DEFAULT_HP), written
# out literally: runs record these, so any change here makes every finished default run out of date.
CLLM4REC_BEFORE = {
    "warmup_epochs": 10,
    "pretrain_epochs": 100,
    "finetune_epochs": 150,
    "batch_size": 160,
    "eval_batch_size": 256,
    "lr_pretrain": 1e-3,
    "lr_finetune": 1e-4,
    "lambda_v": 1.0,
    "max_len": 1024,
    "shuffle_pretrain_items": False,
    "finetune_target": "all",
    "score_first_token": False,
    "content_init": "independent",
    "content_in_finetune": True,
    "amp": True,
}
MULTIVAE_BEFORE = {
    "epochs": 200,
    "batch_size": 500,
    "lr": 1e-3,
    "hidden": 600,
    "latent": 200,
    "dropout": 0.5,
    "total_anneal_steps": 200_000,
    "anneal_cap": 0.2,
    "eval_batch_size": 1024,
}


def same(a: dict, b: dict) -> bool:
    """Equal as recorded: the same keys, values and JSON types (1 and 1.0 hash differently)."""
    same_json = json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    return same_json and artifacts.config_hash(a) == artifacts.config_hash(b)


@pytest.mark.parametrize("recipe", [None, "beauty", "demo", "toy"])
def test_the_defaults_are_what_the_code_used(tmp_path, recipe):
    assert same(train.resolve_hp({}, recipe), CLLM4REC_BEFORE)
    assert same(multivae.resolve_hp({}, recipe), MULTIVAE_BEFORE)
    # the commands' path with no option given: what train.run / multivae.run then record
    dataset = recipe or "beauty"
    assert same(commands._resolve("cllm4rec", tmp_path, dataset, None, [], {"batch_size": None}), CLLM4REC_BEFORE)
    assert same(commands._resolve("multivae", tmp_path, dataset, None, [], {"epochs": None}), MULTIVAE_BEFORE)
    assert same(train.resolve_hp(train.resolve_hp({}, recipe)), CLLM4REC_BEFORE)  # a resolved dict passes unchanged


def test_the_options_override_as_before():
    hp = train.resolve_hp({"batch_size": 64, "lr_finetune": 1e-3, "content_in_finetune": False, "warmup_epochs": None})
    assert same(hp, {**CLLM4REC_BEFORE, "batch_size": 64, "lr_finetune": 1e-3, "content_in_finetune": False})
    with pytest.raises(LLMRecError, match="unknown CLLM4Rec hyperparameter"):
        train.resolve_hp({"lambda": 1.0})
    with pytest.raises(LLMRecError, match="unknown Multi-VAE hyperparameter"):
        multivae.resolve_hp({"hiden": 10})


@pytest.fixture
def layered(tmp_path, monkeypatch):
    """A configs folder whose cllm4rec.toml has a per-recipe table, and a --config file."""
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "cllm4rec.toml").write_text(
        "[train]\nbatch_size = 160\nlr_pretrain = 1e-3\nlambda_v = 1.0\n"
        "max_len = 1024\nfinetune_epochs = 150\namp = true\n"
        "[train.toy]\nbatch_size = 32\nlambda_v = 2.0\nmax_len = 512\nfinetune_epochs = 7\n"
    )
    monkeypatch.setenv("LLMREC_CLLM4REC_CONFIGS_DIR", str(folder))
    extra = tmp_path / "extra.toml"
    extra.write_text("lambda_v = 3\n[train]\nmax_len = 256\nfinetune_epochs = 9\n")
    return extra


def test_layering(tmp_path, layered):
    assert hp_config.resolve("cllm4rec") == {
        "batch_size": 160,
        "lr_pretrain": 1e-3,
        "lambda_v": 1.0,
        "max_len": 1024,
        "finetune_epochs": 150,
        "amp": True,
    }
    toy = hp_config.resolve("cllm4rec", "toy")
    assert (toy["batch_size"], toy["lambda_v"], toy["max_len"], toy["lr_pretrain"]) == (32, 2.0, 512, 1e-3)
    filed = hp_config.resolve("cllm4rec", "toy", layered)
    assert (filed["batch_size"], filed["lambda_v"], filed["max_len"], filed["finetune_epochs"]) == (32, 3.0, 256, 9)
    assert isinstance(filed["lambda_v"], float)  # a whole number for a float setting is recorded as the option would
    setted = hp_config.resolve("cllm4rec", "toy", layered, {"max_len": 128, "lambda_v": 1})
    assert (setted["max_len"], setted["lambda_v"], setted["finetune_epochs"]) == (128, 1.0, 9)
    assert isinstance(setted["lambda_v"], float)
    # the command: a renamed copy takes its recipe's table; an explicit option beats --set
    (tmp_path / "work" / "data" / "toy-copy").mkdir(parents=True)
    (tmp_path / "work" / "data" / "toy-copy" / "manifest.json").write_text(json.dumps({"recipe": "toy"}))
    hp = commands._resolve(
        "cllm4rec",
        tmp_path / "work",
        "toy-copy",
        layered,
        ["max_len=128", "batch_size=8"],
        {"batch_size": 16, "amp": None},
    )
    assert (hp["batch_size"], hp["max_len"], hp["lambda_v"], hp["finetune_epochs"]) == (16, 128, 3.0, 9)
    assert hp["amp"] is True


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"lamda_v": 1}, "--set lamda_v: not a setting of train-cllm4rec; did you mean lambda_v?"),
        ({"batch_size": "a"}, "expected a whole number"),
        ({"batch_size": 2.5}, "expected a whole number"),
        ({"amp": 1}, "expected true or false"),
        ({"lr_pretrain": "fast"}, "expected a number"),
        ({"finetune_target": 3}, "expected a text"),
        ({"batch_size": 0}, "greater than 0"),
        ({"max_len": 0}, "greater than 0"),
        ({"lr_pretrain": -1}, ">= 0"),
        ({"lambda_v": float("nan")}, "finite"),
    ],
)
def test_set_keys_and_values_are_checked(overrides, fragment):
    with pytest.raises(LLMRecError, match="^--set") as error:
        hp_config.resolve("cllm4rec", None, None, overrides)
    assert fragment in str(error.value)


def test_multivae_settings_are_checked():
    with pytest.raises(LLMRecError, match="not a setting of train-baseline --model multivae; did you mean dropout"):
        hp_config.resolve("multivae", None, None, {"dropuot": 0.1})
    with pytest.raises(LLMRecError, match="greater than 0"):
        hp_config.resolve("multivae", None, None, {"epochs": 0})
    assert hp_config.resolve("multivae", None, None, {"lr": 1})["lr"] == 1.0


def test_config_file_keys_are_checked_and_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlamda_v = 1.0\n")
    with pytest.raises(LLMRecError, match=r"bad.toml: lamda_v: not a setting of train-cllm4rec; did you mean"):
        hp_config.resolve("cllm4rec", None, bad)
    bad.write_text("batch_size = 'big'\n")
    with pytest.raises(LLMRecError, match=r"bad.toml: batch_size='big': expected a whole number"):
        hp_config.resolve("cllm4rec", None, bad)
    with pytest.raises(LLMRecError, match="config file not found"):
        hp_config.resolve("cllm4rec", None, tmp_path / "missing.toml")


def one_line_error(result, *fragments):
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1, result
    assert all(f in result.err for f in fragments), result.err


@pytest.mark.parametrize(
    "command, args, fragments",
    [
        ("train-cllm4rec", ["--set", "lamda_v=1"], ["--set lamda_v", "did you mean lambda_v"]),
        ("train-cllm4rec", ["--set", "batch_size=many"], ["--set batch_size", "whole number"]),
        ("train-cllm4rec", ["--set", "max_len"], ["expected key=value"]),
        ("train-baseline", ["--set", "epochs=0"], ["--set epochs=0", "greater than 0"]),
        ("train-baseline", ["--model", "most-popular", "--set", "epochs=3"], ["most-popular has no settings"]),
    ],
)
def test_cli_set_errors_are_one_line_and_create_nothing(cli, tmp_path, command, args, fragments):
    workdir = tmp_path / "work"
    one_line_error(cli(command, "--dataset", "toy", *args, workdir=workdir), *fragments)
    assert not workdir.exists() or not any(workdir.rglob("*"))


def test_requests_are_keyword_only():
    with pytest.raises(TypeError):
        train.CLLM4RecRequest("toy", "all")  # the positional form of before
    with pytest.raises(TypeError):
        multivae.BaselineRequest("toy", "multivae")
    req = train.CLLM4RecRequest(dataset="toy", seed=3)
    assert (req.dataset, req.stage, req.seed, req.hp, req.checkpoint_seconds) == ("toy", "all", 3, {}, 600.0)

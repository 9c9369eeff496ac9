"""train-cllm4rec end to end on the toy dataset: outputs, evaluate dispatch, up to date, resume, stages, CLI."""

import json

import polars as pl
import pytest
from cllm4rec_toy import TINY_LM, tiny_train_args

from llmrec_cli import artifacts
from llmrec_cli.cllm4rec import train
from llmrec_cli.errors import LLMRecError
from llmrec_cli.evaluate import stage

SMALL_HP = {
    "warmup_epochs": 1,
    "pretrain_epochs": 1,
    "finetune_epochs": 2,
    "batch_size": 8,
    "lr_finetune": 1e-2,
    "lr_pretrain": 1e-2,
}


def request(stage_name="all", **kw) -> train.CLLM4RecRequest:
    return train.CLLM4RecRequest(
        dataset="toy", stage=stage_name, backbone=TINY_LM, hp=dict(SMALL_HP), seed=5, device="cpu", **kw
    )


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def straight(toy_workdir):
    return train.run(request(run_id="straight"), toy_workdir)


def test_outputs_manifest_and_evaluate_dispatch(toy_workdir, straight):
    run_dir = straight.run_dir
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["kind"] == "cllm4rec" and manifest["content_corpus"] == "reviews"
    assert manifest["mr_entities"] == ["user", "item"]
    assert set(manifest["pretrain_saved"]) == {"collab", "content"}
    assert not (run_dir / "checkpoint.pt").exists() and (run_dir / "pretrained.pt").exists()
    history = artifacts.read_parquet(run_dir / "history.parquet", artifacts.HISTORY)
    assert history["part"].to_list() == [
        "content",
        "collab",
        "content",
        "save",
        "rec",
        "valid",
        "content",
        "rec",
        "valid",
        "content",
    ]
    assert set(straight.metrics) >= {"recall@20", "recall@40", "ndcg@100"}
    evaluation = stage.run_one(run_dir, toy_workdir)  # scored by the model itself, not by its vectors
    assert evaluation.metrics == straight.metrics
    users = artifacts.read_parquet(run_dir / "users.parquet", artifacts.vectors_schema("user"))
    assert users.height == 12


def test_the_recorded_config_keeps_its_keys_and_values(straight):
    """As recorded before the defaults moved to configs/cllm4rec/cllm4rec.toml: finished runs stay up to date."""
    config = artifacts.read_manifest(straight.run_dir)["config"]
    assert config.pop("backbone")["spec"] == TINY_LM
    assert json.dumps(config, sort_keys=True) == json.dumps(
        {
            "dataset": "toy",
            "seed": 5,
            "stage": "all",
            "layers": None,
            "pretrained": None,
            "warmup_epochs": 1,
            "pretrain_epochs": 1,
            "finetune_epochs": 2,
            "batch_size": 8,
            "eval_batch_size": 256,
            "lr_pretrain": 1e-2,
            "lr_finetune": 1e-2,
            "lambda_v": 1.0,
            "max_len": 1024,
            "shuffle_pretrain_items": False,
            "finetune_target": "all",
            "score_first_token": False,
            "content_init": "independent",
            "content_in_finetune": True,
            "amp": True,
        },
        sort_keys=True,
    )


def test_rerun_is_up_to_date(toy_workdir, straight):
    again = train.run(request(run_id="straight"), toy_workdir)
    assert again.up_to_date and again.metrics == straight.metrics


def test_resume_mid_pass_gives_the_same_result(toy_workdir, straight):
    def die_in_finetuning(event):
        if event.get("label", "").startswith("finetune 2/2 rec") and event.get("batch") == 1:
            raise Killed

    req = request(run_id="killed", checkpoint_seconds=0.0)  # a checkpoint after every batch
    with pytest.raises(Killed):
        train.run(req, toy_workdir, die_in_finetuning)
    run_dir = toy_workdir / "runs" / "killed"
    assert (run_dir / "checkpoint.pt").exists() and not (run_dir / "manifest.json").exists()
    with pytest.raises(LLMRecError, match="--resume"):
        train.run(request(run_id="killed"), toy_workdir)
    resumed = train.run(request(run_id="killed", resume=True), toy_workdir)
    assert resumed.metrics == straight.metrics
    assert pl.read_parquet(run_dir / "history.parquet").equals(
        pl.read_parquet(straight.run_dir / "history.parquet").with_columns(
            pl.col("seconds") * 0 + pl.read_parquet(run_dir / "history.parquet")["seconds"]
        )
    )


def test_pretrain_then_finetune_stages(toy_workdir):
    pre = train.run(request("pretrain", run_id="pre"), toy_workdir)
    assert json.loads((pre.run_dir / "metrics.json").read_text())["model"].startswith("CLLM4Rec-PreRec")
    with pytest.raises(LLMRecError, match="--pretrained"):
        train.run(request("finetune", run_id="fine"), toy_workdir)
    fine = train.run(request("finetune", run_id="fine", pretrained="pre"), toy_workdir)
    history = pl.read_parquet(fine.run_dir / "history.parquet")
    assert history["phase"].unique().to_list() == ["finetune"]
    assert all(v == v for v in fine.metrics.values())


def test_item_text_corpus_leaves_users_out_of_mutual_regularisation(toy_workdir):
    req = train.CLLM4RecRequest(
        dataset="toy-noreviews",
        stage="all",
        backbone=TINY_LM,
        hp={**SMALL_HP, "finetune_epochs": 1},
        seed=5,
        device="cpu",
    )
    result = train.run(req, toy_workdir)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["content_corpus"] == "item_text:title,tags" and manifest["mr_entities"] == ["item"]


def test_cli_train_and_evaluate(cli, toy_workdir):
    args = tiny_train_args(8, "--run-id", "cli")
    result = cli(*args, workdir=toy_workdir)
    assert result.code == 0, result.err
    assert "recall@20" in result.out
    result = cli("evaluate", "cli", workdir=toy_workdir)
    assert result.code == 0, result.err and "ndcg@100" in result.out
    bad = cli("train-cllm4rec", "--dataset", "toy", "--backbone", TINY_LM, "--stage", "finetune", workdir=toy_workdir)
    assert bad.code == 2 and "--pretrained" in bad.err
    missing = cli("train-cllm4rec", "--dataset", "toy", "--backbone", "/no/such/model", workdir=toy_workdir)
    assert missing.code == 2 and "--backbone" in missing.err


def test_default_run_ids_of_any_backbone_are_safe_names(tmp_path):
    for backbone, name in (
        (TINY_LM, "tiny-gpt2-2-32"),
        ("/models/my model", "my-model"),
        ("/models/smol.gguf", "smol"),
        ("smollm2", "smollm2"),
    ):
        req = train.CLLM4RecRequest(dataset="toy", stage="all", backbone=backbone, seed=5)
        assert train.default_run_id(req) == f"toy-cllm4rec-all-{name}-s5"
        assert req.run_dir(tmp_path, train.default_run_id(req)).parent == tmp_path / "runs"


@pytest.mark.parametrize("run_id", ["../x", "/tmp/x", ""])
def test_cli_run_ids_are_single_folder_names(cli, toy_workdir, run_id):
    before = sorted(toy_workdir.rglob("*"))
    result = cli(
        "train-cllm4rec", "--dataset", "toy", "--backbone", TINY_LM, "--run-id", run_id, "--force", workdir=toy_workdir
    )
    assert result.code == 2 and "--run-id" in result.err and len(result.err.strip().splitlines()) == 1, result
    assert sorted(toy_workdir.rglob("*")) == before


def test_cli_numbers_are_range_checked(cli, toy_workdir):
    for option in (("--batch-size", "0"), ("--finetune-epochs", "-1"), ("--layers", "0"), ("--max-len", "0")):
        assert (
            cli("train-cllm4rec", "--dataset", "toy", "--backbone", TINY_LM, *option, workdir=toy_workdir).code == 2
        ), option

"""The evaluate stage: the global --device reaches it and is resolved like every other stage's."""

from pathlib import Path

import pytest

from llmrec_cli.errors import LLMRecError
from llmrec_cli.evaluate import stage


def test_cli_passes_the_global_device(cli, monkeypatch):
    seen = {}

    def fake_run_one(run, workdir, split, ks, denominator, device="cpu", force=False):
        seen["device"] = device
        return stage.Evaluation(Path(str(run)), "m", "demo", split, {"recall@20": 0.5}, 1)

    monkeypatch.setattr(stage, "run_one", fake_run_one)
    result = cli("--device", "cpu", "evaluate", "some-run")
    assert result.code == 0, result.err
    assert seen["device"] == "cpu"
    assert cli("evaluate", "some-run").code == 0 and seen["device"] == "auto"


def test_an_unknown_device_is_a_clear_error(tmp_path):
    with pytest.raises(LLMRecError, match="--device"):
        stage.run_one(tmp_path / "no-run", tmp_path, device="tpu")


def test_auto_device_resolves_before_the_run_is_read(tmp_path):
    with pytest.raises(LLMRecError, match="no such run folder"):
        stage.run_one(tmp_path / "no-run", tmp_path, device="auto")


# ------------------------------------------------------------------------------------------------ metrics.json
TRAINED = {
    "split": "test",
    "model": "lightgcn+none",
    "recall_denominator": "all",
    "ks": [5, 10, 20],
    "metrics": {"recall@20": 0.25},
    "valid_metrics": {"recall@20": 0.125},
    "best_epoch": 7,
}


def test_each_split_keeps_its_own_ks_and_training_keeps_its_validation():
    valid = {"ks": [10, 50], "recall_denominator": "all", "n_users_evaluated": 3, "metrics": {"recall@50": 0.5}}
    doc = stage.merged_metrics(TRAINED, "valid", valid)
    assert doc["splits"] == {"valid": valid}
    assert {k: doc[k] for k in TRAINED} == TRAINED  # test metrics, their ks and training's validation untouched
    test = {"ks": [20], "recall_denominator": "min_k", "n_users_evaluated": 4, "metrics": {"recall@20": 0.375}}
    doc = stage.merged_metrics(doc, "test", test)
    assert doc["splits"] == {"valid": valid, "test": test}
    assert (doc["metrics"], doc["ks"], doc["recall_denominator"], doc["split"]) == (
        {"recall@20": 0.375},
        [20],
        "min_k",
        "test",
    )
    assert doc["valid_metrics"] == {"recall@20": 0.125} and doc["best_epoch"] == 7


@pytest.fixture
def hand_made_run(tmp_path):
    """A finished run on the demo data: fixed random vectors, and the metrics.json its training would have left."""
    import json

    import torch

    from llmrec_cli import artifacts
    from llmrec_cli.data import prepare
    from llmrec_cli.runs import write_vectors

    work = tmp_path / "work"
    prepare.run(prepare.config_from_recipe("demo", None, {}), work)
    run_dir = work / "runs" / "hand-made"
    run_dir.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    write_vectors(run_dir, torch.randn(400, 8, generator=generator), torch.randn(299, 8, generator=generator))
    config = {"dataset": "demo", "seed": 1, "backbone": "lightgcn", "align": "none"}
    manifest = artifacts.Manifest(
        "train-rlmrec", config, {}, ["users.parquet", "items.parquet", "metrics.json"], {"users": 400, "items": 299}
    )
    artifacts.write_json(manifest.to_dict(), run_dir / "manifest.json")
    (run_dir / "metrics.json").write_text(json.dumps({**TRAINED, "config": config}))
    return work, run_dir


def test_evaluating_valid_keeps_the_test_and_training_metrics(cli, hand_made_run):
    import json

    from llmrec_cli import check
    from llmrec_cli.report import collect

    work, run_dir = hand_made_run
    assert cli("evaluate", "hand-made", "--split", "valid", "--k", "10", "--k", "50", workdir=work).code == 0
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert {k: doc[k] for k in TRAINED} == TRAINED
    assert doc["splits"]["valid"]["ks"] == [10, 50] and set(doc["splits"]["valid"]["metrics"]) >= {
        "recall@10",
        "ndcg@50",
    }
    assert collect._read_metrics(run_dir / "metrics.json")["metrics"] == {"recall@20": 0.25}  # the report's reading
    assert cli("evaluate", "hand-made", workdir=work).code == 0
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert (
        doc["ks"] == doc["splits"]["test"]["ks"] == [5, 10, 20] and doc["metrics"] == doc["splits"]["test"]["metrics"]
    )
    assert doc["valid_metrics"] == {"recall@20": 0.125} and doc["splits"]["valid"]["ks"] == [10, 50]
    assert check.check_metrics(run_dir / "metrics.json") == 15


def test_a_run_is_never_scored_against_a_split_it_was_not_trained_on(cli, tmp_path):
    assert cli("prepare", "--dataset", "demo").code == 0
    assert cli("train-rlmrec", "--dataset", "demo", "--epochs", "1", "--run-id", "r").code == 0
    assert cli("evaluate", "r").code == 0
    assert cli("--seed", "7", "prepare", "--dataset", "demo", "--force").code == 0  # same shape, another split
    stale = cli("evaluate", "r")
    assert stale.code == 2 and "trained on another version of" in stale.err and "train.parquet" in stale.err
    checked = cli("check", "runs/r")
    assert checked.code == 2 and "trained on another version of" in checked.err

"""The RLMRec trainer end to end on the shipped demo data: determinism, resume, alignments, outputs, CLI."""

import json

import polars as pl
import pytest

from llmrec_cli import artifacts
from llmrec_cli.data import prepare
from llmrec_cli.errors import LLMRecError
from llmrec_cli.rlmrec import config, train


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    prepare.run(prepare.config_from_recipe("demo", None, {}), work)
    return work


def request(backbone="lightgcn", align="none", epochs=4, **kw):
    hp = config.resolve(backbone, align, "demo", overrides={"max_epochs": epochs, "eval_every": 1, "batch_size": 1024})
    return train.TrainRequest("demo", hp, seed=7, device="cpu", **kw)


class Killed(Exception):
    pass


def test_same_seed_same_metrics(workdir):
    a = train.run(request(run_id="det-a"), workdir)
    b = train.run(request(run_id="det-b"), workdir)
    assert a.metrics == b.metrics and a.metrics["recall@20"] > 0


def test_resume_after_interruption_matches_straight_run(workdir):
    straight = train.run(request(run_id="straight"), workdir)

    def die_after_two(row):
        if row["epoch"] == 1:
            raise Killed

    with pytest.raises(Killed):
        train.run(request(run_id="killed"), workdir, on_epoch=die_after_two)
    run_dir = workdir / "runs" / "killed"
    assert (run_dir / "checkpoint.pt").exists() and not (run_dir / "manifest.json").exists()
    with pytest.raises(LLMRecError, match="--resume"):
        train.run(request(run_id="killed"), workdir)
    resumed = train.run(request(run_id="killed", resume=True), workdir)
    assert resumed.metrics == straight.metrics
    history = pl.read_parquet(run_dir / "history.parquet")
    assert history["epoch"].to_list() == [0, 1, 2, 3]
    assert not (run_dir / "checkpoint.pt").exists()


def test_on_epoch_reports_the_best_validation_so_far(workdir):
    events = []
    result = train.run(request(epochs=2, run_id="events"), workdir, on_epoch=events.append)
    assert [e["epoch"] for e in events] == [0, 1]
    scores = [e["valid_recall@20"] for e in events]
    assert events[-1]["best_valid"] == max(scores) and events[-1]["best_epoch"] == scores.index(max(scores))
    assert "best_valid" not in pl.read_parquet(result.run_dir / "history.parquet").columns


def test_outputs_follow_the_contracts_and_rerun_is_up_to_date(workdir):
    result = train.run(request(run_id="outputs"), workdir)
    run_dir = result.run_dir
    users = artifacts.read_parquet(run_dir / "users.parquet", artifacts.vectors_schema("user"))
    items = artifacts.read_parquet(run_dir / "items.parquet", artifacts.vectors_schema("item"))
    assert users.height == 400 and items.height == 299
    artifacts.read_parquet(run_dir / "history.parquet", artifacts.HISTORY)
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert doc["dataset"] == "demo" and set(doc["metrics"]) >= {"recall@20", "ndcg@20"}
    manifest = artifacts.read_manifest(run_dir)
    assert manifest["stage"] == "train-rlmrec" and manifest["config"]["layers"] == 3
    again = train.run(request(run_id="outputs"), workdir)
    assert again.up_to_date and again.metrics == result.metrics


def test_patience_counts_only_from_min_epochs(workdir):
    def frozen(run_id, **hp):  # lr 0: the validation score never improves on epoch 0's
        overrides = {"max_epochs": 20, "eval_every": 1, "batch_size": 1024, "lr": 0.0, "patience": 2, **hp}
        return train.TrainRequest("demo", config.resolve("lightgcn", "none", "demo", overrides=overrides), seed=7,
                                  device="cpu", run_id=run_id)

    official = train.run(frozen("patience-official"), workdir)
    assert (official.best_epoch, official.epochs_run) == (0, 3)  # bad at epochs 1 and 2: stop
    warmed = train.run(frozen("patience-min5", min_epochs=5), workdir)
    assert (warmed.best_epoch, warmed.epochs_run) == (0, 7)  # epochs 1-4 do not count; bad at 5 and 6: stop


def test_recipe_settings_apply_to_the_recipe_only():
    assert config.resolve("gccf", "gen", "steam-text")["min_epochs"] == 60
    paper = config.resolve("gccf", "gen", "amazon-book")
    assert "min_epochs" not in paper and paper["patience"] == 5  # the papers' datasets keep the official rule


@pytest.mark.parametrize("align", ["con", "gen"])
def test_alignments_train_with_any_vector_width(workdir, align):
    result = train.run(request(align=align, epochs=2, embeddings="random:24", run_id=f"align-{align}"), workdir)
    history = pl.read_parquet(result.run_dir / "history.parquet")
    assert history["loss_align"].is_finite().all() and history["loss_align"].min() > 0
    assert json.loads((result.run_dir / "metrics.json").read_text())["config"]["embeddings"].startswith("random:24")


def test_kar_baseline_widens_the_ego_table(workdir):
    result = train.run(request(align="kar", epochs=2, embeddings="random:24", run_id="kar"), workdir)
    users = artifacts.read_parquet(result.run_dir / "users.parquet", artifacts.vectors_schema("user"))
    assert users["vector"].dtype.size == 32 + 32  # ID embedding + augmented semantic vector
    with pytest.raises(LLMRecError, match="kar"):
        train.run(request(backbone="dccf", align="kar", epochs=1, embeddings="random:24"), workdir)


def test_alignment_without_embeddings_is_a_clear_error(workdir):
    with pytest.raises(LLMRecError, match="needs --embeddings"):
        train.run(request(align="con"), workdir)


def test_cli_train_then_evaluate(cli, tmp_path):
    assert cli("prepare", "--dataset", "demo").code == 0
    trained = cli("--seed", "3", "train-rlmrec", "-d", "demo", "--backbone", "lightgcn", "--epochs", "2", "--run-id", "r1")
    assert trained.code == 0, trained.err
    evaluated = cli("evaluate", "r1", "--k", "10")
    assert evaluated.code == 0, evaluated.err
    assert "recall@10" in evaluated.out and "r1" in evaluated.out
    per_user = pl.read_parquet(tmp_path / "work/runs/r1/per_user_test.parquet")
    assert set(per_user.columns) >= {"user_id", "recall@10", "ndcg@10"}
    bad = cli("evaluate", "no-such-run")
    assert bad.code == 2 and "no such run" in bad.err

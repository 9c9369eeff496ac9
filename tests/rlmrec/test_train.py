"""The RLMRec trainer end to end on the shipped demo data: determinism, resume, alignments, outputs, CLI."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from llmrec_cli import artifacts
from llmrec_cli.data import prepare
from llmrec_cli.errors import LLMRecError
from llmrec_cli.rlmrec import config, semantic, train
from llmrec_cli.runs import RunCheckpoint


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    prepare.run(prepare.config_from_recipe("demo", None, {}), work)
    return work


def request(backbone="lightgcn", align="none", epochs=4, **kw):
    hp = config.resolve(backbone, align, "demo", overrides={"max_epochs": epochs, "eval_every": 1, "batch_size": 1024})
    return train.TrainRequest(dataset="demo", hp=hp, seed=7, device="cpu", **kw)


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
        return train.TrainRequest(
            dataset="demo",
            hp=config.resolve("lightgcn", "none", "demo", overrides=overrides),
            seed=7,
            device="cpu",
            run_id=run_id,
        )

    official = train.run(frozen("patience-official", min_epochs=0), workdir)  # the demo recipe's own is 150
    assert (official.best_epoch, official.epochs_run) == (0, 3)  # bad at epochs 1 and 2: stop
    warmed = train.run(frozen("patience-min5", min_epochs=5), workdir)
    assert (warmed.best_epoch, warmed.epochs_run) == (0, 7)  # epochs 1-4 do not count; bad at 5 and 6: stop


def validated_epochs(run_dir) -> list[int]:
    history = pl.read_parquet(run_dir / "history.parquet")
    return history.filter(pl.col("valid_recall@20").is_not_null())["epoch"].to_list()


def test_the_last_epoch_is_always_validated(cli, workdir):
    short = cli("train-rlmrec", "-d", "demo", "--epochs", "2", "--run-id", "two-epochs", workdir=workdir)
    assert short.code == 0, short.err
    assert validated_epochs(workdir / "runs" / "two-epochs") == [0, 1]  # eval_every 3 alone would keep epoch 0 only
    hp = config.resolve("lightgcn", "none", "demo", overrides={"max_epochs": 5, "batch_size": 1024})
    assert hp["eval_every"] == 3 and "eval_every" in config.resolve("lightgcn", "none", "demo")
    five = train.run(train.TrainRequest(dataset="demo", hp=hp, seed=7, device="cpu", run_id="five-epochs"), workdir)
    assert validated_epochs(five.run_dir) == [0, 3, 4]
    assert "validates epochs 0 and 1" in " ".join(cli("train-rlmrec", "--help").out.replace("│", " ").split())


def test_recipe_settings_apply_to_the_recipe_only():
    assert config.resolve("gccf", "gen", "steam-text")["min_epochs"] == 60
    assert config.resolve("lightgcn", "con", "demo")["min_epochs"] == 150
    paper = config.resolve("gccf", "gen", "amazon-book")
    assert "min_epochs" not in paper and paper["patience"] == 5  # the papers' datasets keep the official rule


@pytest.mark.parametrize("align", ["con", "gen"])
def test_alignments_train_with_any_vector_width(workdir, align):
    result = train.run(request(align=align, epochs=2, embeddings="random:24", run_id=f"align-{align}"), workdir)
    history = pl.read_parquet(result.run_dir / "history.parquet")
    assert history["loss_align"].is_finite().all() and history["loss_align"].min() > 0
    assert json.loads((result.run_dir / "metrics.json").read_text())["config"]["embeddings"].startswith("random:24")


@pytest.mark.parametrize("align, weight", [("con", "kd_weight"), ("gen", "recon_weight")])
def test_a_weight_0_term_is_skipped_and_trains_exactly_as_computed(workdir, align, weight, monkeypatch, one_thread):
    # one thread: the comparison is bitwise, and multithreaded sparse sums may add in another order on each run
    def run(run_id):
        req = request(align=align, epochs=3, embeddings="random:24", run_id=run_id)
        return train.run(dataclasses.replace(req, hp={**req.hp, weight: 0.0}), workdir)

    cls = train.registry.alignment(align)
    with monkeypatch.context() as patch:
        patch.setattr(cls, "alignment_loss", lambda *a: pytest.fail("the weight-0 term was computed"))
        skipped = run(f"w0-skipped-{align}")
    monkeypatch.setattr(cls, "switched_off", lambda self: False)
    computed = run(f"w0-computed-{align}")
    assert skipped.metrics == computed.metrics
    for side in ("users", "items"):
        got, want = (pl.read_parquet(r.run_dir / f"{side}.parquet") for r in (skipped, computed))
        assert got.equals(want)
    assert pl.read_parquet(skipped.run_dir / "history.parquet")["loss_align"].max() == 0.0


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
    trained = cli(
        "--seed", "3", "train-rlmrec", "-d", "demo", "--backbone", "lightgcn", "--epochs", "2", "--run-id", "r1"
    )
    assert trained.code == 0, trained.err
    evaluated = cli("evaluate", "r1", "--k", "10")
    assert evaluated.code == 0, evaluated.err
    assert "recall@10" in evaluated.out and "r1" in evaluated.out
    per_user = pl.read_parquet(tmp_path / "work/runs/r1/per_user_test.parquet")
    assert set(per_user.columns) >= {"user_id", "recall@10", "ndcg@10"}
    bad = cli("evaluate", "no-such-run")
    assert bad.code == 2 and "no such run" in bad.err


# ------------------------------------------------------------------------------------------------ hostile input
def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def one_line_error(result, *fragments):
    lines = [line for line in result.err.strip().splitlines() if line]
    assert result.code == 2 and len(lines) == 1, result
    assert "Traceback" not in result.err and all(f in lines[0] for f in fragments), lines


@pytest.mark.parametrize("run_id", ["../x", "SENTINEL", "a/b", "..", ""])
def test_cli_run_ids_outside_the_runs_folder_touch_nothing(cli, workdir, run_id):
    sentinel = workdir.parent / "sentinel"
    sentinel.mkdir(exist_ok=True)
    (sentinel / "keep.txt").write_text("keep")
    run_id = str(sentinel) if run_id == "SENTINEL" else run_id
    before = tree(workdir.parent)
    result = cli("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", run_id, "--force", workdir=workdir)
    one_line_error(result, "--run-id")
    assert tree(workdir.parent) == before and (sentinel / "keep.txt").read_text() == "keep"


@pytest.mark.parametrize("dataset", ["../data/demo", "/tmp", "demo/../demo", ".."])
def test_cli_dataset_names_are_single_folder_names(cli, workdir, dataset):
    before = tree(workdir.parent)
    one_line_error(cli("train-rlmrec", "-d", dataset, "--epochs", "1", workdir=workdir), "--dataset")
    assert tree(workdir.parent) == before


def test_default_run_ids_are_safe_names(tmp_path):
    paths = ["random:24", str(tmp_path / "my vectors"), "..", "/", "emb/../x y"]
    for embeddings in paths:
        req = request(align="con", embeddings=embeddings)
        run_dir = req.run_dir(tmp_path, train.default_run_id(req))
        assert run_dir.parent == tmp_path / "runs", embeddings
    assert train.default_run_id(request(align="con", embeddings="random:24")) == "demo-lightgcn-con-random24-s7"


def test_a_finished_run_is_not_replaced_without_force(workdir):
    first = train.run(request(epochs=1, run_id="keep-me"), workdir)
    with pytest.raises(LLMRecError, match="keep-me: a finished run .* --force .* another --run-id"):
        train.run(request(epochs=2, run_id="keep-me"), workdir)
    assert train.run(request(epochs=1, run_id="keep-me"), workdir).up_to_date
    again = train.run(request(epochs=2, run_id="keep-me", force=True), workdir)
    assert not again.up_to_date and artifacts.read_manifest(first.run_dir)["config"]["max_epochs"] == 2


def test_a_second_writer_of_the_same_run_is_refused(cli, workdir):
    from llmrec_cli.locks import folder_lock

    with folder_lock(workdir / "runs" / "busy"):
        result = cli("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "busy", "--force", workdir=workdir)
        one_line_error(result, "another process is writing", "busy", "(pid ")
        assert not (workdir / "runs" / "busy").exists()
    assert cli("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "busy", workdir=workdir).code == 0


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(workdir, monkeypatch):
    real = train.Trainer.train_epoch

    def nan_at_epoch_two(self):
        losses = real(self)
        return {**losses, "loss_bpr": float("nan")} if self.epoch == 2 else losses

    monkeypatch.setattr(train.Trainer, "train_epoch", nan_at_epoch_two)
    with pytest.raises(LLMRecError, match="epoch 2: training loss bpr=nan is not finite"):
        train.run(request(epochs=4, run_id="nan"), workdir)
    run_dir = workdir / "runs" / "nan"
    saved = RunCheckpoint(run_dir, {}, torch.device("cpu")).load()
    assert saved["epoch"] == 2 and [r["epoch"] for r in saved["history"]] == [0, 1]
    assert not (run_dir / artifacts.MANIFEST).exists()


def test_a_nan_step_stops_the_epoch_at_once(workdir, monkeypatch):
    real, steps = train.Trainer.step, []

    def nan_at_the_second_step_of_epoch_one(self, batch):
        steps.append(self.epoch)
        values = real(self, batch)
        return {**values, "bpr": float("nan")} if steps.count(1) == 2 and self.epoch == 1 else values

    monkeypatch.setattr(train.Trainer, "step", nan_at_the_second_step_of_epoch_one)
    with pytest.raises(LLMRecError, match="epoch 1: training loss bpr=nan is not finite"):
        train.run(request(epochs=3, run_id="nan-step"), workdir)
    assert steps.count(1) == 2  # no step after the bad one
    saved = RunCheckpoint(workdir / "runs" / "nan-step", {}, torch.device("cpu")).load()
    assert saved["epoch"] == 1


def vectors_folder(folder, n_users, n_items, bad_users=0, value=float("nan")):
    folder.mkdir(parents=True, exist_ok=True)
    for entity, n, bad in (("user", n_users, bad_users), ("item", n_items, 0)):
        arr = np.ones((n, 4), dtype=np.float32)
        arr[:bad, 1] = value
        df = pl.DataFrame({artifacts.entity_id(entity): np.arange(n, dtype=np.int32), "vector": arr})
        df.with_columns(pl.col("vector").cast(pl.Array(pl.Float32, 4))).write_parquet(folder / f"{entity}s.parquet")
    return folder


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_embeddings_with_nan_or_inf_are_refused(workdir, tmp_path, value):
    folder = vectors_folder(tmp_path / "emb", 400, 299, bad_users=3, value=value)
    with pytest.raises(LLMRecError, match="users.parquet: 3 of 400 user vectors hold NaN or infinite values"):
        semantic.load(str(folder), workdir, "demo", 400, 299, 7)
    semantic.load(str(vectors_folder(tmp_path / "good", 400, 299)), workdir, "demo", 400, 299, 7)


@pytest.mark.parametrize(
    "setting, fragment",
    [
        ("lrr=0.1", "did you mean lr"),
        ("layer=2", "did you mean layers"),
        ("lr=abc", "expected a number"),
        ("batch_size=0", "greater than 0"),
        ("max_epochs=-5", ">= 0"),
        ("layers=2.5", "whole number"),
        ("lr=nan", "finite"),
        ("keep_rate=1.5", "at most 1"),
        ("ks=[0]", "greater than 0"),
        ("mask_ratio=0.1", "not a setting"),
    ],
)
def test_cli_set_keys_and_values_are_checked(cli, workdir, setting, fragment):
    before = tree(workdir.parent)
    one_line_error(cli("train-rlmrec", "-d", "demo", "--set", setting, workdir=workdir), "--set", fragment)
    assert tree(workdir.parent) == before


def test_semantic_only_configs_do_not_move_with_new_recipe_tables():
    semantic = config.resolve("semantic", "none", "amazon-book")
    assert semantic == {
        "embedding_dim": 32,
        "lr": 1e-3,
        "batch_size": 4096,
        "max_epochs": 3000,
        "eval_every": 3,
        "patience": 5,
        "eval_batch_size": 1024,
        "ks": [5, 10, 20],
        "steam-text": {"min_epochs": 60},
        "backbone": "semantic",
        "align": "none",
        "config_family": "amazon-book",
    }  # as its runs recorded it


def test_known_settings_keep_the_resolved_config():
    plain = config.resolve("lightgcn", "con", "demo")
    assert config.resolve("lightgcn", "con", "demo", overrides={"kd_weight": 0, "min_epochs": 3, "lr": 1}) == {
        **plain,
        "kd_weight": 0,
        "min_epochs": 3,
        "lr": 1,
    }  # values recorded as given: config hashes do not move
    with pytest.raises(LLMRecError, match="did you mean"):
        config.resolve("semantic", "none", "demo", overrides={"kss": [5]})


@pytest.mark.parametrize("option", [("--epochs", "0"), ("--epochs", "-5")])
def test_cli_epochs_below_one_are_refused(cli, workdir, option):
    assert cli("train-rlmrec", "-d", "demo", *option, workdir=workdir).code == 2


# ------------------------------------------------------------------------------------------------ default run ids
def id_of(align="none", changed=None, embeddings=None):
    hp = config.resolve("lightgcn", align, "demo")
    return train.default_run_id(
        train.TrainRequest(dataset="demo", hp=hp, embeddings=embeddings, changed=changed or {}, seed=3)
    )


def test_the_default_run_id_names_every_changed_setting():
    assert id_of() == "demo-lightgcn-none-s3"
    assert id_of(changed={"max_epochs": 2, "lr": 0.01}) == "demo-lightgcn-none-lr=0.01-max_epochs=2-s3"
    assert id_of("con", {"kd_weight": 0}, "emb/all-minilm-l6-v2") == "demo-lightgcn-con-all-minilm-l6-v2-w0-s3"
    assert id_of("con", {"kd_weight": 0.1}, "random:24") == "demo-lightgcn-con-random24-kd_weight=0.1-s3"
    long = {f"setting_{i}": i for i in range(8)}
    assert id_of(changed=long) == f"demo-lightgcn-none-c{artifacts.config_hash(long)[:8]}-s3"


def test_changed_lists_what_differs_from_the_configs():
    defaults = config.resolve("lightgcn", "con", "demo")
    hp = config.resolve("lightgcn", "con", "demo", overrides={"kd_weight": 0, "max_epochs": 3000, "min_epochs": 4})
    assert config.changed(hp, defaults) == {"kd_weight": 0, "min_epochs": 4}  # max_epochs 3000 is the config's own


def test_the_same_vectors_at_another_path_are_the_same_run(workdir, tmp_path):
    import shutil

    vectors = vectors_folder(tmp_path / "emb", 400, 299)
    first = train.run(request("lightgcn", "con", epochs=1, run_id="by-content", embeddings=str(vectors)), workdir)
    moved = Path(shutil.copytree(vectors, tmp_path / "elsewhere" / "emb"))
    again = train.run(request("lightgcn", "con", epochs=1, run_id="by-content", embeddings=str(moved)), workdir)
    assert again.up_to_date and again.metrics == first.metrics  # same bytes, other path: nothing to redo
    vectors_folder(moved, 400, 299, bad_users=400, value=2.0)  # other vectors: another run
    with pytest.raises(LLMRecError, match="a finished run with other options or inputs"):
        train.run(request("lightgcn", "con", epochs=1, run_id="by-content", embeddings=str(moved)), workdir)

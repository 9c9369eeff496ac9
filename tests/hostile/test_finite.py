"""Finite-value guards through the real CLI (issue 17): a NaN or infinite loss stops training with one line and
keeps the last good checkpoint (a --resume then ends as an uninterrupted run), and NaN/inf/missing ratings, ids and
vectors are refused where they enter (prepare, profile --import, embed, train, evaluate)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from llmrec_cli import artifacts
from llmrec_cli.runs import RunCheckpoint

sys.path.insert(0, str(Path(__file__).parents[1] / "cllm4rec"))  # the toy CLLM4Rec dataset
sys.path.insert(0, str(Path(__file__).parents[1] / "profile"))  # the tiny prepared dataset

from cllm4rec_toy import tiny_train_args, write_toy_dataset  # noqa: E402
from hostile_checks import one_line_error  # noqa: E402
from tiny_data import make_tiny_dataset  # noqa: E402

NAN = float("nan")


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: threads only cost time


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())["metrics"]


def poison_nth_call(monkeypatch, cls, method: str, n: int, poison):
    """cls.method's n-th call (1-based) returns poison(real result): a real NaN, whose backward step also turns the
    weights into NaN, as a diverging run does. Returns the call counter."""
    real = getattr(cls, method)
    calls = {"n": 0}

    def patched(self, *args, **kwargs):
        calls["n"] += 1
        out = real(self, *args, **kwargs)
        return poison(out) if calls["n"] == n else out

    monkeypatch.setattr(cls, method, patched)
    return calls


# ------------------------------------------------------------------------------------------------ training losses
@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("finite-toy")
    write_toy_dataset(work, "toy", reviews=True)
    return work


CLLM4REC_ARGS = tiny_train_args(4)


def test_cllm4rec_nan_loss_mid_pass_keeps_the_last_mid_pass_checkpoint(cli, toy, monkeypatch):
    """The collab pass has 3 batches and a checkpoint is written after each (checkpoint_seconds 0): the NaN at batch
    2 must stop the run before its mid-pass write, so checkpoint.pt holds the state after batch 1."""
    from llmrec_cli.cllm4rec import model as cllm_model
    from llmrec_cli.cllm4rec import train

    args = [*CLLM4REC_ARGS, "--stage", "pretrain"]
    straight = cli(*args, "--run-id", "straight", workdir=toy)
    assert straight.code == 0, straight.err

    real_run = train.run
    monkeypatch.setattr(
        train, "run", lambda req, *a, **kw: real_run(dataclasses.replace(req, checkpoint_seconds=0.0), *a, **kw)
    )
    poison_nth_call(monkeypatch, cllm_model.CLLM4Rec, "collaborative_loss", 2, lambda loss: loss * NAN)
    failed = cli(*args, "--run-id", "nan", workdir=toy)
    run_dir = toy / "runs" / "nan"
    one_line_error(
        failed,
        str(run_dir),
        "training loss lm=nan",
        "is not finite at pretrain 1/1 collab, batch 2 of 3",
        "checkpoint.pt keeps the last good state (pretrain 1/1 collab, after batch 1) for --resume",
        "lower --lr-pretrain",
    )
    saved = RunCheckpoint(run_dir, {}, torch.device("cpu")).load()
    assert saved["cursor"] == {"pass": 0, "batch": 1} and saved["history"] == []
    assert all(torch.isfinite(t).all() for side in saved["tables"].values() for t in side.values())
    assert not (run_dir / artifacts.MANIFEST).exists()

    monkeypatch.undo()  # the loss is sound again: --resume continues from batch 2 and ends as the straight run
    resumed = cli(*args, "--run-id", "nan", "--resume", workdir=toy)
    assert resumed.code == 0, resumed.err
    assert metrics(run_dir) == metrics(toy / "runs" / "straight")
    assert not (run_dir / "checkpoint.pt").exists()


def test_cllm4rec_nan_in_finetuning_names_the_finetuning_rate(cli, toy, monkeypatch):
    from llmrec_cli.cllm4rec import model as cllm_model

    poison_nth_call(monkeypatch, cllm_model.CLLM4Rec, "multinomial_loss", 1, lambda loss: loss + float("inf"))
    failed = cli(*CLLM4REC_ARGS, "--run-id", "inf-rec", workdir=toy)
    one_line_error(failed, "training loss lm=inf", "finetune 1/1 rec, batch 1 of 3", "(before finetune 1/1 rec)")
    one_line_error(failed, "lower --lr-finetune")


def test_multivae_nan_loss_keeps_the_last_epoch_and_resume_matches(cli, toy, monkeypatch):
    from llmrec_cli.cllm4rec import multivae

    args = ["train-baseline", "--dataset", "toy", "--epochs", "3", "--batch-size", "5", "--set", "hidden=16"]
    straight = cli(*args, "--run-id", "vae", workdir=toy)
    assert straight.code == 0, straight.err
    # 12 users in batches of 5: 3 batches an epoch; call 5 is epoch 1, batch 2
    poison_nth_call(monkeypatch, multivae.MultiVAE, "loss", 5, lambda out: (out[0] * NAN, out[1]))
    failed = cli(*args, "--run-id", "vae-nan", workdir=toy)
    run_dir = toy / "runs" / "vae-nan"
    one_line_error(
        failed,
        "training loss nll=nan is not finite at epoch 1, batch 2 of 3",
        "checkpoint.pt keeps the last good state (after epoch 0) for --resume",
        "lower --lr",
    )
    saved = RunCheckpoint(run_dir, {}, torch.device("cpu")).load()
    assert saved["epoch"] == 1 and [row["epoch"] for row in saved["history"]] == [0]
    monkeypatch.undo()
    resumed = cli(*args, "--run-id", "vae-nan", "--resume", workdir=toy)
    assert resumed.code == 0, resumed.err
    assert metrics(run_dir) == metrics(toy / "runs" / "vae")


def test_multivae_nan_in_the_first_epoch_saves_nothing(cli, toy, monkeypatch):
    from llmrec_cli.cllm4rec import multivae

    poison_nth_call(monkeypatch, multivae.MultiVAE, "loss", 1, lambda out: (out[0], out[1] * NAN))
    failed = cli("train-baseline", "--dataset", "toy", "--epochs", "2", "--run-id", "vae-first", workdir=toy)
    one_line_error(failed, "training loss kl=nan is not finite at epoch 0, batch 1 of 1", "nothing was saved yet")
    assert not (toy / "runs" / "vae-first" / "checkpoint.pt").exists()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from llmrec_cli.data import prepare

    work = tmp_path_factory.mktemp("finite-demo")
    prepare.run(prepare.config_from_recipe("demo", None, {}), work)
    return work


RLMREC_ARGS = ["train-rlmrec", "-d", "demo", "--epochs", "2"]


def test_rlmrec_nan_loss_keeps_the_last_epoch_and_resume_matches(cli, demo, monkeypatch):
    from llmrec_cli.rlmrec import train

    straight = cli(*RLMREC_ARGS, "--run-id", "straight", workdir=demo)
    assert straight.code == 0, straight.err
    real_step = train.Trainer.step

    def step(self, batch):  # the first batch of epoch 1 gets a NaN BPR loss (and so NaN gradients and weights)
        if self.epoch != 1 or getattr(self, "_poisoned", False):
            return real_step(self, batch)
        self._poisoned = True
        real_loss = self.model.loss

        def nan_loss(*args):
            parts, final = real_loss(*args)
            return {k: v * NAN for k, v in parts.items()}, final

        self.model.loss = nan_loss
        try:
            return real_step(self, batch)
        finally:
            del self.model.loss

    monkeypatch.setattr(train.Trainer, "step", step)
    failed = cli(*RLMREC_ARGS, "--run-id", "nan", workdir=demo)
    run_dir = demo / "runs" / "nan"
    one_line_error(failed, "epoch 1: training loss bpr=nan", "is not finite", "lower the learning rate")
    saved = RunCheckpoint(run_dir, {}, torch.device("cpu")).load()
    assert saved["epoch"] == 1 and [row["epoch"] for row in saved["history"]] == [0]
    monkeypatch.undo()
    resumed = cli(*RLMREC_ARGS, "--run-id", "nan", "--resume", workdir=demo)
    assert resumed.code == 0, resumed.err
    assert metrics(run_dir) == metrics(demo / "runs" / "straight")


# ------------------------------------------------------------------------------------------------ vectors
def vectors_folder(folder: Path, n_users: int, n_items: int, bad_users=(), value=NAN) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for entity, n, bad in (("user", n_users, list(bad_users)), ("item", n_items, [])):
        arr = np.ones((n, 4), dtype=np.float32)
        arr[bad, 2] = value
        df = pl.DataFrame({artifacts.entity_id(entity): np.arange(n, dtype=np.int32), "vector": arr})
        df.with_columns(pl.col("vector").cast(pl.Array(pl.Float32, 4))).write_parquet(folder / f"{entity}s.parquet")
    return folder


@pytest.mark.parametrize("value", [NAN, float("-inf")])
def test_semantic_only_refuses_non_finite_profile_vectors(cli, demo, tmp_path, value):
    folder = vectors_folder(tmp_path / "emb", 400, 299, bad_users=(3, 5), value=value)
    result = cli("train-rlmrec", "-d", "demo", "--backbone", "semantic", "--embeddings", folder, workdir=demo)
    one_line_error(result, "users.parquet: 2 of 400 user vectors hold NaN or infinite values", "re-run embed")


def test_evaluate_refuses_a_run_whose_vectors_hold_nan(cli, demo, tmp_path):
    folder = vectors_folder(tmp_path / "emb", 400, 299)
    result = cli(
        "train-rlmrec", "-d", "demo", "--backbone", "semantic", "--embeddings", folder, "--run-id", "sem", workdir=demo
    )
    assert result.code == 0, result.err
    vectors_folder(tmp_path / "damaged", 400, 299, bad_users=(7,))
    (demo / "runs" / "sem" / "users.parquet").write_bytes((tmp_path / "damaged" / "users.parquet").read_bytes())
    one_line_error(
        cli("evaluate", "sem", "--force", workdir=demo),
        "users.parquet: 1 of 400 user vectors hold NaN or infinite values (e.g. user ids 7)",
        "--force",
    )


@pytest.fixture
def tiny(tmp_path) -> Path:
    workdir = tmp_path / "work"
    make_tiny_dataset(tmp_path / "raw", workdir)  # 30 users, 20 items
    return workdir


def write_profiles(folder: Path, users: dict, items: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(users).write_parquet(folder / "users.parquet")
    pl.DataFrame(items).write_parquet(folder / "items.parquet")
    return folder


def dense_profiles(n: int, entity: str) -> dict:
    return {f"{entity}_id": list(range(n)), "summarization": [f"{entity} {i} likes RPGs" for i in range(n)]}


def test_embed_refuses_an_encoder_that_returns_nan(cli, tiny, tmp_path, monkeypatch):
    from llmrec_cli.embed import stage

    source = write_profiles(tmp_path / "profiles", dense_profiles(30, "user"), dense_profiles(20, "item"))
    assert cli("profile", "--dataset", "tiny", "--import", source, workdir=tiny).code == 0

    class Diverging:  # a buggy model or server: finite vectors except for items 2 and 9
        model_id = "test/diverging"

        def encode_batches(self, batches, on_batch=None):
            out = []
            for batch in batches:
                matrix = np.ones((len(batch), 8), dtype=np.float32)
                for row, text in enumerate(batch):
                    if text in ("item 2 likes RPGs", "item 9 likes RPGs"):
                        matrix[row, 0] = NAN
                out.append(matrix)
            return out

    monkeypatch.setattr(stage, "create_encoder", lambda req: Diverging())
    result = cli("embed", "--dataset", "tiny", "--profiles", "imported", workdir=tiny)
    one_line_error(
        result,
        "the encoder test/diverging returned 2 of 20 item vectors with NaN or infinite values (e.g. item ids 2, 9)",
        "nothing was written",
    )
    assert not (tiny / "embeddings" / "tiny").exists() or not any((tiny / "embeddings" / "tiny").iterdir())


# ------------------------------------------------------------------------------------------------ ratings and ids
def test_prepare_refuses_nan_and_missing_user_ids(cli, tmp_path):
    """Numeric ids with NaN (polars reads the column as text because of the lower-case nan) and an empty cell."""
    src = tmp_path / "r.csv"
    src.write_text("uid,iid\n1,10\nNaN,11\n2,12\n,13\n3,14\nnan,15\n4,16\n")
    result = cli("prepare", "--source", src, "--user-col", "uid", "--item-col", "iid")
    one_line_error(
        result,
        f"--source {src}: column 'uid': 3 of 7 rows have no user id (empty or NaN)",
        "row 1: user=None, item='11'; row 3: user=None, item='13'; row 5:",
        "drop those rows",
    )
    assert not (tmp_path / "work" / "data").exists()


def test_prepare_refuses_nan_item_ids_in_parquet_and_keeps_a_real_id_spelled_nan(cli, tmp_path):
    src = tmp_path / "r.parquet"
    pl.DataFrame({"user_id": ["a", "a", "b", "NaN"], "item_id": [1.0, NAN, 2.0, 1.0]}).write_parquet(src)
    cols = ("--user-col", "user_id", "--item-col", "item_id")
    one_line_error(cli("prepare", "--source", src, *cols), "column 'item_id': 1 of 4 rows have no item id", "row 1:")
    pl.DataFrame({"user_id": ["a", "a", "b", "NaN"], "item_id": [1, 3, 2, 1]}).write_parquet(src)
    assert cli("prepare", "--source", src, *cols).code == 0  # "NaN" among text ids is an id like any other


@pytest.mark.parametrize("bad", ["inf", "-inf", "1e39"])
def test_prepare_refuses_infinite_ratings(cli, tmp_path, bad):
    """An infinite rating (1e39 overflows float32) passes every --min-rating: refused, with the rows named."""
    src = tmp_path / "r.csv"
    src.write_text(f"user_id,item_id,stars\na,x,5\na,y,{bad}\nb,x,4\nb,y,{bad}\n")
    cols = ("--user-col", "user_id", "--item-col", "item_id", "--rating-col", "stars")
    result = cli("prepare", "--source", src, *cols, "--min-rating", "3")
    one_line_error(
        result,
        "column 'stars': 2 of 4 rows have a rating that is missing, NaN or infinite (e.g. row 1:",
        "row 3: user='b', item='y', rating=",
        "fix or drop those rows",
    )


def test_profile_import_refuses_nan_and_missing_ids(cli, tiny, tmp_path):
    users, items = dense_profiles(30, "user"), dense_profiles(20, "item")
    raw_users = pl.read_parquet(tiny / "data" / "tiny" / "users.parquet")["raw_id"].to_list()
    by_raw = {"raw_id": raw_users[:29] + [None], "summarization": users["summarization"]}
    source = write_profiles(tmp_path / "raw-null", by_raw, items)
    one_line_error(
        cli("profile", "--dataset", "tiny", "--import", source, workdir=tiny),
        "users.parquet: column 'raw_id': 1 of 30 rows have no id (empty or NaN) (e.g. rows 29",
        "drop those rows",
    )
    float_ids = {"user_id": [float(i) for i in range(28)] + [NAN, NAN], "summarization": users["summarization"]}
    source = write_profiles(tmp_path / "dense-nan", float_ids, items)
    one_line_error(
        cli("profile", "--dataset", "tiny", "--import", source, workdir=tiny),
        "column 'user_id': 2 of 30 rows have no id (empty or NaN) (e.g. rows 28, 29",
    )
    fractional = {"user_id": [float(i) for i in range(29)] + [1.5], "summarization": users["summarization"]}
    source = write_profiles(tmp_path / "dense-half", fractional, items)
    one_line_error(
        cli("profile", "--dataset", "tiny", "--import", source, workdir=tiny),
        "1 ids that are not whole numbers (e.g. user_id 1.5)",
    )
    assert not (tiny / "profiles").exists()

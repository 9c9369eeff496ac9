"""What the training stages share (runs.py): request field order, the run folder's life cycle, the checkpoint."""

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.runs import (
    CHECKPOINT,
    RunCheckpoint,
    RunOptions,
    history_frame,
    load_torch,
    prepare_run_dir,
    run_folder,
)

CONFIG = {"lr": 0.1}


@dataclass(kw_only=True)
class ToyRequest(RunOptions):
    dataset: str
    hp: dict


def test_requests_take_keywords_only():
    with pytest.raises(TypeError):
        ToyRequest("demo", {"lr": 1})
    req = ToyRequest(dataset="demo", hp={"lr": 1}, seed=7, device="cpu", run_id="r", resume=True)
    assert (req.dataset, req.hp, req.seed, req.device, req.run_id, req.resume, req.force) == (
        "demo",
        {"lr": 1},
        7,
        "cpu",
        "r",
        True,
        False,
    )
    assert req.run_dir("w", "default") == ToyRequest(dataset="demo", hp={}, run_id="r").run_dir("w", "x")
    assert ToyRequest(dataset="demo", hp={}).run_dir("w", "default").parts[-2:] == ("runs", "default")


def unfinished_run(run_dir, config=CONFIG):
    run_dir.mkdir(parents=True)
    RunCheckpoint(run_dir, config, torch.device("cpu")).save({"epoch": 3})


def test_unfinished_run_needs_resume_and_the_same_config(tmp_path):
    run_dir = tmp_path / "run"
    unfinished_run(run_dir)
    with pytest.raises(LLMRecError, match="--resume"):
        prepare_run_dir(run_dir, CONFIG, ToyRequest(dataset="demo", hp={}))
    with pytest.raises(LLMRecError, match="different config"):
        prepare_run_dir(run_dir, {"lr": 0.2}, ToyRequest(dataset="demo", hp={}, resume=True))
    prepare_run_dir(run_dir, CONFIG, ToyRequest(dataset="demo", hp={}, resume=True))
    assert (run_dir / CHECKPOINT).exists()


def finished_run(run_dir, stage="train-rlmrec"):
    run_dir.mkdir(parents=True, exist_ok=True)
    artifacts.write_json({"stage": stage}, run_dir / artifacts.MANIFEST)
    (run_dir / "metrics.json").write_text("{}")


def test_force_clears_a_run_and_a_finished_run_is_kept_without_it(tmp_path):
    run_dir = tmp_path / "run"
    unfinished_run(run_dir)
    prepare_run_dir(run_dir, CONFIG, ToyRequest(dataset="demo", hp={}, force=True))
    assert run_dir.is_dir() and not any(run_dir.iterdir())
    finished_run(run_dir)
    with pytest.raises(LLMRecError, match="finished run .* --force .* another --run-id"):
        prepare_run_dir(run_dir, CONFIG, ToyRequest(dataset="demo", hp={}))
    assert (run_dir / "metrics.json").exists()
    prepare_run_dir(run_dir, CONFIG, ToyRequest(dataset="demo", hp={}, force=True))
    assert run_dir.is_dir() and not any(run_dir.iterdir())


@pytest.mark.parametrize("content", ["user files", "foreign manifest", "broken manifest"])
def test_force_never_removes_a_folder_no_training_stage_made(tmp_path, content):
    run_dir = tmp_path / "runs" / "mine"
    run_dir.mkdir(parents=True)
    (run_dir / "notes.txt").write_text("keep me")
    if content == "foreign manifest":
        artifacts.write_json({"stage": "prepare"}, run_dir / artifacts.MANIFEST)
    elif content == "broken manifest":
        (run_dir / artifacts.MANIFEST).write_text("{not json")
    with pytest.raises(LLMRecError, match="not a run folder"):
        prepare_run_dir(run_dir, CONFIG, ToyRequest(dataset="demo", hp={}, force=True))
    assert (run_dir / "notes.txt").read_text() == "keep me"


def test_force_never_follows_a_link(tmp_path):
    outside = tmp_path / "outside"
    finished_run(outside)
    (tmp_path / "runs").mkdir()
    link = tmp_path / "runs" / "link"
    link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(LLMRecError, match="not a run folder"):
        prepare_run_dir(link, CONFIG, ToyRequest(dataset="demo", hp={}, force=True))
    assert (outside / "metrics.json").exists()


def test_force_clears_a_run_that_stopped_before_its_first_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".checkpoint.pt.tmp-12-34").write_bytes(b"partial")
    prepare_run_dir(run_dir, CONFIG, ToyRequest(dataset="demo", hp={}, force=True))
    assert run_dir.is_dir() and not any(run_dir.iterdir())


@pytest.mark.parametrize("run_id", ["../x", "/tmp/x", "a/b", "..", ".", "", "-x", "a b"])
def test_run_ids_are_single_folder_names(run_id):
    with pytest.raises(LLMRecError, match="--run-id"):
        ToyRequest(dataset="demo", hp={}, run_id=run_id)
    with pytest.raises(LLMRecError, match="--run-id"):
        run_folder("w", run_id)
    assert run_folder("w", "demo-lightgcn-con-s1@2+x=y") == Path("w/runs/demo-lightgcn-con-s1@2+x=y")


def test_checkpoint_round_trip_restores_every_rng(tmp_path):
    generator = torch.Generator().manual_seed(1)
    checkpoint = RunCheckpoint(tmp_path, CONFIG, torch.device("cpu"), generator)
    assert checkpoint.load() is None
    checkpoint.save({"epoch": 2, "weights": torch.ones(3)})
    draws = torch.rand(2), np.random.rand(2), torch.rand(2, generator=generator)
    saved = checkpoint.load()
    assert saved["epoch"] == 2 and torch.equal(saved["weights"], torch.ones(3))
    assert saved["config_sha256"] == artifacts.config_hash(CONFIG)
    again = torch.rand(2), np.random.rand(2), torch.rand(2, generator=generator)
    assert torch.equal(draws[0], again[0]) and np.array_equal(draws[1], again[1]) and torch.equal(draws[2], again[2])
    checkpoint.remove()
    assert not (tmp_path / CHECKPOINT).exists()


def test_checkpoint_reads_the_older_multivae_layout(tmp_path):
    """Multi-VAE checkpoints written before runs.py kept the RNG states at the top level."""
    state = torch.get_rng_state()
    torch.save(
        {"epoch": 1, "config_sha256": artifacts.config_hash(CONFIG), "torch_rng": state, "cuda_rng": None},
        tmp_path / CHECKPOINT,
    )
    expected = torch.rand(3)
    saved = RunCheckpoint(tmp_path, CONFIG, torch.device("cpu")).load()
    assert saved["epoch"] == 1 and torch.equal(torch.rand(3), expected)


def test_history_frame_types():
    df = history_frame([{"epoch": 0, "seconds": 1, "loss_bpr": 0.5}, {"epoch": 1, "seconds": 2.5, "loss_bpr": 0.4}])
    assert df.schema["epoch"] == pl.Int32 and df.schema["seconds"] == pl.Float64 and df.height == 2
    assert history_frame([]).height == 0


def test_checkpoint_holds_no_numpy_object(tmp_path):
    RunCheckpoint(tmp_path, CONFIG, torch.device("cpu")).save({"epoch": 1})
    saved = torch.load(tmp_path / CHECKPOINT, weights_only=True)  # no allow-list needed
    assert isinstance(saved["rng"]["numpy"][1], list) and len(saved["rng"]["numpy"][1]) == 624


def test_checkpoint_written_before_keeps_loading(tmp_path):
    """Checkpoints of the code before this change hold np.random.get_state() with its ndarray."""
    np.random.seed(5)
    legacy = {
        "epoch": 4,
        "config_sha256": artifacts.config_hash(CONFIG),
        "rng": {"torch": torch.get_rng_state(), "cuda": None, "numpy": np.random.get_state(), "generator": None},
    }
    torch.save(legacy, tmp_path / CHECKPOINT)
    expected = np.random.rand(3)
    np.random.seed(99)
    prepare_run_dir(tmp_path, CONFIG, ToyRequest(dataset="demo", hp={}, resume=True))
    saved = RunCheckpoint(tmp_path, CONFIG, torch.device("cpu")).load()
    assert saved["epoch"] == 4 and np.array_equal(np.random.rand(3), expected)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("name", [CHECKPOINT, "model.pt"])
def test_a_crafted_checkpoint_is_refused_and_nothing_runs(tmp_path, name):
    marker = tmp_path / "ran"
    torch.save({"epoch": 1, "x": _Payload(marker)}, tmp_path / name)
    with pytest.raises(LLMRecError, match=f"{name}: refused.*nothing from it was run") as err:
        load_torch(tmp_path / name)
    assert "\n" not in str(err.value) and "system" in str(err.value)
    assert not marker.exists()


def test_a_crafted_checkpoint_is_refused_on_resume(tmp_path):
    marker = tmp_path / "ran"
    with open(tmp_path / CHECKPOINT, "wb") as fh:  # a plain pickle, not even a torch archive
        pickle.dump(_Payload(marker), fh)
    with pytest.raises(LLMRecError, match=CHECKPOINT):
        prepare_run_dir(tmp_path, CONFIG, ToyRequest(dataset="demo", hp={}, resume=True))
    with pytest.raises(LLMRecError, match=CHECKPOINT):
        RunCheckpoint(tmp_path, CONFIG, torch.device("cpu")).load()
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a checkpoint"])
def test_an_empty_or_broken_checkpoint_is_one_clear_error(tmp_path, content):
    (tmp_path / CHECKPOINT).write_bytes(content)
    with pytest.raises(LLMRecError, match="not a readable checkpoint"):
        RunCheckpoint(tmp_path, CONFIG, torch.device("cpu")).load()


def test_non_finite_names_the_first_bad_tensor_and_ignores_plain_floats():
    from llmrec_cli.runs import non_finite

    good = {"model": {"w": torch.ones(2), "step": torch.tensor(3)}, "history": [{"valid_recall@20": float("nan")}]}
    assert non_finite(good) is None
    bad = {**good, "optimizer": {"state": {0: {"exp_avg": torch.tensor([1.0, float("inf")])}}}}
    assert non_finite(bad) == "optimizer.state.0.exp_avg"
    half = torch.tensor([float("nan")], dtype=torch.bfloat16)
    assert non_finite({"best": None, "tables": [torch.zeros(1), half]}) == "tables[1]"


def test_a_state_with_nan_weights_is_never_saved_and_the_last_good_checkpoint_stays(tmp_path):
    checkpoint = RunCheckpoint(tmp_path, CONFIG, torch.device("cpu"), fix="lower --lr")
    with pytest.raises(LLMRecError, match=r"model\.w\); stopped before saving it, nothing was saved yet; lower --lr"):
        checkpoint.save({"epoch": 1, "model": {"w": torch.tensor([float("nan")])}})
    assert not (tmp_path / CHECKPOINT).exists()
    checkpoint.save({"epoch": 1, "model": {"w": torch.ones(1)}})
    with pytest.raises(LLMRecError, match="holds NaN or infinite values .* checkpoint.pt keeps the last good state"):
        checkpoint.save({"epoch": 2, "model": {"w": torch.tensor([float("-inf")])}})
    assert checkpoint.load()["epoch"] == 1
    assert checkpoint.kept("after epoch 0") == "checkpoint.pt keeps the last good state (after epoch 0) for --resume"


def test_finish_run_writes_the_metrics_then_the_manifest_that_marks_the_run_finished(tmp_path):
    import json
    from types import SimpleNamespace

    from llmrec_cli.runs import RunEnding, finish_run

    (tmp_path / "inputs.parquet").write_bytes(b"x")
    ending = RunEnding(
        stage="train-baseline",
        model="most-popular",
        recall_denominator="min_k",
        ks=[10, 20],
        test={"recall@20": 0.5},
        valid={"recall@20": 0.4},
        config={"dataset": "toy"},
        inputs=[tmp_path / "inputs.parquet"],
        outputs=["metrics.json"],
        counts={"users": 3},
        wall_seconds=1.25,
        extra={"kind": "vectors"},
        training={"best_epoch": 7},
    )
    finish_run(tmp_path, SimpleNamespace(name="toy", manifest_sha256="abc"), ending)
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert list(doc) == [
        "split", "model", "dataset", "dataset_manifest_sha256", "recall_denominator", "ks", "metrics",
        "valid_metrics", "best_epoch", "config",
    ]  # fmt: skip
    assert doc["ks"] == [10, 20] and doc["metrics"] == {"recall@20": 0.5} and doc["dataset_manifest_sha256"] == "abc"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["stage"] == "train-baseline" and manifest["kind"] == "vectors"
    assert manifest["counts"] == {"users": 3} and manifest["wall_seconds"] == 1.25
    assert list(manifest["inputs"]) == [str((tmp_path / "inputs.parquet").resolve())]
    assert (tmp_path / "manifest.json").stat().st_mtime_ns >= (tmp_path / "metrics.json").stat().st_mtime_ns

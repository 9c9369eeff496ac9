"""What the training stages share (runs.py): request field order, the run folder's life cycle, the checkpoint."""

from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest
import torch

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.runs import CHECKPOINT, RunCheckpoint, RunOptions, history_frame, prepare_run_dir

CONFIG = {"lr": 0.1}


@dataclass
class _ToyFields:
    dataset: str
    hp: dict


@dataclass
class ToyRequest(RunOptions, _ToyFields):
    pass


def test_run_options_come_after_the_stage_fields():
    req = ToyRequest("demo", {"lr": 1}, 7, "cpu", "r", True, False)
    assert (req.dataset, req.hp, req.seed, req.device, req.run_id, req.resume, req.force) == ("demo", {"lr": 1}, 7, "cpu", "r", True, False)
    assert req.run_dir("w", "default") == ToyRequest("demo", {}, run_id="r").run_dir("w", "x")
    assert ToyRequest("demo", {}).run_dir("w", "default").parts[-2:] == ("runs", "default")


def unfinished_run(run_dir, config=CONFIG):
    run_dir.mkdir(parents=True)
    RunCheckpoint(run_dir, config, torch.device("cpu")).save({"epoch": 3})


def test_unfinished_run_needs_resume_and_the_same_config(tmp_path):
    run_dir = tmp_path / "run"
    unfinished_run(run_dir)
    with pytest.raises(LLMRecError, match="--resume"):
        prepare_run_dir(run_dir, CONFIG, ToyRequest("demo", {}))
    with pytest.raises(LLMRecError, match="different config"):
        prepare_run_dir(run_dir, {"lr": 0.2}, ToyRequest("demo", {}, resume=True))
    prepare_run_dir(run_dir, CONFIG, ToyRequest("demo", {}, resume=True))
    assert (run_dir / CHECKPOINT).exists()


def test_force_clears_and_a_finished_run_starts_over(tmp_path):
    run_dir = tmp_path / "run"
    unfinished_run(run_dir)
    prepare_run_dir(run_dir, CONFIG, ToyRequest("demo", {}, force=True))
    assert run_dir.is_dir() and not any(run_dir.iterdir())
    artifacts.write_json({"stage": "x"}, run_dir / artifacts.MANIFEST)
    (run_dir / "metrics.json").write_text("{}")
    prepare_run_dir(run_dir, CONFIG, ToyRequest("demo", {}))
    assert run_dir.is_dir() and not any(run_dir.iterdir())


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
    torch.save({"epoch": 1, "config_sha256": artifacts.config_hash(CONFIG), "torch_rng": state, "cuda_rng": None}, tmp_path / CHECKPOINT)
    expected = torch.rand(3)
    saved = RunCheckpoint(tmp_path, CONFIG, torch.device("cpu")).load()
    assert saved["epoch"] == 1 and torch.equal(torch.rand(3), expected)


def test_history_frame_types():
    df = history_frame([{"epoch": 0, "seconds": 1, "loss_bpr": 0.5}, {"epoch": 1, "seconds": 2.5, "loss_bpr": 0.4}])
    assert df.schema["epoch"] == pl.Int32 and df.schema["seconds"] == pl.Float64 and df.height == 2
    assert history_frame([]).height == 0

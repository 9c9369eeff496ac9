"""What the training stages share (train-rlmrec, train-cllm4rec, train-baseline): the options every request ends
with, the result every run returns, the run folder's life cycle, the resumable checkpoint and the run outputs.

A run lives in ``<workdir>/runs/<run-id>/``. While it trains, ``checkpoint.pt`` holds the trainer's state, the hash
of the config that produced it and every RNG state, written atomically after each epoch (or pass); ``--resume``
loads it back. A finished run has a manifest and no checkpoint.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import torch

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError

CHECKPOINT = "checkpoint.pt"


# ------------------------------------------------------------------------------------------------ requests / results
@dataclass
class RunOptions:
    """The options every training request ends with.

    A request inherits this class *first* and its stage-specific fields from a second base, e.g.
    ``class TrainRequest(RunOptions, _TrainFields)``: dataclasses order fields from the last base to the first, so
    the stage's own fields come first and ``Request(dataset, hp, ..., seed, device, run_id, resume, force)`` keeps
    its positional order.
    """

    seed: int = 2023
    device: str = "auto"
    run_id: str | None = None
    resume: bool = False
    force: bool = False

    def run_dir(self, workdir: Path, default_id: str) -> Path:
        """``<workdir>/runs/<run_id or default_id>``."""
        return Path(workdir) / "runs" / (self.run_id or default_id)


@dataclass
class RunResult:
    run_dir: Path
    up_to_date: bool
    metrics: dict = field(default_factory=dict)  # test metrics of the selected state
    best_epoch: int = -1
    seconds: float = 0.0  # wall time of the training (0 when up to date)


# ------------------------------------------------------------------------------------------------ the run folder
def prepare_run_dir(run_dir: Path, config: dict, options: RunOptions) -> None:
    """Make ``run_dir`` ready to train into: ``--force`` clears it; an unfinished run (a checkpoint) needs
    ``--resume`` and the same config; a finished run whose inputs or config changed is cleared."""
    checkpoint = run_dir / CHECKPOINT
    if options.force and run_dir.exists():
        shutil.rmtree(run_dir)
    elif checkpoint.exists():
        _check_resumable(run_dir, config, options.resume)
    elif (run_dir / artifacts.MANIFEST).exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


def _check_resumable(run_dir: Path, config: dict, resume: bool) -> None:
    checkpoint = run_dir / CHECKPOINT
    if not resume:
        raise LLMRecError(f"{run_dir}: an unfinished run is there ({CHECKPOINT}); pass --resume to continue it or --force to start over")
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if saved.get("config_sha256") != artifacts.config_hash(config):
        raise LLMRecError(f"{checkpoint}: was written with a different config; rerun with the same options or use --force")


# ------------------------------------------------------------------------------------------------ the checkpoint
class RunCheckpoint:
    """``checkpoint.pt`` of one run: the trainer's state plus the config hash and the RNG states (torch, CUDA on a
    CUDA device, numpy's global one and the trainer's own ``generator`` if it has one)."""

    def __init__(self, run_dir: Path, config: dict, device: torch.device, generator: torch.Generator | None = None):
        self.path = Path(run_dir) / CHECKPOINT
        self.config_sha256 = artifacts.config_hash(config)
        self.device, self.generator = device, generator

    def save(self, state: dict) -> None:
        """Write ``state`` (tensors, optimiser states, history, ...) atomically, with the config hash and RNG states."""
        payload = {**state, "config_sha256": self.config_sha256, "rng": self._rng_states()}
        with artifacts.atomic_path(self.path) as tmp:
            torch.save(payload, tmp)

    def load(self, map_location: str | torch.device = "cpu") -> dict | None:
        """The saved state with the RNG states restored, or None when there is no checkpoint."""
        if not self.path.exists():
            return None
        saved = torch.load(self.path, map_location=map_location, weights_only=False)
        self._restore_rng(_saved_rng(saved))
        return saved

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def _rng_states(self) -> dict:
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            "numpy": np.random.get_state(),
            "generator": self.generator.get_state() if self.generator is not None else None,
        }

    def _restore_rng(self, rng: dict) -> None:
        torch.set_rng_state(rng["torch"].cpu())
        if rng.get("cuda") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        if rng.get("numpy") is not None:
            np.random.set_state(rng["numpy"])
        if rng.get("generator") is not None and self.generator is not None:
            self.generator.set_state(rng["generator"].cpu())


def _saved_rng(saved: dict) -> dict:
    """The RNG states of a checkpoint; Multi-VAE checkpoints written before this module kept them at the top level."""
    if "rng" in saved:
        return saved["rng"]
    return {"torch": saved["torch_rng"], "cuda": saved.get("cuda_rng")}


# ------------------------------------------------------------------------------------------------ outputs
def write_vectors(run_dir: Path, users: torch.Tensor, items: torch.Tensor) -> None:
    """``users.parquet`` and ``items.parquet``: one float32 vector per entity, by dense id."""
    for entity, table in (("user", users), ("item", items)):
        arr = table.detach().float().cpu().numpy()
        df = pl.DataFrame(
            {artifacts.entity_id(entity): np.arange(arr.shape[0], dtype=np.int32), "vector": arr}
        ).with_columns(pl.col("vector").cast(pl.Array(pl.Float32, arr.shape[1])))
        artifacts.write_parquet(df, run_dir / f"{entity}s.parquet", artifacts.vectors_schema(entity))


def history_frame(rows: list[dict]) -> pl.DataFrame:
    """The per-epoch (or per-pass) history rows as the ``history.parquet`` frame (epoch Int32, seconds Float64)."""
    df = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame({"epoch": [], "seconds": []})
    casts = [pl.col("epoch").cast(pl.Int32), pl.col("seconds").cast(pl.Float64)]
    return df.with_columns(casts)


def write_history(run_dir: Path, rows: list[dict]) -> None:
    artifacts.write_parquet(history_frame(rows), run_dir / "history.parquet", artifacts.HISTORY)

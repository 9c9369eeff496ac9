"""Most-popular baseline: every user gets the items with the most training interactions (training items masked).

Stored as an ordinary vectors run, exactly: user vectors are [1] and item vectors are [count_j], so the evaluator's
dot product score(u, j) = count_j. `llmrec evaluate` then scores it through the unchanged vectors path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from llmrec_cli import artifacts
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.evaluate.scoring import evaluate_vectors
from llmrec_cli.locks import folder_lock
from llmrec_cli.rlmrec.train import write_vectors
from llmrec_cli.runs import RunEnding, RunOptions, finish_run, prepare_run_dir

STAGE = "train-baseline"
KS = (20, 40, 100)


def popularity_vectors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    _, items = dataset.pairs("train")
    counts = np.bincount(items, minlength=dataset.n_items).astype(np.float32)
    return torch.ones((dataset.n_users, 1)), torch.from_numpy(counts).unsqueeze(1)


def run(dataset_name: str, workdir: Path, run_id: str | None = None, force: bool = False) -> tuple[Path, dict, bool]:
    """Write the run folder; returns (run_dir, test metrics, up_to_date)."""
    options = RunOptions(run_id=run_id, force=force)
    ds = Dataset.load(workdir, dataset_name)
    run_dir = options.run_dir(workdir, f"{dataset_name}-most-popular")
    with folder_lock(run_dir):
        return _write(ds, run_dir, options)


def _write(ds: Dataset, run_dir: Path, options: RunOptions) -> tuple[Path, dict, bool]:
    config = {"dataset": ds.name, "model": "most-popular"}
    if not options.force and artifacts.up_to_date(run_dir, STAGE, config, ds.files()):
        return run_dir, artifacts.read_json(run_dir / "metrics.json").get("metrics", {}), True
    prepare_run_dir(run_dir, config, options)
    clock = artifacts.Stopwatch()
    with artifacts.staged_dir(run_dir) as tmp:
        users, items = popularity_vectors(ds)
        write_vectors(tmp, users, items)
        _, valid = evaluate_vectors(users, items, ds, "valid", KS, "min_k")
        _, test = evaluate_vectors(users, items, ds, "test", KS, "min_k")
        ending = RunEnding(
            stage=STAGE,
            model="most-popular",
            recall_denominator="min_k",
            ks=list(KS),
            test=test,
            valid=valid,
            config=config,
            inputs=ds.files(),
            outputs=["users.parquet", "items.parquet", "metrics.json"],
            counts={"users": ds.n_users, "items": ds.n_items},
            wall_seconds=clock.seconds,
            extra={"kind": "vectors", "scoring": "dot (popularity)"},
        )
        finish_run(tmp, ds, ending)
    return run_dir, test, False

"""The `evaluate` stage: full-rank metrics of one or more finished runs on the test (or validation) split.

A run folder holds its learned vectors (users.parquet, items.parquet: dot-product scoring) and a manifest naming
the dataset; runs whose manifest ``kind`` is in ``SCORERS`` (CLLM4Rec, Multi-VAE) are scored by their own model.
Writes ``per_user_<split>.parquet`` into each run folder and updates its ``metrics.json``: ``splits.<split>`` holds
that split's ks, recall denominator and metrics; the top-level ``metrics`` (with ``split: test``, ``ks``) stay the
test metrics the report reads, and ``valid_metrics`` stays what training measured on the validation split.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from llmrec_cli import artifacts
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.errors import LLMRecError
from llmrec_cli.evaluate.scoring import evaluate_scores, evaluate_vectors
from llmrec_cli.locks import folder_lock
from llmrec_cli.provenance import refuse_a_changed_split
from llmrec_cli.runtime import resolve_device
from llmrec_cli.workdir import Workdir

STAGE = "evaluate"

DEFAULT_KS = {"all": (5, 10, 20), "min_k": (20, 40, 100)}


@dataclass
class Evaluation:
    run_dir: Path
    model: str
    dataset: str
    split: str
    metrics: dict[str, float]
    n_users: int
    up_to_date: bool = False


# Runs whose scores are not a dot product of their vectors: manifest "kind" -> "module:function" returning a
# score_fn(user_batch) -> (B, J) scores, given (run_dir, manifest, dataset, device).
SCORERS = {
    "cllm4rec": "llmrec_cli.cllm4rec.train:scorer",
    "multivae": "llmrec_cli.cllm4rec.multivae:scorer",
}


def _scorer(kind: str):
    module, function = SCORERS[kind].split(":")
    return getattr(importlib.import_module(module), function)


def load_vectors(path: Path, entity: str) -> torch.Tensor:
    df = artifacts.read_parquet(path, artifacts.vectors_schema(entity)).sort(artifacts.entity_id(entity))
    vectors = np.array(df["vector"].to_numpy(), dtype=np.float32)
    bad = ~np.isfinite(vectors).reshape(len(vectors), -1).all(axis=1)
    if bad.any():  # NaN scores would rank arbitrarily and give plausible-looking metrics
        ids = ", ".join(str(i) for i in df[artifacts.entity_id(entity)].to_numpy()[bad][:3])
        raise LLMRecError(
            f"{path}: {int(bad.sum())} of {len(vectors)} {entity} vectors hold NaN or infinite values (e.g. "
            f"{entity} ids {ids}); the run's vectors are damaged: train the run again with --force"
        )
    return torch.from_numpy(vectors)


def run_one(
    run_dir: Path,
    workdir: Path,
    split: str = "test",
    ks=None,
    recall_denominator: str | None = None,
    device: str = "cpu",
    force: bool = False,
) -> Evaluation:
    """Evaluate one finished run (a folder, or a name under <workdir>/runs/) on ``device`` (auto, cpu, cuda, cuda:N).
    A run already evaluated on this split with these ks, from the same run and dataset manifests, is not evaluated
    again unless ``force``."""
    device = resolve_device(device)
    run_dir = Workdir.of(workdir).find(run_dir, "runs", hint=f"list runs with `ls {Workdir.of(workdir).runs}`")
    manifest = artifacts.read_manifest(run_dir)
    if manifest is None and (run_dir / artifacts.MANIFEST).is_file():
        raise LLMRecError(
            f"{run_dir / artifacts.MANIFEST}: damaged (not a JSON object of a finished run); train the run again "
            "with --force"
        )
    if manifest is None:
        raise LLMRecError(f"{run_dir}: no manifest.json, the run did not finish; resume it with --resume")
    dataset = Dataset.load(workdir, dataset_of(run_dir, manifest))
    refuse_a_changed_split(run_dir, manifest, dataset.folder)
    with folder_lock(run_dir):  # one writer per run folder: a training with --force, or another evaluate
        return _evaluate(run_dir, manifest, dataset, split, ks, recall_denominator, device, force)


def dataset_of(run_dir: Path, manifest: dict) -> str:
    """The dataset a run was trained on, as its manifest records it (``config.dataset``)."""
    config = manifest.get("config")
    name = config.get("dataset") if isinstance(config, dict) else None
    if not isinstance(name, str):
        raise LLMRecError(
            f"{run_dir / artifacts.MANIFEST}: no 'config.dataset' field, the manifest is damaged; "
            "train the run again with --force"
        )
    return name


def _evaluate(
    run_dir: Path, manifest: dict, dataset: Dataset, split: str, ks, recall_denominator, device: str, force: bool
) -> Evaluation:
    previous = artifacts.read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").exists() else {}
    denominator = recall_denominator or previous.get("recall_denominator", "all")
    ks = tuple(ks) if ks else DEFAULT_KS.get(denominator, (5, 10, 20))
    record = {"split": split, "ks": list(ks), "recall_denominator": denominator}
    inputs = [run_dir / artifacts.MANIFEST, dataset.folder / artifacts.MANIFEST]
    done = previous.get("splits", {}).get(split, {})
    if not force and done and artifacts.up_to_date(run_dir, STAGE, record, inputs, record_name(split)):
        return Evaluation(
            run_dir,
            previous.get("model", "?"),
            dataset.name,
            split,
            done["metrics"],
            done["n_users_evaluated"],
            up_to_date=True,
        )
    clock = artifacts.Stopwatch()
    kind = manifest.get("kind", "vectors")
    if kind in SCORERS:
        score_fn = _scorer(kind)(run_dir, manifest, dataset, device)
        per_user, means = evaluate_scores(score_fn, dataset, split, ks, denominator)
    else:
        users = load_vectors(run_dir / "users.parquet", "user").to(device)
        items = load_vectors(run_dir / "items.parquet", "item").to(device)
        if users.shape[0] != dataset.n_users or items.shape[0] != dataset.n_items:
            raise LLMRecError(
                f"{run_dir}: vectors cover {users.shape[0]} users x {items.shape[0]} items but "
                f"dataset '{dataset.name}' has {dataset.n_users} x {dataset.n_items}; retrain the run"
            )
        per_user, means = evaluate_vectors(users, items, dataset, split, ks, denominator)
    artifacts.write_parquet(per_user, run_dir / f"per_user_{split}.parquet")
    result = {"ks": list(ks), "recall_denominator": denominator, "n_users_evaluated": per_user.height, "metrics": means}
    doc = merged_metrics(previous, split, result)
    doc.update(dataset=dataset.name, dataset_manifest_sha256=dataset.manifest_sha256)
    doc.setdefault("model", manifest.get("stage", "?"))
    artifacts.write_json(doc, run_dir / "metrics.json")
    manifest = artifacts.Manifest(
        STAGE,
        record,
        artifacts.describe_inputs(inputs),
        [f"per_user_{split}.parquet", "metrics.json"],
        {"users_evaluated": per_user.height},
        clock.seconds,
        {"device": str(device)},
    )
    artifacts.write_json(manifest.to_dict(), run_dir / record_name(split))
    return Evaluation(run_dir, doc["model"], dataset.name, split, means, per_user.height)


def record_name(split: str) -> str:
    """evaluate's own manifest in the run folder, one per split: what was evaluated, from which run and dataset."""
    return f"evaluate-{split}.json"


def merged_metrics(previous: dict, split: str, result: dict) -> dict:
    """``previous`` metrics.json with ``result`` (ks, recall_denominator, n_users_evaluated, metrics) recorded as
    ``splits[split]``; a test result also becomes the top-level metrics. Training's ``valid_metrics`` are kept."""
    doc = {**previous, "splits": {**(previous.get("splits") or {}), split: result}}
    if split == "test":
        doc.update(split="test", **result)
    return doc

"""Fixed semantic vectors s_u, s_v for the RLMRec alignments (docs/methods/rlmrec.md §2.4): the embed stage's
Parquet, any vectors folder of any width, or seeded random vectors (``random:1536``) for measuring speed at the
paper's width."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import torch

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.provenance import refuse_stale
from llmrec_cli.workdir import Workdir


@dataclass
class SemanticVectors:
    users: torch.Tensor  # (I, d_s) float32
    items: torch.Tensor  # (J, d_s) float32
    source: str
    files: list[Path] = field(default_factory=list)

    @property
    def dim(self) -> int:
        return int(self.users.shape[1])


def load(spec: str, workdir: Path, dataset: str, n_users: int, n_items: int, seed: int) -> SemanticVectors:
    if spec.startswith("random:"):
        return _random(spec, n_users, n_items, seed)
    folder = Workdir.of(workdir).find(
        spec, "embeddings", dataset, "--embeddings", f"run `llmrec embed --dataset {dataset}` or pass random:DIM"
    )
    refuse_stale(
        folder,
        "embedded",
        f"run `llmrec embed --dataset {dataset}` again for those profiles (it re-embeds what changed) and train "
        "with its output, or pass --embeddings of vectors that match",
    )
    users = read_vectors(folder / "users.parquet", "user", n_users)
    items = read_vectors(folder / "items.parquet", "item", n_items)
    if users.shape[1] != items.shape[1]:
        raise LLMRecError(
            f"{folder}: user vectors are {users.shape[1]}-d but item vectors {items.shape[1]}-d; they must match"
        )
    return SemanticVectors(users, items, str(folder), [folder / "users.parquet", folder / "items.parquet"])


MAX_RANDOM_DIM = 16384


def _random(spec: str, n_users: int, n_items: int, seed: int) -> SemanticVectors:
    try:
        dim = int(spec.split(":", 1)[1])
    except ValueError:
        dim = 0
    if not 0 < dim <= MAX_RANDOM_DIM:  # wider than any text encoder: a typo that would not fit in memory
        raise LLMRecError(
            f"--embeddings {spec}: expected random:DIM with a width from 1 to {MAX_RANDOM_DIM}, e.g. random:1536"
        )
    gen = torch.Generator().manual_seed(seed + 104729)
    users = torch.randn(n_users, dim, generator=gen)
    items = torch.randn(n_items, dim, generator=gen)
    return SemanticVectors(
        users, items, f"random:{dim} (seeded Gaussian vectors, no text: for speed measurements only)"
    )


def read_vectors(path: Path, entity: str, n: int) -> torch.Tensor:
    """One entity's vectors in id order, checked: one per id of the dataset, one width, finite values."""
    df = artifacts.read_parquet(path, artifacts.vectors_schema(entity))
    id_col = artifacts.entity_id(entity)
    ids = df[id_col].to_numpy()
    if df.height != n or not np.array_equal(np.sort(ids), np.arange(n)):
        missing = np.setdiff1d(np.arange(n), ids)
        raise LLMRecError(
            f"{path}: has {df.height} {entity} vectors but the dataset has {n} {entity}s "
            f"(missing ids such as {missing[:5].tolist()}); re-run embed for this dataset"
        )
    vectors = df.sort(id_col)["vector"]
    if isinstance(vectors.dtype, pl.List):
        lengths = vectors.list.len().unique()
        if lengths.len() != 1:
            raise LLMRecError(f"{path}: vectors have different lengths {lengths.to_list()[:5]}; re-run embed")
        vectors = vectors.list.to_array(int(lengths[0]))
    return torch.from_numpy(_finite(vectors.to_numpy().astype(np.float32, copy=False), path, entity).copy())


def _finite(vectors: np.ndarray, path: Path, entity: str) -> np.ndarray:
    """Vectors with a NaN or infinite value would train to plausible-looking but meaningless metrics."""
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise LLMRecError(
            f"{path}: {int(bad.sum())} of {len(vectors)} {entity} vectors hold NaN or infinite values "
            f"(first at {entity} id {int(np.flatnonzero(bad)[0])}); re-run embed for this dataset"
        )
    return vectors

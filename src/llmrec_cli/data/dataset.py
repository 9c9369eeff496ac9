"""A prepared dataset as later stages see it: the three splits, the id spaces, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.workdir import Workdir

SPLIT_NAMES = ("train", "valid", "test")


@dataclass
class Dataset:
    name: str
    folder: Path
    n_users: int
    n_items: int
    splits: dict[str, pl.DataFrame]
    manifest_sha256: str

    @classmethod
    def load(cls, workdir: Path | str, name: str) -> "Dataset":
        folder = Workdir.of(workdir).data(name)
        if not (folder / artifacts.MANIFEST).is_file():
            raise LLMRecError(
                f"{folder}: dataset '{name}' is not prepared; run `llmrec prepare --dataset {name}` first"
            )
        splits = {s: artifacts.read_parquet(folder / f"{s}.parquet", artifacts.SPLIT) for s in SPLIT_NAMES}
        n_users = artifacts.read_parquet(
            folder / "users.parquet", artifacts.USERS, columns=["user_id", "raw_id"]
        ).height
        n_items = artifacts.read_parquet(
            folder / "items.parquet", artifacts.ITEMS, columns=["item_id", "raw_id"]
        ).height
        for split, df in splits.items():
            if df.height and (df["user_id"].max() >= n_users or df["item_id"].max() >= n_items):
                raise LLMRecError(
                    f"{folder / split}.parquet: ids exceed users.parquet/items.parquet; rerun prepare with --force"
                )
        return cls(name, folder, n_users, n_items, splits, artifacts.sha256_file(folder / artifacts.MANIFEST))

    def pairs(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        df = self.splits[split]
        return df["user_id"].to_numpy().astype(np.int64), df["item_id"].to_numpy().astype(np.int64)

    def files(self) -> list[Path]:
        return [self.folder / artifacts.MANIFEST] + [self.folder / f"{s}.parquet" for s in SPLIT_NAMES]

    def csr(self, split: str):
        """The binary users x items matrix of one split as a torch sparse CSR tensor (CPU)."""
        import torch

        u, i = self.pairs(split)
        order = np.lexsort((i, u))
        u, i = u[order], i[order]
        crow = np.zeros(self.n_users + 1, dtype=np.int64)
        np.add.at(crow, u + 1, 1)
        crow = np.cumsum(crow)
        return torch.sparse_csr_tensor(
            torch.from_numpy(crow),
            torch.from_numpy(i),
            torch.ones(len(i)),
            size=(self.n_users, self.n_items),
            check_invariants=False,
        )

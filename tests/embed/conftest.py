"""Fixtures for the embed tests: a tiny dataset with written profiles (one failure), and the loopback server."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "profile"))

from loopback import LoopbackLLM  # noqa: E402
from tiny_data import make_tiny_dataset  # noqa: E402

from llmrec_cli import artifacts  # noqa: E402


def write_profiles(folder: Path, n_items: int, n_users: int, skip_item: int | None = None) -> None:
    """Profiles as `llmrec profile` writes them, with distinct texts of varied lengths."""
    folder.mkdir(parents=True, exist_ok=True)
    for entity, n in (("item", n_items), ("user", n_users)):
        ids = [i for i in range(n) if not (entity == "item" and i == skip_item)]
        texts = [f"{entity} {i} suits players who like " + "strategy and long campaigns " * (i % 7) for i in ids]
        df = pl.DataFrame(
            {
                artifacts.entity_id(entity): pl.Series(ids, dtype=pl.Int32),
                "summarization": texts,
                "reasoning": ["r"] * len(ids),
                "model": ["test"] * len(ids),
                "prompt_id": [f"t-{entity}@1"] * len(ids),
                "input_tokens": pl.Series([1] * len(ids), dtype=pl.Int32),
                "output_tokens": pl.Series([1] * len(ids), dtype=pl.Int32),
            }
        )
        artifacts.write_parquet(df, folder / f"{entity}s.parquet", artifacts.profiles_schema(entity))
    artifacts.write_json({"stage": "profile"}, folder / "manifest.json")


@pytest.fixture
def profiled(tmp_path) -> Path:
    """A workdir with dataset 'tiny' and profiles/tiny/t@1 (item 5 failed, so it has no profile)."""
    workdir = tmp_path / "work"
    make_tiny_dataset(tmp_path / "raw", workdir)
    write_profiles(workdir / "profiles" / "tiny" / "t@1", 20, 30, skip_item=5)
    return workdir


@pytest.fixture
def profiles_writer():
    return write_profiles


@pytest.fixture
def loopback():
    with LoopbackLLM(dim=12) as server:
        yield server

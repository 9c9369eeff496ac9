"""A tiny dataset prepared through the real `prepare` stage, shared by tests/profile, tests/embed and benchmarks."""

from __future__ import annotations

import csv
import random
from pathlib import Path


def make_tiny_dataset(
    folder: Path,
    workdir: Path,
    n_users: int = 30,
    n_items: int = 20,
    per_user: int = 8,
    name: str = "tiny",
    seed: int = 0,
) -> None:
    """Prepare `name` under workdir from a CSV: games with titles and genres, one review per interaction."""
    from llmrec_cli.data import prepare

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "items.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["item", "title", "genres", "publisher"])
        for i in range(n_items):
            out.writerow([f"g{i:03d}", f"Game number {i}", "Action|RPG", f"Studio {i % 4}"])
    with open(folder / "interactions.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["user", "item", "review"])
        for u in range(n_users):
            for i in rng.sample(range(n_items), per_user):
                out.writerow([f"u{u:03d}", f"g{i:03d}", f"review by u{u:03d} of g{i:03d}: fun"])
    overrides = dict(
        source=folder / "interactions.csv",
        user_col="user",
        item_col="item",
        review_col="review",
        items_path=str(folder / "items.csv"),
        dataset=name,
    )
    cfg = prepare.config_from_recipe("custom", None, overrides)
    prepare.run(cfg, workdir)

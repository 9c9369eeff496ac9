"""Rebuild the shipped demo sample from shared/data/steam (run once; the output is committed).

Real data only: the 300 most-interacted Steam games of RLMRec's Steam valid+test interactions, 400 users drawn with
seed 2023 among those with >= 8 interactions on them, and the games' store text (title, genres, tags, ...).

    python datasets/demo/build.py ../shared/data/steam
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl

N_ITEMS, N_USERS, MIN_USER_ITEMS, SEED = 300, 400, 8, 2023


def main(steam: Path, out: Path) -> None:
    pairs = pl.concat([pl.read_parquet(steam / "valid.parquet"), pl.read_parquet(steam / "test.parquet")])
    top = pairs.group_by("item_id").len().sort(["len", "item_id"], descending=[True, False]).head(N_ITEMS)["item_id"]
    pairs = pairs.filter(pl.col("item_id").is_in(top.implode()))
    counts = pairs.group_by("user_id").len().filter(pl.col("len") >= MIN_USER_ITEMS).sort("user_id")
    rng = np.random.default_rng(SEED)
    users = counts["user_id"].gather(np.sort(rng.choice(counts.height, N_USERS, replace=False)))
    pairs = pairs.filter(pl.col("user_id").is_in(users.implode())).sort(["user_id", "item_id"])
    kept = pairs["item_id"].unique().implode()
    items = pl.read_parquet(steam / "items.parquet").filter(pl.col("item_id").is_in(kept))
    interactions = pairs.select(
        ("steam-u" + pl.col("user_id").cast(pl.String)).alias("user"),
        pl.col("item_id").cast(pl.String).alias("item"),
    )
    item_text = items.select(
        pl.col("item_id").cast(pl.String).alias("item"),
        "product_id",
        "app_name",
        "genres",
        "tags",
        "specs",
        "developer",
        "publisher",
        "release_date",
        "sentiment",
    ).sort("item")
    interactions.write_parquet(out / "interactions.parquet", compression="zstd")
    item_text.write_parquet(out / "items.parquet", compression="zstd")
    print(f"{interactions.height} interactions, {users.len()} users, {item_text.height} items -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).parent)

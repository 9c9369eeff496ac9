"""A toy dataset written straight to the Parquet contracts (12 users x 10 items, short texts, optional reviews)."""

from __future__ import annotations

import polars as pl

from llmrec_cli import artifacts

TINY_LM = "tiny-gpt2:2:32"  # a random 2-layer, 32-wide GPT-2 with the real BPE: seconds per pass
N_USERS, N_ITEMS = 12, 101  # > 100 items: NDCG@100 needs a full top-100
WORDS = ["red", "blue", "soft", "fresh", "matte", "gloss", "cream", "gel", "mint", "rose"]


def toy_splits() -> dict[str, list[tuple[int, int]]]:
    """Each user: 4 training items, 1 validation, 1 test, drawn from a small ring of items (a learnable pattern)."""
    splits = {"train": [], "valid": [], "test": []}
    for u in range(N_USERS):
        ring = [(u + k) % N_ITEMS for k in range(6)]
        splits["train"] += [(u, i) for i in ring[:4]]
        splits["valid"].append((u, ring[4]))
        splits["test"].append((u, ring[5]))
    return splits


def write_toy_dataset(workdir, name: str = "toy", reviews: bool = True):
    folder = workdir / "data" / name
    for split, pairs in toy_splits().items():
        df = pl.DataFrame(
            {"user_id": [u for u, _ in pairs], "item_id": [i for _, i in pairs]},
            schema={"user_id": pl.Int32, "item_id": pl.Int32},
        )
        artifacts.write_parquet(df, folder / f"{split}.parquet", artifacts.SPLIT)
    users = pl.DataFrame(
        {"user_id": list(range(N_USERS)), "raw_id": [f"u{u}" for u in range(N_USERS)]},
        schema={"user_id": pl.Int32, "raw_id": pl.String},
    )
    items = pl.DataFrame(
        {
            "item_id": list(range(N_ITEMS)),
            "raw_id": [f"i{i}" for i in range(N_ITEMS)],
            "title": [f"{WORDS[i % 10]} lipstick" for i in range(N_ITEMS)],
            "tags": [[WORDS[i % 10], WORDS[(i + 1) % 10]] for i in range(N_ITEMS)],
        },
        schema={"item_id": pl.Int32, "raw_id": pl.String, "title": pl.String, "tags": pl.List(pl.String)},
    )
    artifacts.write_parquet(users, folder / "users.parquet", artifacts.USERS)
    artifacts.write_parquet(items, folder / "items.parquet", artifacts.ITEMS)
    if reviews:
        splits = toy_splits()
        pairs = splits["train"] + splits["test"][:3]  # reviews of test pairs exist in the file and must be ignored
        df = pl.DataFrame(
            {
                "user_id": [u for u, _ in pairs],
                "item_id": [i for _, i in pairs],
                "text": [f"a {WORDS[i % 10]} one, I like it" for _, i in pairs],
            },
            schema={"user_id": pl.Int32, "item_id": pl.Int32, "text": pl.String},
        )
        artifacts.write_parquet(df, folder / "reviews.parquet", artifacts.REVIEWS)
    artifacts.write_json({"stage": "prepare", "dataset": name}, folder / artifacts.MANIFEST)
    return folder


def tiny_train_args(batch_size: int, *extra: str) -> list[str]:
    """`llmrec train-cllm4rec` on the toy dataset with the tiny LM, one pretraining and one finetuning epoch."""
    return [
        "train-cllm4rec",
        "--dataset",
        "toy",
        "--backbone",
        TINY_LM,
        "--warmup-epochs",
        "0",
        "--pretrain-epochs",
        "1",
        "--finetune-epochs",
        "1",
        "--batch-size",
        str(batch_size),
        *extra,
    ]

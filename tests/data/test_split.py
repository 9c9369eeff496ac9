import polars as pl
import pytest

from llmrec_cli.data import split
from llmrec_cli.errors import LLMRecError


def user_items(counts: dict[str, int]) -> pl.DataFrame:
    rows = [(u, f"{u}-{k}", k) for u, n in counts.items() for k in range(n)]
    return pl.DataFrame(rows, schema=["user", "item", "timestamp"], orient="row")


def sizes(parts, user):
    return tuple(parts[s].filter(pl.col("user") == user).height for s in ("train", "valid", "test"))


def test_ratio_split_per_user_counts():
    parts = split.ratio_split(user_items({"a": 10, "b": 5, "c": 1, "d": 2}), "3:1:1", seed=0)
    assert sizes(parts, "a") == (6, 2, 2)  # round(10*.2) = 2 each
    assert sizes(parts, "b") == (3, 1, 1)
    assert sizes(parts, "c") == (1, 0, 0)  # always one training item
    assert sizes(parts, "d") == (2, 0, 0)  # round(0.4) = 0


def test_ratio_split_min_eval_gives_each_part_an_item():
    parts = split.ratio_split(user_items({"a": 3, "b": 4, "c": 2}), [8, 1, 1], seed=0, min_eval=1)
    assert sizes(parts, "a") == (1, 1, 1)
    assert sizes(parts, "b") == (2, 1, 1)
    assert sizes(parts, "c") == (2, 0, 0)  # too few items for the floor


def test_ratio_split_is_a_partition_and_seeded():
    df = user_items({f"u{i}": 7 + i % 5 for i in range(50)})
    a = split.ratio_split(df, "3:1:1", seed=1)
    b = split.ratio_split(df, "3:1:1", seed=1)
    c = split.ratio_split(df, "3:1:1", seed=2)
    union = pl.concat([a[s] for s in a])
    assert union.height == df.height and union.unique(["user", "item"]).height == df.height
    assert all(a[s].equals(b[s]) for s in a)
    assert not a["test"].equals(c["test"])


def test_leave_last_out_takes_the_latest():
    parts = split.leave_last_out(user_items({"a": 4, "b": 2}), seed=0)
    assert parts["test"].rows() == [("a", "a-3", 3)]
    assert parts["valid"].rows() == [("a", "a-2", 2)]
    assert sizes(parts, "b") == (2, 0, 0)


def test_temporal_split_drops_cold_eval_rows():
    df = pl.DataFrame(
        {"user": ["a", "a", "b", "a", "c"], "item": ["x", "y", "x", "z", "x"], "timestamp": [1, 2, 3, 4, 5]}
    )
    parts = split.temporal_split(df, "3:1:1")
    assert parts["train"]["timestamp"].to_list() == [1, 2, 3]
    assert parts["valid"].height == 0  # (a, z): item z never in train
    assert parts["test"].height == 0  # (c, x): user c never in train


def test_bad_ratios_and_missing_timestamps():
    with pytest.raises(LLMRecError, match="--ratios"):
        split.parse_ratios("3:1")
    with pytest.raises(LLMRecError, match="leave-last-out needs timestamps"):
        split.leave_last_out(pl.DataFrame({"user": ["a"], "item": ["x"]}), 0)
    with pytest.raises(LLMRecError, match="unknown method"):
        split.split(pl.DataFrame({"user": ["a"], "item": ["x"]}), "bogus", "3:1:1", 0)

import math

import polars as pl
import pytest

from llmrec_cli.data import filters
from llmrec_cli.errors import LLMRecError


def frame(pairs, **extra):
    users, items = zip(*pairs)
    return pl.DataFrame({"user": list(users), "item": list(items), **extra})


def test_k_core_iterates_until_stable():
    df = frame(
        [("a", "x"), ("a", "y"), ("b", "x"), ("b", "z"), ("c", "z"), ("d", "y"), ("d", "w"), ("e", "w"), ("e", "y")]
    )
    out = filters.k_core(df, 2, 2)
    # 2-core by hand. round 1 users: a2 b2 c1 d2 e2 -> drop c; items: x2 y3 z1 w2 -> drop z
    # round 2 users: a2 b1 d2 e2 -> drop b; items: x1 y3 w2 -> drop x
    # round 3 users: a1 d2 e2 -> drop a; items: y2 w2 (after dropping a: y has d,e) -> stable
    assert sorted(out.rows()) == [("d", "w"), ("d", "y"), ("e", "w"), ("e", "y")]


def test_k_core_that_leaves_nothing_is_empty():
    assert filters.k_core(frame([("a", "x"), ("b", "y")]), 2, 2).height == 0


def test_min_rating_keeps_threshold_and_above():
    df = frame([("a", "x"), ("a", "y"), ("b", "x")], rating=[2.0, 3.0, 5.0])
    assert filters.min_rating(df, 3).rows() == [("a", "y", 3.0), ("b", "x", 5.0)]


def test_nan_rating_is_named_with_its_row():
    df = frame([("a", "x"), ("a", "y")], rating=[4.0, math.nan])
    with pytest.raises(LLMRecError, match="NaN at row 1"):
        filters.check_ratings(df, "src.csv")


def test_dedupe_keeps_earliest():
    df = frame([("a", "x"), ("a", "x"), ("b", "x")], timestamp=[5, 3, 1])
    assert sorted(filters.dedupe(df).rows()) == [("a", "x", 3), ("b", "x", 1)]


def test_time_window_is_half_open():
    df = frame([("a", "x"), ("a", "y"), ("a", "z")], timestamp=[0, 86400, 2 * 86400])
    out = filters.time_window(df, "1970-01-02", "1970-01-03")
    assert out["item"].to_list() == ["y"]


def test_user_sample_is_seeded_fraction_or_count():
    df = frame([(f"u{i}", "x") for i in range(100)])
    a, b = filters.sample_users(df, 0.2, 1), filters.sample_users(df, 0.2, 1)
    assert a.equals(b) and a["user"].n_unique() == 20
    assert filters.sample_users(df, 7, 1)["user"].n_unique() == 7
    assert not filters.sample_users(df, 0.2, 2).equals(a)
    with pytest.raises(LLMRecError, match="--user-sample"):
        filters.sample_users(df, 0, 1)

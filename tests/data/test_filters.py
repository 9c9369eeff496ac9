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
    with pytest.raises(LLMRecError, match=r"1 of 2 rows have a rating that is missing, NaN or infinite \(e.g. row 1:"):
        filters.check_interactions(df, "src.csv")


@pytest.mark.parametrize("value", [math.inf, -math.inf, None])
def test_infinite_or_missing_ratings_are_refused_with_up_to_three_examples(value):
    df = frame([("a", f"x{i}") for i in range(5)], rating=[value, 4.0, value, value, value])
    with pytest.raises(LLMRecError) as caught:
        filters.check_interactions(df, "src.csv", {"rating": "stars"})
    message = str(caught.value)
    assert message.startswith("src.csv: column 'stars': 4 of 5 rows have a rating that is missing, NaN or infinite")
    assert "row 0:" in message and "row 3:" in message and "row 4:" not in message and "drop those rows" in message


def test_missing_or_nan_ids_are_refused():
    df = pl.DataFrame({"user": [1.0, math.nan, 2.0], "item": ["x", "y", "z"]})
    with pytest.raises(LLMRecError, match=r"column 'user': 1 of 3 rows have no user id \(empty or NaN\).*row 1"):
        filters.check_interactions(df, "src.csv")
    df = pl.DataFrame({"user": ["a", "b"], "item": ["x", None]})
    with pytest.raises(LLMRecError, match="column 'item_id': 1 of 2 rows have no item id"):
        filters.check_interactions(df, "src.csv", {"item": "item_id"})
    filters.check_interactions(pl.DataFrame({"user": ["NaN"], "item": ["x"]}), "src.csv")  # a real id spelled NaN


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

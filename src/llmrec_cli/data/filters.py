"""Composable interaction filters over a polars frame with ``user``, ``item`` and optional ``rating``/``timestamp``.

Each filter returns the filtered frame; :class:`FilterLog` records how many rows each one removed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow.compute as pc

from llmrec_cli.errors import LLMRecError


@dataclass
class FilterLog:
    steps: list[dict] = field(default_factory=list)

    def record(self, name: str, before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
        self.steps.append(
            {
                "filter": name,
                "rows_removed": before.height - after.height,
                "rows": after.height,
                "users": after["user"].n_unique() if after.height else 0,
                "items": after["item"].n_unique() if after.height else 0,
            }
        )
        return after


def check_interactions(df: pl.DataFrame, source: str, columns: dict[str, str] | None = None) -> None:
    """Refuse rows without a user or item id (null, or NaN in a numeric id column) and missing, NaN or infinite
    ratings: a NaN id would become one user or item named "NaN", an infinite rating passes every --min-rating.

    ``columns`` names the source's column behind ``user``/``item``/``rating`` (for the message)."""
    columns = columns or {}
    for key in ("user", "item"):
        ids = df[key]
        bad = (ids.is_null() | ids.is_nan()) if ids.dtype.is_float() else ids.is_null()
        _refuse_rows(
            df,
            bad,
            f"{source}: column '{columns.get(key, key)}'",
            f"have no {key} id (empty or NaN)",
            f"drop those rows or fill in their {key} ids",
        )
    if "rating" in df.columns:
        rating = df["rating"]
        bad = (rating.is_null() | ~rating.is_finite()) if rating.dtype.is_float() else rating.is_null()
        _refuse_rows(
            df,
            bad.fill_null(True),
            f"{source}: column '{columns.get('rating', 'rating')}'",
            "have a rating that is missing, NaN or infinite",
            "fix or drop those rows, or prepare without a rating column",
        )


def _refuse_rows(df: pl.DataFrame, bad: pl.Series, where: str, what: str, fix: str) -> None:
    """One line naming how many rows are bad and up to three of them (0-based row numbers, with their values)."""
    n = int(bad.sum())
    if not n:
        return
    shown = [c for c in ("user", "item", "rating") if c in df.columns]
    examples = "; ".join(
        f"row {r}: " + ", ".join(f"{c}={df[c][r]!r}" for c in shown) for r in bad.arg_true().head(3).to_list()
    )
    raise LLMRecError(f"{where}: {n} of {df.height} rows {what} (e.g. {examples}); {fix}")


def min_rating(df: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Keep interactions rated >= threshold (RLMRec drops ratings < 3 on Amazon and Yelp)."""
    if "rating" not in df.columns:
        raise LLMRecError(
            f"--min-rating {threshold}: the source has no rating column; drop the option or pass --rating-col"
        )
    return df.filter(pl.col("rating") >= threshold)


def dedupe(df: pl.DataFrame) -> pl.DataFrame:
    """One row per (user, item): the earliest when timestamps exist (implicit feedback is binary)."""
    if "timestamp" in df.columns:
        df = df.sort("timestamp", maintain_order=True, nulls_last=True)
    return df.unique(["user", "item"], keep="first", maintain_order=True)


def _to_unix(value: str | int, option: str) -> int:
    if isinstance(value, int):
        return value
    try:
        d = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise LLMRecError(f"{option} {value!r}: expected a date such as 2018-01-31 or unix seconds") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return int(d.timestamp())


def time_window(df: pl.DataFrame, start: str | int | None, end: str | int | None) -> pl.DataFrame:
    """Keep start <= timestamp < end (either bound optional)."""
    if "timestamp" not in df.columns:
        raise LLMRecError("--start/--end: the source has no timestamp column; pass --time-col or drop the options")
    if start is not None:
        df = df.filter(pl.col("timestamp") >= _to_unix(start, "--start"))
    if end is not None:
        df = df.filter(pl.col("timestamp") < _to_unix(end, "--end"))
    return df


def sample_users(df: pl.DataFrame, size: float, seed: int) -> pl.DataFrame:
    """Keep a seeded uniform sample of users: a fraction when ``size`` < 1, else a count."""
    users = df["user"].unique().sort()
    n = round(size * users.len()) if size < 1 else int(size)
    if size <= 0 or n <= 0:
        raise LLMRecError(f"--user-sample {size}: must be a fraction in (0, 1) or a positive user count")
    if n >= users.len():
        return df
    rng = np.random.default_rng(seed)
    keep = users.gather(np.sort(rng.choice(users.len(), size=n, replace=False)))
    return df.filter(pl.col("user").is_in(keep.implode()))


def k_core(df: pl.DataFrame, user_k: int, item_k: int) -> pl.DataFrame:
    """Iteratively drop users with < user_k and items with < item_k interactions until both hold."""
    if user_k <= 1 and item_k <= 1:
        return df
    # Counting with bincount over integer codes: hash-grouping millions of string ids each round is far slower.
    users, items = _count_codes(df["user"]), _count_codes(df["item"])
    keep = np.ones(df.height, dtype=bool)
    while True:
        before = int(keep.sum())
        keep &= np.bincount(users, weights=keep)[users] >= user_k
        keep &= np.bincount(items, weights=keep)[items] >= item_k
        if int(keep.sum()) == before:
            return df.filter(pl.Series(keep))


def _count_codes(ids: pl.Series) -> np.ndarray:
    """Small non-negative integers per id, to index a bincount."""
    if ids.dtype.is_integer() and (ids.len() == 0 or (ids.min() >= 0 and ids.max() < 4 * ids.len() + 1024)):
        return ids.to_numpy()
    return id_codes(ids)[0].to_numpy()


def id_codes(ids: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(UInt32 code per row, distinct ids sorted): code c stands for the c-th id in sort order.

    Sorting, sampling, grouping or counting the codes gives the same result as on the ids, at integer speed.
    """
    encoded = pc.dictionary_encode(ids.rechunk().to_arrow())  # one hash pass; faster than polars' group-by here
    distinct = pl.Series(ids.name, encoded.dictionary)
    order = distinct.arg_sort().to_numpy()
    rank = np.empty(len(order), dtype=np.uint32)
    rank[order] = np.arange(len(order), dtype=np.uint32)
    return pl.Series(ids.name, rank[encoded.indices.to_numpy()]), distinct.gather(order)

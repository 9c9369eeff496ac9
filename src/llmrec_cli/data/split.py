"""Train/valid/test splitters over a frame with ``user``, ``item`` and optional ``timestamp``.

Every splitter returns the three frames; each (user, item) pair lands in exactly one of them.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from llmrec_cli.errors import LLMRecError

METHODS = ("ratio", "leave-last-out", "temporal")


def parse_ratios(ratios) -> tuple[float, float, float]:
    if isinstance(ratios, str):
        try:
            ratios = [float(x) for x in ratios.replace(":", ",").split(",")]
        except ValueError:
            raise LLMRecError(f"--ratios {ratios!r}: expected three numbers such as 3:1:1 or 0.8,0.1,0.1") from None
    if len(ratios) != 3 or not all(0 < float(r) < math.inf for r in ratios):
        raise LLMRecError(f"--ratios {ratios}: expected three positive numbers (train:valid:test), e.g. 3:1:1")
    total = float(sum(ratios))
    return tuple(float(r) / total for r in ratios)  # type: ignore[return-value]


def _split_by_position(df: pl.DataFrame, n_valid: pl.Expr, n_test: pl.Expr) -> dict[str, pl.DataFrame]:
    """Given a per-user 0-based ``_pos`` and ``_n``, the last n_test go to test, the n_valid before to valid."""
    df = df.with_columns(_nv=n_valid, _nt=n_test)
    part = (
        pl.when(pl.col("_pos") >= pl.col("_n") - pl.col("_nt"))
        .then(pl.lit("test"))
        .when(pl.col("_pos") >= pl.col("_n") - pl.col("_nt") - pl.col("_nv"))
        .then(pl.lit("valid"))
        .otherwise(pl.lit("train"))
    )
    df = df.with_columns(_part=part)
    drop = ["_pos", "_n", "_nv", "_nt", "_part", "_r"]
    return {
        name: df.filter(pl.col("_part") == name).drop([c for c in drop if c in df.columns])
        for name in ("train", "valid", "test")
    }


def ratio_split(df: pl.DataFrame, ratios, seed: int, min_eval: int = 0) -> dict[str, pl.DataFrame]:
    """Per-user seeded random split: each user's items are shuffled and cut by the ratios.

    A user with n items gets round(n * r_test) test and round(n * r_valid) validation items, at least ``min_eval``
    of each when n >= 2 * min_eval + 1, and always >= 1 training item.
    """
    _, rv, rt = parse_ratios(ratios)
    rng = np.random.default_rng(seed)
    df = df.with_columns(_r=pl.Series(rng.random(df.height)))
    df = df.with_columns(
        _pos=(pl.col("_r").rank("ordinal").over("user") - 1).cast(pl.Int64), _n=pl.len().over("user").cast(pl.Int64)
    )
    n = pl.col("_n")
    floor = pl.when(n >= 2 * min_eval + 1).then(pl.lit(min_eval)).otherwise(pl.lit(0))
    n_test = pl.max_horizontal((n.cast(pl.Float64) * rt).round().cast(pl.Int64), floor)
    n_test = pl.min_horizontal(n_test, n - 1)
    n_valid = pl.max_horizontal((n.cast(pl.Float64) * rv).round().cast(pl.Int64), floor)
    n_valid = pl.min_horizontal(n_valid, n - 1 - n_test).clip(lower_bound=0)
    return _split_by_position(df, n_valid, n_test)


def leave_last_out(df: pl.DataFrame, seed: int) -> dict[str, pl.DataFrame]:
    """Each user's latest interaction is test, the one before is valid (users with >= 3); ties broken by seed."""
    if "timestamp" not in df.columns:
        raise LLMRecError("--split leave-last-out needs timestamps; pass --time-col or use --split ratio")
    rng = np.random.default_rng(seed)
    df = df.with_columns(_r=pl.Series(rng.random(df.height))).sort(["timestamp", "_r"])
    df = df.with_columns(
        _pos=(pl.int_range(pl.len()).over("user")).cast(pl.Int64), _n=pl.len().over("user").cast(pl.Int64)
    )
    one = pl.when(pl.col("_n") >= 3).then(pl.lit(1)).otherwise(pl.lit(0))
    return _split_by_position(df, one, one)


def temporal_split(df: pl.DataFrame, ratios) -> dict[str, pl.DataFrame]:
    """Global time cut: the earliest share of interactions is train, then valid, then test.

    Validation and test rows whose user or item never occurs in train are dropped (a CF model cannot score them).
    """
    if "timestamp" not in df.columns:
        raise LLMRecError("--split temporal needs timestamps; pass --time-col or use --split ratio")
    rtrain, rv, _ = parse_ratios(ratios)
    df = df.sort("timestamp", maintain_order=True)
    n = df.height
    a, b = round(n * rtrain), round(n * (rtrain + rv))
    train, valid, test = df.slice(0, a), df.slice(a, b - a), df.slice(b)
    users, items = train["user"].unique().implode(), train["item"].unique().implode()
    warm = pl.col("user").is_in(users) & pl.col("item").is_in(items)
    return {"train": train, "valid": valid.filter(warm), "test": test.filter(warm)}


def split(df: pl.DataFrame, method: str, ratios, seed: int, min_eval: int = 0) -> dict[str, pl.DataFrame]:
    if method == "ratio":
        return ratio_split(df, ratios, seed, min_eval)
    if method == "leave-last-out":
        return leave_last_out(df, seed)
    if method == "temporal":
        return temporal_split(df, ratios)
    raise LLMRecError(f"--split {method!r}: unknown method; choose one of {', '.join(METHODS)}")

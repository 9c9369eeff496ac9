"""Small formatting helpers: polars frames to Markdown tables, numbers to fixed-width strings."""

from __future__ import annotations

import math

import polars as pl


def number(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def percent(value) -> str:
    """A relative difference as a signed percentage (0.0123 -> +1.2%)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:+.1f}%"


def mean_std(mean, std, n: int, digits: int = 4) -> str:
    if mean is None:
        return "-"
    if n < 2 or std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def table(df: pl.DataFrame, digits: int = 4) -> str:
    """A GitHub Markdown table of ``df``; floats are printed with ``digits`` decimals, None as '-'."""
    if df.is_empty():
        return "_(no rows)_"
    header = "| " + " | ".join(df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(number(v, digits) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join([header, rule, *body])

"""Any CSV or Parquet interaction table, with the column names given as options (--user-col, --item-col, ...)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from llmrec_cli.data.sources.base import RawSource, require_file
from llmrec_cli.errors import LLMRecError

DEFAULTS = {"user_col": "user_id", "item_col": "item_id", "rating_col": None, "time_col": None, "review_col": None}


def _interaction_files(path: Path, options: dict) -> list[Path]:
    """A file, or a folder with ``options['files']`` (default: every .parquet/.csv in it) read as one table."""
    if not path.is_dir():
        return [path]
    names = options.get("files")
    found = (
        [path / n for n in names] if names else sorted(p for p in path.iterdir() if p.suffix in (".parquet", ".csv"))
    )
    if not found:
        raise LLMRecError(f"--source {path}: folder has no .parquet or .csv interaction files")
    return found


def items_file(path: Path, options: dict) -> Path | None:
    """--items, resolved against the source's folder when it is a relative path that does not exist here."""
    if not options.get("items_path"):
        return None
    items = Path(options["items_path"])
    if not items.is_absolute() and not items.exists():
        items = (path if path.is_dir() else path.parent) / items
    return items


def files(path: Path, options: dict) -> list[Path]:
    items = items_file(path, options)
    return _interaction_files(path, options) + ([items] if items else [])


def load_table(path: Path, what: str = "interaction table") -> pl.DataFrame:
    """Read a CSV (plain or .gz) or Parquet file, with one-line errors for empty, corrupt or unknown files."""
    require_file(path, what, "give a CSV or Parquet file with one row per interaction")
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pl.read_parquet(path)
        if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
            if name.endswith(".gz"):
                from llmrec_cli.data.sources.base import open_maybe_gzip

                data = open_maybe_gzip(path)
            else:
                data = path.read_bytes()
            sep = "\t" if ".tsv" in name else ","
            return pl.read_csv(data, separator=sep, infer_schema_length=10000)
    except LLMRecError:
        raise
    except pl.exceptions.NoDataError:
        raise LLMRecError(f"{path}: {what} has no rows; give a non-empty file") from None
    except Exception as exc:
        kind = "Parquet" if name.endswith(".parquet") else "CSV"
        raise LLMRecError(
            f"{path}: not a readable {kind} file ({type(exc).__name__}: {str(exc).splitlines()[0][:100]}); "
            "the file is truncated or corrupt"
        ) from None
    raise LLMRecError(f"{path}: unknown file type; use .csv, .csv.gz, .tsv or .parquet")


def _column(df: pl.DataFrame, path: Path, option: str, name: str | None) -> str | None:
    if name is None:
        return None
    flag = "--" + option.replace("_", "-")
    if name not in df.columns:
        raise LLMRecError(f"{path}: no column '{name}' (set by {flag}); found columns {df.columns}; pass {flag} NAME")
    if df[name].dtype.is_nested() or df[name].dtype == pl.Object:  # a list or struct per row, not one value
        raise LLMRecError(
            f"{path}: column '{name}' (set by {flag}) holds {str(df[name].dtype).lower()} values, not one value per "
            f"row; flatten the table (one interaction per row) or pass {flag} with another column"
        )
    return name


def to_unix_seconds(col: pl.Series, path: Path, name: str) -> pl.Series:
    """Integers (seconds or milliseconds), datetimes or date strings -> int64 unix seconds."""
    if col.dtype.is_integer() or col.dtype.is_float():
        s = col.cast(pl.Int64)
        if s.drop_nulls().len() and s.drop_nulls().median() > 10**11:  # milliseconds (2023 Amazon dumps)
            s = s // 1000
        return s
    if col.dtype == pl.String:
        parsed = col.str.to_datetime(strict=False, time_zone="UTC")
        if parsed.null_count() > col.null_count():
            bad = col.filter(parsed.is_null() & col.is_not_null())[0]
            raise LLMRecError(f"{path}: column '{name}' has a value {bad!r} that is not a date or timestamp")
        col = parsed
    if isinstance(col.dtype, (pl.Datetime, pl.Date)):
        return col.cast(pl.Datetime("ms", "UTC") if isinstance(col.dtype, pl.Date) else col.dtype).dt.epoch("s")
    raise LLMRecError(f"{path}: column '{name}' has type {col.dtype}, expected unix seconds or dates")


def _missing_as_null(ids: pl.Series) -> pl.Series:
    """A NaN in a numeric id column is a missing id (null, which prepare refuses, naming the rows), not a user named
    "NaN": a float NaN, or the text nan/NaN in a text column whose other values are all numbers (a CSV column of
    ids polars could not read as numbers because of it). Text ids such as usernames are left alone."""
    if ids.dtype.is_float():
        return ids.fill_nan(None)
    if ids.dtype != pl.String:
        return ids
    numbers = ids.cast(pl.Float64, strict=False)
    if numbers.null_count() != ids.null_count() or numbers.is_finite().all():
        return ids
    return ids.clone().scatter((~numbers.is_finite()).arg_true(), None)


def normalise(df: pl.DataFrame, path: Path, cols: dict) -> pl.DataFrame:
    """Rename user/item/rating/time/review columns to the RawSource names with checked types."""
    out = {}
    for key, target in (("user_col", "user"), ("item_col", "item")):
        name = _column(df, path, key, cols[key])
        out[target] = _missing_as_null(df[name]).cast(pl.String)
    if (name := _column(df, path, "rating_col", cols.get("rating_col"))) is not None:
        if not (df[name].dtype.is_numeric()):
            raise LLMRecError(
                f"{path}: column '{name}' has type {str(df[name].dtype).lower()}, expected numeric ratings"
            )
        out["rating"] = df[name].cast(pl.Float32)
    if (name := _column(df, path, "time_col", cols.get("time_col"))) is not None:
        out["timestamp"] = to_unix_seconds(df[name], path, name)
    if (name := _column(df, path, "review_col", cols.get("review_col"))) is not None:
        out["review"] = df[name].cast(pl.String)
    return pl.DataFrame(out)


def read_items(path: Path, key: str) -> pl.DataFrame:
    items = load_table(path, "item table")
    if key not in items.columns:
        raise LLMRecError(f"{path}: no item key column '{key}'; found {items.columns}; pass --items-key NAME")
    return items.with_columns(pl.col(key).cast(pl.String).alias("item")).unique(
        "item", keep="first", maintain_order=True
    )


def read(path: Path, options: dict) -> RawSource:
    cols = {k: options.get(k, v) for k, v in DEFAULTS.items()}
    frames = []
    for file in _interaction_files(path, options):
        df = load_table(file)
        if df.height == 0:
            raise LLMRecError(f"{file}: interaction table has no rows; give a non-empty file")
        frames.append(normalise(df, file, cols))
    items_path = items_file(path, options)
    items = read_items(items_path, options.get("items_key") or cols["item_col"]) if items_path else None
    names = (("user_col", "user"), ("item_col", "item"), ("rating_col", "rating"))
    columns = {target: cols[key] for key, target in names}
    return RawSource(
        interactions=pl.concat(frames, how="diagonal_relaxed"),
        files=files(path, options),
        items=items,
        columns={k: v for k, v in columns.items() if v},
    )

"""Amazon review dumps (McAuley lab 2014, 2018 and 2023 releases): JSON lines, plain or .gz, with optional metadata.

Options: ``meta_path`` (``--meta``: the metadata file, for item titles, descriptions and categories) and ``reviews``
(default true; false skips the review text, which is most of a dump's memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from llmrec_cli.data.sources import jsonl
from llmrec_cli.data.sources.base import RawSource
from llmrec_cli.errors import LLMRecError

REVIEWS_FIX = "give the Amazon review dump (JSON lines, plain or .gz), e.g. reviews_Books.json.gz"
META_FIX = "give the Amazon metadata dump with --meta, e.g. meta_Books.json.gz"
ITEM_SCHEMA = {"item": pl.String, "title": pl.String, "description": pl.String, "categories": pl.List(pl.String)}


@dataclass(frozen=True)
class Release:
    name: str
    user: str
    items: tuple[str, ...]  # item id fields, the first non-null wins
    rating: str
    time: str
    time_in_ms: bool
    texts: tuple[str, ...]  # review text fields, the first non-empty wins


RELEASES = (
    Release("2014/2018", "reviewerID", ("asin",), "overall", "unixReviewTime", False, ("reviewText", "summary")),
    Release("2023", "user_id", ("parent_asin", "asin"), "rating", "timestamp", True, ("text", "title")),
)


files = jsonl.dump_and_meta_files


def read(path: Path, options: dict) -> RawSource:
    if path.is_dir():
        raise LLMRecError(f"--source {path}: is a folder; {REVIEWS_FIX}")
    jsonl.check_file(path, "review dump", REVIEWS_FIX)
    record, is_json = jsonl.first_record(path, "review dump")
    release = detect_release(record, path)
    interactions = read_reviews(path, release, is_json, with_text=options.get("reviews", True) is not False)
    notes = [f"{path.name}: Amazon {release.name} field names, {interactions.height:,} reviews"]
    meta = jsonl.resolve_option_path(path, options, "meta_path")
    items = read_meta(meta, notes) if meta else None
    return RawSource(interactions=interactions, files=files(path, options), items=items, notes=notes)


def detect_release(record: dict, path: Path) -> Release:
    release = next((r for r in RELEASES if r.user in record), None)
    if release is None:
        raise LLMRecError(
            f"{path}: no reviewer id field (reviewerID or user_id) "
            f"in first record (fields: {', '.join(list(record)[:8])}); "
            "is this the review dump? metadata goes to --meta"
        )
    if not any(name in record for name in release.items):
        raise LLMRecError(f"{path}: no item id field ({' or '.join(release.items)}) in first record; {REVIEWS_FIX}")
    return release


# ------------------------------------------------------------------------------------------------- reviews
def review_schema(release: Release, with_text: bool) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {release.user: pl.String, **{name: pl.String for name in release.items}}
    schema[release.rating] = pl.Float32
    schema[release.time] = pl.Int64
    if with_text:
        schema.update({name: pl.String for name in release.texts if name not in schema})
    return schema


def read_reviews(path: Path, release: Release, is_json: bool, with_text: bool) -> pl.DataFrame:
    schema = review_schema(release, with_text)
    if is_json:
        raw = jsonl.read_json_lines(path, schema)
    else:  # Python-literal lines: slow, but the only way to read them
        raw = jsonl.python_table(path, schema, lambda rec: tuple(rec.get(name) for name in schema))
    df = raw.select(_interaction_columns(release, with_text))
    _check_ids(df, path, release)
    return df.select([c for c in df.columns if c in ("user", "item") or df[c].null_count() < df.height])


def _interaction_columns(release: Release, with_text: bool) -> list[pl.Expr]:
    seconds = pl.col(release.time) // 1000 if release.time_in_ms else pl.col(release.time)
    columns = [
        pl.col(release.user).alias("user"),
        pl.coalesce(release.items).alias("item"),
        pl.col(release.rating).alias("rating"),
        seconds.alias("timestamp"),
    ]
    if with_text:
        texts = [pl.when(pl.col(t).str.strip_chars() != "").then(pl.col(t)) for t in release.texts]
        columns.append(pl.coalesce(texts).alias("review"))
    return columns


def _check_ids(df: pl.DataFrame, path: Path, release: Release) -> None:
    for column, field in (("user", release.user), ("item", " or ".join(release.items))):
        missing = df[column].is_null()
        if missing.any():
            record = int(missing.arg_true()[0]) + 1
            raise LLMRecError(
                f"{path}: record {record} (counting non-blank lines) has no {field}; "
                f"{int(missing.sum())} records lack it; fix or delete them"
            )


# ------------------------------------------------------------------------------------------------- metadata
def read_meta(path: Path, notes: list[str]) -> pl.DataFrame:
    jsonl.check_file(path, "metadata dump", META_FIX)
    record, is_json = jsonl.first_record(path, "metadata dump")
    if not ({"asin", "parent_asin"} & set(record)):
        raise LLMRecError(f"{path}: no item id field (asin or parent_asin) in first record; {META_FIX}")
    items = _meta_fast(path, record) if is_json else None
    if items is None:
        items = jsonl.python_table(path, ITEM_SCHEMA, meta_row)
        notes.append(f"{path.name}: metadata read line by line (Python literals or irregular fields)")
    items = items.unique("item", keep="first", maintain_order=True)
    notes.append(f"{path.name}: {items.height:,} items with metadata")
    return items


def _meta_fast(path: Path, record: dict) -> pl.DataFrame | None:
    """2018/2023 JSON metadata through polars; None when a record has irregular types (then read line by line)."""
    if "parent_asin" in record:  # 2023
        key, lists, main = "parent_asin", ["categories"], ["main_category"]
    else:  # 2018
        key, lists, main = "asin", ["category"], []
    schema = {key: pl.String, "title": pl.String, "description": pl.List(pl.String)}
    schema.update({name: pl.List(pl.String) for name in lists} | {name: pl.String for name in main})
    try:
        raw = pl.scan_ndjson(path, schema=schema).collect(engine="streaming")
    except (*jsonl.POLARS_ERRORS, OSError):
        return None
    parts = [pl.concat_list(pl.col(n)) for n in main] + [pl.col(n).fill_null([]) for n in lists]
    categories = pl.concat_list(parts) if len(parts) > 1 else parts[0]
    return raw.filter(pl.col(key).is_not_null()).select(
        pl.col(key).alias("item"),
        _blank_to_null(pl.col("title").str.strip_chars()).alias("title"),
        _blank_to_null(_non_blank(pl.col("description")).list.join(" ")).alias("description"),
        _non_blank(categories).list.unique(maintain_order=True).alias("categories"),
    )


def _non_blank(lists: pl.Expr) -> pl.Expr:
    element = pl.element().str.strip_chars()
    return lists.list.eval(element.filter(element.is_not_null() & (element != "")))


def _blank_to_null(text: pl.Expr) -> pl.Expr:
    return pl.when(text != "").then(text)


def meta_row(record: dict) -> tuple | None:
    """One metadata record of any release -> (item, title, description, categories)."""
    key = record.get("parent_asin") or record.get("asin")
    if not key:
        return None
    categories = jsonl.unique_strings([record.get("main_category"), record.get("categories"), record.get("category")])
    return str(key), _text(record.get("title")), _text(record.get("description")), categories


def _text(value) -> str | None:
    """A string, or a list of strings joined with a space; None when blank."""
    parts = value if isinstance(value, list) else [value]
    text = " ".join(str(p).strip() for p in parts if p is not None and str(p).strip())
    return text or None

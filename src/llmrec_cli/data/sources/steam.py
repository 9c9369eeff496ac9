"""The UCSD Steam dumps used by SASRec and RLMRec: Python-literal dict lines (not JSON), plain or .gz.

``--source`` is the review dump: ``steam_reviews.json.gz`` (one review per line: username, product_id, date, text, ...)
or ``australian_user_reviews.json.gz`` (one user per line with a ``reviews`` list: item_id, posted, review, ...).
``--meta`` is ``steam_games.json.gz`` (id, app_name, title, genres, tags, specs, developer, publisher). Steam has no
ratings. Option ``reviews`` (default true; false skips the review text).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from llmrec_cli.data.sources import jsonl
from llmrec_cli.data.sources.base import RawSource
from llmrec_cli.errors import LLMRecError

REVIEWS_FIX = "give the Steam review dump, e.g. steam_reviews.json.gz or australian_user_reviews.json.gz"
META_FIX = "give the Steam games file with --meta, e.g. steam_games.json.gz"
RAW_SCHEMA = {"user": pl.String, "item": pl.String, "date": pl.String, "review": pl.String}
ITEM_SCHEMA = {
    "item": pl.String,
    "title": pl.String,
    "genres": pl.List(pl.String),
    "tags": pl.List(pl.String),
    "specs": pl.List(pl.String),
    "developer": pl.String,
    "publisher": pl.String,
}


files = jsonl.dump_and_meta_files


def read(path: Path, options: dict) -> RawSource:
    if path.is_dir():
        raise LLMRecError(f"--source {path}: is a folder; {REVIEWS_FIX}")
    jsonl.check_file(path, "review dump", REVIEWS_FIX)
    record, _ = jsonl.first_record(path, "review dump")
    with_text = options.get("reviews", True) is not False
    notes: list[str] = []
    if "username" in record and "product_id" in record:
        interactions = read_reviews(path, with_text)
    elif "user_id" in record and "reviews" in record:
        interactions = read_user_reviews(path, with_text, notes)
    else:
        raise LLMRecError(
            f"{path}: first record has neither username/product_id (steam_reviews) nor user_id/reviews "
            f"(australian_user_reviews) (fields: {', '.join(list(record)[:8])}); {REVIEWS_FIX}"
        )
    notes.insert(0, f"{path.name}: {interactions.height:,} reviews")
    meta = jsonl.resolve_option_path(path, options, "meta_path")
    items = read_games(meta, notes) if meta else None
    return RawSource(interactions=interactions, files=files(path, options), items=items, notes=notes)


# ------------------------------------------------------------------------------------------------- reviews
def _required(record: dict, field: str, path: Path, number: int) -> str:
    value = record.get(field)
    if value is None or str(value).strip() == "":
        raise LLMRecError(f"{path}: line {number} has no {field}; fix or delete that line")
    return str(value)


def _review_rows(path: Path) -> Iterator[tuple]:
    for number, record in jsonl.records(path):
        yield (
            _required(record, "username", path, number),
            _required(record, "product_id", path, number),
            record.get("date"),
            record.get("text"),
        )


def _user_review_rows(path: Path) -> Iterator[tuple]:
    for number, record in jsonl.records(path):
        user = _required(record, "user_id", path, number)
        for review in record.get("reviews") or []:
            yield user, _required(review, "item_id", path, number), review.get("posted"), review.get("review")


def read_reviews(path: Path, with_text: bool) -> pl.DataFrame:
    raw = jsonl.frame_from_rows(_review_rows(path), RAW_SCHEMA)
    timestamp = jsonl.dates_to_seconds(raw["date"], ("%Y-%m-%d",), "2017-12-17", path, "date")
    return _interactions(raw, timestamp, with_text)


def read_user_reviews(path: Path, with_text: bool, notes: list[str]) -> pl.DataFrame:
    raw = jsonl.frame_from_rows(_user_review_rows(path), RAW_SCHEMA)
    if raw.height == 0:
        raise LLMRecError(f"{path}: no user has any review; {REVIEWS_FIX}")
    # "Posted November 5, 2011." -- reviews of the crawl's own year omit it ("Posted July 15."): no timestamp then
    posted = raw["date"].str.strip_prefix("Posted ").str.strip_suffix(".").str.strip_chars()
    timestamp = posted.str.to_datetime("%B %d, %Y", time_zone="UTC", strict=False).dt.epoch("s")
    if timestamp.null_count():
        notes.append(
            f"{path.name}: {timestamp.null_count():,} reviews have a posting date without a year: no timestamp"
        )
    return _interactions(raw, timestamp, with_text)


def _interactions(raw: pl.DataFrame, timestamp: pl.Series, with_text: bool) -> pl.DataFrame:
    columns = [raw["user"], raw["item"], timestamp.alias("timestamp")]
    if with_text:
        columns.append(raw["review"])
    df = pl.DataFrame(columns)
    return df.select([c for c in df.columns if c in ("user", "item") or df[c].null_count() < df.height])


# ------------------------------------------------------------------------------------------------- games
def read_games(path: Path, notes: list[str]) -> pl.DataFrame:
    jsonl.check_file(path, "games file", META_FIX)
    record, _ = jsonl.first_record(path, "games file")
    if "id" not in record and "app_name" not in record:
        raise LLMRecError(f"{path}: no id field in first record; {META_FIX}")
    items = jsonl.python_table(path, ITEM_SCHEMA, game_row).unique("item", keep="first", maintain_order=True)
    notes.append(f"{path.name}: {items.height:,} games with metadata")
    return items


def game_row(record: dict) -> tuple | None:
    """One steam_games record -> a row of ITEM_SCHEMA; None for the few records without an id."""
    if record.get("id") is None:
        return None
    title = record.get("app_name") or record.get("title")
    lists = [jsonl.unique_strings(record.get(name) or []) for name in ("genres", "tags", "specs")]
    text = [str(record[name]) if record.get(name) is not None else None for name in ("developer", "publisher")]
    return (str(record["id"]), str(title) if title is not None else None, *lists, *text)

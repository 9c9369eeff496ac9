"""The Yelp Open Dataset: a folder with the review, business and (optional) user JSON-lines files, plain or .gz.

``--source`` is the folder, or the review file inside it. Option ``reviews`` (default true; false skips the review
text, which is most of the dump's memory).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from llmrec_cli.data.sources import jsonl
from llmrec_cli.data.sources.base import RawSource
from llmrec_cli.errors import LLMRecError

NAMES = {
    "review": ("yelp_academic_dataset_review.json", "review.json"),
    "business": ("yelp_academic_dataset_business.json", "business.json"),
    "user": ("yelp_academic_dataset_user.json", "user.json"),
}
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")  # the 2022 release has times, older ones dates only
FIX = "give the folder of the Yelp Open Dataset (yelp_academic_dataset_review.json, ..._business.json, ..._user.json)"


def _find(folder: Path, kind: str) -> Path | None:
    for name in NAMES[kind]:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.exists():
                return candidate
    return None


def locate(path: Path) -> dict[str, Path | None]:
    """The review, business and user files of a Yelp folder (or of the folder holding the given review file)."""
    if path.is_file():
        found = {kind: _find(path.parent, kind) for kind in NAMES}
        return found | {"review": path}
    if not path.is_dir():
        raise LLMRecError(f"--source {path}: no such file or folder; {FIX}")
    found = {kind: _find(path, kind) for kind in NAMES}
    if found["review"] is None:
        raise LLMRecError(f"--source {path}: no {NAMES['review'][0]} (or review.json) in the folder; {FIX}")
    return found


def files(path: Path, options: dict) -> list[Path]:
    return [p for p in locate(path).values() if p is not None]


def read(path: Path, options: dict) -> RawSource:
    found = locate(path)
    notes = []
    interactions = read_reviews(found["review"], with_text=options.get("reviews", True) is not False)
    notes.append(f"{found['review'].name}: {interactions.height:,} reviews")
    items = read_businesses(found["business"]) if found["business"] else None
    if items is None:
        notes.append(f"no {NAMES['business'][0]} next to the reviews: items have no names or categories")
    users = read_users(found["user"]) if found["user"] else None
    return RawSource(interactions=interactions, files=files(path, options), items=items, users=users, notes=notes)


def _read(path: Path, what: str, schema: dict[str, pl.DataType], required: tuple[str, ...]) -> pl.DataFrame:
    """A Yelp JSON-lines file with only ``schema``'s fields; the ``required`` ids must be in every record."""
    jsonl.check_file(path, what, FIX)
    record, is_json = jsonl.first_record(path, what)
    missing = [name for name in required if name not in record]
    if missing:
        raise LLMRecError(f"{path}: no {' or '.join(missing)} field in first record; is this the Yelp {what}? {FIX}")
    if is_json:
        df = jsonl.read_json_lines(path, schema)
    else:
        df = jsonl.python_table(path, schema, lambda rec: tuple(rec.get(name) for name in schema))
    for name in required:
        missing_rows = df[name].is_null()
        if missing_rows.any():
            row = int(missing_rows.arg_true()[0]) + 1
            raise LLMRecError(f"{path}: record {row} (counting non-blank lines) has no {name}; fix or delete it")
    return df


def read_reviews(path: Path, with_text: bool) -> pl.DataFrame:
    schema = {"user_id": pl.String, "business_id": pl.String, "stars": pl.Float32, "date": pl.String}
    if with_text:
        schema["text"] = pl.String
    raw = _read(path, "review file", schema, ("user_id", "business_id"))
    columns = [
        raw["user_id"].alias("user"),
        raw["business_id"].alias("item"),
        raw["stars"].alias("rating"),
        jsonl.dates_to_seconds(raw["date"], DATE_FORMATS, "2018-07-07 22:09:11", path, "date").alias("timestamp"),
    ]
    if with_text:
        columns.append(raw["text"].alias("review"))
    df = pl.DataFrame(columns)
    return df.select([c for c in df.columns if c in ("user", "item") or df[c].null_count() < df.height])


def read_businesses(path: Path) -> pl.DataFrame:
    schema = {"business_id": pl.String, "name": pl.String, "city": pl.String, "categories": pl.String}
    raw = _read(path, "business file", schema, ("business_id",))
    categories = pl.col("categories").fill_null("").str.split(",").list.eval(pl.element().str.strip_chars())
    return raw.select(
        pl.col("business_id").alias("item"),
        pl.col("name").alias("title"),
        "city",
        categories.list.eval(pl.element().filter(pl.element() != "")).alias("categories"),
    ).unique("item", keep="first", maintain_order=True)


def read_users(path: Path) -> pl.DataFrame:
    schema = {"user_id": pl.String, "name": pl.String, "review_count": pl.Int64, "yelping_since": pl.String}
    raw = _read(path, "user file", schema, ("user_id",))
    present = [c for c in ("name", "review_count", "yelping_since") if raw[c].null_count() < raw.height]
    return raw.select(pl.col("user_id").alias("user"), *present).unique("user", keep="first", maintain_order=True)

"""What every source reader hands to `prepare`: raw interactions to filter and split, or a published split."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from llmrec_cli.errors import LLMRecError

SPLITS = ("train", "valid", "test")


@dataclass
class RawSource:
    """Interactions keyed by raw ids, still to be filtered and split.

    ``interactions``: ``user`` and ``item`` (string), optional ``rating`` (float32), ``timestamp`` (int64, unix
    seconds) and ``review`` (string). ``items``/``users``: ``item``/``user`` (string) plus any text columns.
    A missing id is null (never the text "NaN"): `prepare` refuses such rows, and missing or non-finite ratings.
    ``columns``: the source's column behind ``user``/``item``/``rating`` where it differs, for error messages.
    """

    interactions: pl.DataFrame
    files: list[Path]
    items: pl.DataFrame | None = None
    users: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class PresplitSource:
    """A published split with dense ids: ``splits[name]`` has ``user_id``/``item_id`` int32.

    ``users``/``items`` hold ``user_id``/``item_id`` int32, ``raw_id`` string and any text columns, one row per id.
    """

    splits: dict[str, pl.DataFrame]
    n_users: int
    n_items: int
    files: list[Path]
    users: pl.DataFrame | None = None
    items: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def require_file(path: Path, what: str, fix: str) -> Path:
    if not path.is_file():
        raise LLMRecError(f"{path}: {what} not found; {fix}")
    if path.stat().st_size == 0:
        raise LLMRecError(f"{path}: {what} is empty (0 bytes); {fix}")
    return path


def open_maybe_gzip(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when it ends in .gz; a .gz that is not gzip is a clear error."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        if data[:2] != b"\x1f\x8b":
            raise LLMRecError(f"{path}: named .gz but is not gzip data; rename it without .gz or recompress it")
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise LLMRecError(f"{path}: truncated or corrupt gzip ({exc}); download the file again") from None
    return data


def gzip_reader(path: Path) -> io.BufferedIOBase:
    """A streaming reader over ``path``, gunzipping on the fly when it ends in .gz."""
    if path.suffix != ".gz":
        return open(path, "rb")
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        raise LLMRecError(f"{path}: named .gz but is not gzip data; rename it without .gz or recompress it")
    return gzip.open(path, "rb")

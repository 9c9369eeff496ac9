"""JSON-lines dumps, plain or .gz: schema-restricted reads with polars, Python-literal lines, line-numbered errors.

The raw recommender dumps come in two flavours: strict JSON lines (Amazon reviews, Amazon 2018/2023 metadata, Yelp),
read by polars' ndjson reader with an explicit schema so only the needed fields are materialised, and Python
``repr``-style dict lines (Amazon 2014 metadata, the UCSD Steam dumps), which only ``ast.literal_eval`` can read.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from llmrec_cli.data.sources.base import gzip_reader, require_file
from llmrec_cli.errors import LLMRecError

LOCATE_BLOCK = 4 << 20  # bytes per block when hunting for the line polars rejected
FRAME_ROWS = 250_000  # Python-parsed rows gathered per polars frame, to bound the memory of Python objects
POLARS_ERRORS = (pl.exceptions.ComputeError, pl.exceptions.SchemaError, pl.exceptions.InvalidOperationError)


def check_file(path: Path, what: str, fix: str) -> Path:
    """Exists, is not empty and, when named .gz, really is gzip; otherwise a one-line error naming the fix."""
    require_file(path, what, fix)
    gzip_reader(path).close()
    return path


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) for every non-blank line, decompressing .gz on the fly."""
    try:
        with gzip_reader(path) as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    yield number, line
    except (OSError, EOFError) as exc:
        raise unreadable(path, exc) from None


def unreadable(path: Path, exc: Exception) -> LLMRecError:
    what = "truncated or corrupt gzip" if path.suffix == ".gz" else "cannot read the file"
    return LLMRecError(f"{path}: {what} ({exc}); download or copy the file again")


def parse_line(line: bytes, path: Path, number: int) -> dict:
    """A JSON object, else a Python dict literal (Amazon 2014 metadata, Steam); anything else is an error."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        try:
            record = ast.literal_eval(line.decode("utf-8", errors="replace").strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            raise LLMRecError(
                f"{path}: line {number} is neither JSON nor a Python dict ({_snippet(line)}); fix or delete that line"
            ) from None
    if not isinstance(record, dict):
        raise LLMRecError(f"{path}: line {number} is a {type(record).__name__}, expected one object per line")
    return record


def first_record(path: Path, what: str) -> tuple[dict, bool]:
    """The first record and whether it is strict JSON (so the fast polars reader applies)."""
    for number, line in iter_lines(path):
        try:
            return _json_object(line), True
        except (ValueError, RecursionError):
            return parse_line(line, path, number), False
    raise LLMRecError(f"{path}: {what} has no records (only blank lines); give the file with one record per line")


def _json_object(line: bytes) -> dict:
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not an object")
    return record


def records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) for every line, JSON first and a Python literal only when JSON fails."""
    for number, line in iter_lines(path):
        yield number, parse_line(line, path, number)


def python_table(path: Path, schema: dict[str, pl.DataType], row: Callable[[dict], tuple | None]) -> pl.DataFrame:
    """A Python-parsed file as a frame: ``row`` maps a record to a tuple in schema order, or None to skip it."""
    return frame_from_rows((r for _, rec in records(path) if (r := row(rec)) is not None), schema)


def frame_from_rows(rows: Iterator[tuple], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows of Python values (one tuple per record, in schema order) -> one frame, built a block at a time."""
    frames, block = [], []
    for row in rows:
        block.append(row)
        if len(block) == FRAME_ROWS:
            frames.append(_columns_frame(block, schema))
            block = []
    frames.append(_columns_frame(block, schema))
    return pl.concat(frames, rechunk=True)


def _columns_frame(block: list[tuple], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    columns = list(zip(*block)) if block else [[] for _ in schema]
    return pl.DataFrame({name: list(col) for name, col in zip(schema, columns)}, schema=schema, strict=False)


def read_json_lines(path: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Every line as one row of ``schema`` (other fields are skipped unparsed); errors give the line number."""
    try:
        return pl.scan_ndjson(path, schema=schema).collect(engine="streaming")
    except POLARS_ERRORS as exc:
        raise locate_bad_line(path, schema, exc) from None
    except OSError as exc:
        raise unreadable(path, exc) from None


def locate_bad_line(path: Path, schema: dict, exc: Exception) -> LLMRecError:
    """Re-read ``path`` a block at a time to name the first line polars rejects (only on the error path)."""
    seen = 0
    for block in _line_blocks(path):
        try:
            pl.read_ndjson(block, schema=schema)
        except POLARS_ERRORS as block_exc:
            lines = block.split(b"\n")
            bad = _first_bad(lines, schema)
            return _line_error(path, seen + bad + 1, lines[bad], block_exc)
        seen += block.count(b"\n")
    return LLMRecError(f"{path}: cannot read the JSON lines ({_first_line(exc)}); check that the file is complete")


def _line_blocks(path: Path) -> Iterator[bytes]:
    """The decompressed file in blocks of whole lines."""
    tail = b""
    try:
        with gzip_reader(path) as fh:
            while chunk := fh.read(LOCATE_BLOCK):
                chunk = tail + chunk
                cut = chunk.rfind(b"\n") + 1
                if cut:
                    yield chunk[:cut]
                tail = chunk[cut:]
    except (OSError, EOFError) as exc:
        raise unreadable(path, exc) from None
    if tail:
        yield tail


def _first_bad(lines: list[bytes], schema: dict) -> int:
    """Index of the first line polars rejects, by bisection (a bad line fails every block that holds it)."""
    lo, hi = 0, len(lines)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            pl.read_ndjson(b"\n".join(lines[lo:mid]) + b"\n", schema=schema)
            lo = mid
        except POLARS_ERRORS:
            hi = mid
    return lo


def _line_error(path: Path, number: int, line: bytes, exc: Exception) -> LLMRecError:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return LLMRecError(f"{path}: line {number} is not valid JSON ({_snippet(line)}); fix or delete that line")
    return LLMRecError(f"{path}: line {number} has a field of an unexpected type ({_first_line(exc)}); fix that line")


def _snippet(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace").strip()
    return repr(text[:60] + ("..." if len(text) > 60 else ""))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]


def resolve_option_path(path: Path, options: dict, key: str) -> Path | None:
    """An option's file, resolved against the source's folder when it is relative and does not exist here."""
    if not options.get(key):
        return None
    found = Path(options[key])
    if not found.is_absolute() and not found.exists():
        found = (path if path.is_dir() else path.parent) / found
    return found


def unique_strings(values) -> list[str]:
    """Non-empty strings from a (possibly nested) list, first occurrence order kept."""
    out: dict[str, None] = {}
    stack = [values]
    while stack:
        value = stack.pop()
        if isinstance(value, (list, tuple)):
            stack.extend(reversed(value))
        elif value is not None and str(value).strip():
            out.setdefault(str(value).strip(), None)
    return list(out)


def dates_to_seconds(dates: pl.Series, formats: tuple[str, ...], example: str, path: Path, field: str) -> pl.Series:
    """Date strings in any of ``formats`` (read as UTC) -> int64 unix seconds; an unreadable date is an error."""
    parsed = pl.coalesce([dates.str.to_datetime(fmt, time_zone="UTC", strict=False) for fmt in formats])
    parsed = dates.to_frame().select(parsed.alias(field)).to_series()
    bad = parsed.is_null() & dates.is_not_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise LLMRecError(
            f"{path}: record {row + 1} has {field} {dates[row]!r}, not a date like {example!r}; fix that record"
        )
    return parsed.dt.epoch("s").alias(field)


def dump_and_meta_files(path: Path, options: dict) -> list[Path]:
    """The input files of a review dump reader: the dump and, when given, its metadata file (--meta)."""
    meta = resolve_option_path(path, options, "meta_path")
    return [path] + ([meta] if meta else [])

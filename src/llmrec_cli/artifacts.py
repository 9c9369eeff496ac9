"""Artifact contracts between stages: Parquet schemas checked on read, atomic writes, manifests, staleness.

Every stage writes its folder through :func:`staged_dir` (a temporary sibling folder renamed into place), so a
killed stage never leaves half a folder, and records a ``manifest.json`` describing what produced it. A stage whose
config and inputs match the manifest is "up to date" and does nothing unless forced.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import polars as pl

from llmrec_cli import __version__
from llmrec_cli.errors import LLMRecError
from llmrec_cli.redact import redact_all

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


# --------------------------------------------------------------------------------------------------- schemas
@dataclass(frozen=True)
class Column:
    name: str
    dtype: Any  # a polars dtype, or "vector" for a list/array of float32
    required: bool = True


@dataclass(frozen=True)
class Schema:
    name: str
    columns: tuple[Column, ...]
    allow_extra: bool = False  # users/items may carry any text columns

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _id(name: str) -> Column:
    return Column(name, pl.Int32)


SPLIT = Schema(
    "split",
    (_id("user_id"), _id("item_id"), Column("rating", pl.Float32, False), Column("timestamp", pl.Int64, False)),
)
USERS = Schema("users", (_id("user_id"), Column("raw_id", pl.String)), allow_extra=True)
ITEMS = Schema("items", (_id("item_id"), Column("raw_id", pl.String)), allow_extra=True)
REVIEWS = Schema(
    "reviews",
    (
        _id("user_id"),
        _id("item_id"),
        Column("text", pl.String),
        Column("rating", pl.Float32, False),
        Column("timestamp", pl.Int64, False),
    ),
)
HISTORY = Schema("history", (Column("epoch", pl.Int32), Column("seconds", pl.Float64)), allow_extra=True)


def entity_id(entity: str) -> str:
    """The id column of an entity table: ``user_id`` for users, ``item_id`` for items."""
    if entity not in ("user", "item"):
        raise ValueError(f"entity must be 'user' or 'item', not {entity!r}")
    return f"{entity}_id"


def profiles_schema(entity: str) -> Schema:
    return Schema(
        f"{entity} profiles",
        (
            _id(entity_id(entity)),
            Column("summarization", pl.String),
            Column("reasoning", pl.String),
            Column("model", pl.String),
            Column("prompt_id", pl.String),
            Column("input_tokens", pl.Int32),
            Column("output_tokens", pl.Int32),
        ),
    )


def vectors_schema(entity: str) -> Schema:
    """Embedding vectors (embed stage) and learned representations (runs) share this contract."""
    return Schema(f"{entity} vectors", (_id(entity_id(entity)), Column("vector", "vector")))


def _dtype_ok(actual: pl.DataType, expected: Any) -> bool:
    if expected == "vector":
        return isinstance(actual, (pl.Array, pl.List)) and actual.inner == pl.Float32
    if expected == pl.String:
        return actual in (pl.String, pl.Categorical) or isinstance(actual, pl.Categorical)
    return actual == expected


def _expected_name(expected: Any) -> str:
    return "fixed-size list<float32>" if expected == "vector" else str(expected).lower()


def validate(df: pl.DataFrame, schema: Schema, path: Path | str) -> pl.DataFrame:
    """Check ``df`` against ``schema``; raise one clear error naming the file and the column otherwise."""
    for col in schema.columns:
        if col.name not in df.columns:
            if col.required:
                raise LLMRecError(
                    f"{path}: missing column '{col.name}' ({_expected_name(col.dtype)}) required by the "
                    f"{schema.name} contract; found columns {df.columns}"
                )
            continue
        if not _dtype_ok(df.schema[col.name], col.dtype):
            raise LLMRecError(
                f"{path}: column '{col.name}' has type {str(df.schema[col.name]).lower()}, expected "
                f"{_expected_name(col.dtype)} ({schema.name} contract)"
            )
    if not schema.allow_extra:
        extra = [c for c in df.columns if schema.column(c) is None]
        if extra:
            raise LLMRecError(f"{path}: unexpected columns {extra} in a {schema.name} file")
    return df


# --------------------------------------------------------------------------------------------------- reading
def read_parquet(path: Path | str, schema: Schema | None = None, columns: list[str] | None = None) -> pl.DataFrame:
    """Read a Parquet artifact, turning every failure into a one-line error that names the file."""
    path = Path(path)
    if not path.is_file():
        raise LLMRecError(f"{path}: file not found; run the stage that produces it first")
    if path.stat().st_size == 0:
        raise LLMRecError(f"{path}: file is empty (0 bytes); delete it and rerun the stage that wrote it")
    try:
        df = pl.read_parquet(path, columns=columns)
    except Exception as exc:  # polars raises several types for truncated/corrupt files
        raise LLMRecError(
            f"{path}: not a readable Parquet file ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
            "the file is truncated or corrupt, regenerate it"
        ) from None
    return validate(df, schema, path) if schema is not None else df


def read_json(path: Path | str) -> dict:
    """A JSON object; anything else (not JSON, nested too deep to parse, a list) is a one-line error naming it."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise LLMRecError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise LLMRecError(f"{path}: not valid JSON ({reason}); delete it and rerun the stage that wrote it") from None
    if not isinstance(doc, dict):
        raise LLMRecError(
            f"{path}: holds a JSON {type(doc).__name__}, not an object; delete it and rerun the stage that wrote it"
        )
    return doc


# --------------------------------------------------------------------------------------------------- writing
def _tmp_name(path: Path) -> Path:
    """Unique per process and thread: shards finishing together each write their own copy, then rename it."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")


def _pid_alive(pid: int) -> bool:
    if os.name != "posix" or pid == os.getpid():
        return True  # only POSIX can ask without harm; our own names are our own business
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # running, under another user
    except (OverflowError, ValueError):
        return False  # no process can have that id
    return True


def sweep_leftovers(path: Path | str) -> list[Path]:
    """Remove what a killed writer of ``path`` left beside it: ``.<name>.tmp-<pid>-<thread>`` (:func:`atomic_path`,
    :func:`staged_dir`) and ``.<name>.old-<pid>`` (a staged swap interrupted between its two renames), only when
    process ``pid`` is no longer running; nothing that does not match these names. Returns what was removed."""
    path = Path(path)
    prefix = f".{path.name}."
    pattern = re.compile(rf"{re.escape(prefix)}(?:tmp-(\d+)(?:-\d+)?|old-(\d+))")
    removed = []
    try:
        entries = [e for e in os.scandir(path.parent) if e.name.startswith(prefix)]
    except OSError:
        return removed  # the folder is not there yet (or unreadable: the write itself will say so)
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _pid_alive(int(match.group(1) or match.group(2))):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue  # cleaning up never fails the write
        removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` only if the block succeeds. Temporary
    files a killed writer of ``path`` left are removed first (:func:`sweep_leftovers`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(path)
    tmp = _tmp_name(path)
    try:
        yield tmp
        if tmp.exists():
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_parquet(df: pl.DataFrame, path: Path | str, schema: Schema | None = None) -> Path:
    """Validate (when a schema is given) and write atomically, zstd-compressed."""
    path = Path(path)
    if schema is not None:
        validate(df, schema, path)
    with atomic_path(path) as tmp:
        df.write_parquet(tmp, compression="zstd")
    return path


def write_csv_rows(rows: list[dict], path: Path | str, schema: dict) -> Path:
    """Rows as a CSV in the schema's column order (a missing key is an empty cell), written atomically."""
    frame = pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)
    return path


def write_json(obj: Any, path: Path | str) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    return path


@contextlib.contextmanager
def staged_dir(final: Path | str) -> Iterator[Path]:
    """Build a whole output folder in a temporary sibling and swap it in on success.

    On any error the temporary folder is removed and ``final`` is left as it was. What a killed run left (its
    temporary folder, or the previous version parked as ``.<name>.old-<pid>`` mid-swap) is removed first.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    refuse_a_foreign_folder(final)
    sweep_leftovers(final)
    tmp = _tmp_name(final)
    tmp.mkdir()
    try:
        yield tmp
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        if final.exists():
            os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def refuse_a_foreign_folder(final: Path) -> None:
    """:func:`staged_dir` replaces only what a stage made: a folder with a manifest (or an empty one). A link, a
    file, or a folder of someone else's files at that place is an error, and left as it is."""
    if not (final.exists() or final.is_symlink()):
        return
    if final.is_symlink() or not final.is_dir():
        what = "a symbolic link" if final.is_symlink() else "a file"
    elif (final / MANIFEST).is_file() or not any(final.iterdir()):
        return
    else:
        what = f"a folder without {MANIFEST} (not written by llmrec)"
    raise LLMRecError(f"{final}: {what} is in the way, left untouched; move it away or choose another name")


# --------------------------------------------------------------------------------------------------- hashing
def sha256_file(path: Path | str, known: dict | None = None) -> str:
    """sha256 of a file; reuses ``known['sha256']`` when its recorded size and mtime still match."""
    path = Path(path)
    st = path.stat()
    if known and known.get("size") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns:
        return known["sha256"]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_inputs(paths: Iterable[Path | str], previous: dict | None = None) -> dict[str, dict]:
    """{path: {sha256, size, mtime_ns}} for every input file (the previous manifest speeds up re-hashing)."""
    previous = previous or {}
    out = {}
    for p in sorted({str(Path(p).resolve()) for p in paths}):
        st = Path(p).stat()
        out[p] = {"sha256": sha256_file(p, previous.get(p)), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return out


def config_hash(config: dict) -> str:
    """sha256 of the config as recorded (credentials typed into a URL scrubbed: they never decide "up to date")."""
    return hashlib.sha256(json.dumps(redact_all(config), sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------------------------------- manifests
@dataclass
class Manifest:
    stage: str
    config: dict
    inputs: dict[str, dict]
    outputs: list[str]
    counts: dict = field(default_factory=dict)
    wall_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The manifest as written; no credential (a --base-url's userinfo or key parameter) is ever recorded."""
        return redact_all(
            {
                "stage": self.stage,
                "package_version": __version__,
                "schema_version": SCHEMA_VERSION,
                "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "config": self.config,
                "config_sha256": config_hash(self.config),
                "inputs": self.inputs,
                "outputs": self.outputs,
                "counts": self.counts,
                "wall_seconds": round(self.wall_seconds, 3),
                **self.extra,
            }
        )


def read_manifest(folder: Path | str, name: str = MANIFEST) -> dict | None:
    path = Path(folder) / name
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None  # unreadable manifest: treat the folder as stale
    return manifest if isinstance(manifest, dict) else None


def up_to_date(
    folder: Path | str,
    stage: str,
    config: dict,
    input_paths: Iterable[Path | str],
    manifest_name: str = MANIFEST,
    by_content: tuple[str, ...] = (),
) -> bool:
    """True when ``folder`` was produced by ``stage`` with this config from byte-identical inputs (the manifest
    ``manifest_name`` in it says so: evaluate keeps its own beside the run's). ``by_content`` names config keys that
    hold the path of an input folder: those compare by the inputs' bytes, not by the path as typed (the same
    vectors given as a relative or an absolute path, or copied elsewhere, are the same run)."""
    folder = Path(folder)
    manifest = read_manifest(folder, manifest_name)
    if manifest is None or manifest.get("stage") != stage:
        return False
    if manifest.get("schema_version") != SCHEMA_VERSION or not _same_config(manifest, config, by_content):
        return False
    if not all((folder / name).is_file() for name in manifest.get("outputs", [])):
        return False
    previous = manifest.get("inputs", {})
    try:
        current = describe_inputs(input_paths, previous)
    except FileNotFoundError:
        return False
    if by_content:
        return sorted(v["sha256"] for v in current.values()) == sorted(v["sha256"] for v in previous.values())
    return {k: v["sha256"] for k, v in current.items()} == {k: v["sha256"] for k, v in previous.items()}


def _same_config(manifest: dict, config: dict, by_content: tuple[str, ...]) -> bool:
    if not by_content:
        return manifest.get("config_sha256") == config_hash(config)
    recorded = {k: v for k, v in (manifest.get("config") or {}).items() if k not in by_content}
    return config_hash(recorded) == config_hash({k: v for k, v in config.items() if k not in by_content})


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

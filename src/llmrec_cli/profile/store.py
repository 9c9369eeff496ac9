"""Durable record of every finished profile and every failure, for resume after a crash or ``kill -9``.

SQLite in WAL mode, one transaction per answer, committed before the next request is counted as done: a killed run
loses at most the requests that were in flight. Rows are keyed by (entity, id, template sha256, model, input
sha256), so a changed template, model or input (e.g. a re-prepared dataset) never reuses a stale answer.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from llmrec_cli.errors import LLMRecError
from llmrec_cli.redact import redact

LOCK_TIMEOUT_S = 60.0  # generous: several --shard processes write to one store, one short transaction per answer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    entity TEXT NOT NULL, entity_id INTEGER NOT NULL, prompt_sha TEXT NOT NULL, model TEXT NOT NULL,
    input_sha TEXT NOT NULL, prompt_id TEXT NOT NULL, summarization TEXT NOT NULL, reasoning TEXT NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, attempts INTEGER NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (entity, entity_id, prompt_sha, model, input_sha)
);
CREATE TABLE IF NOT EXISTS failures (
    entity TEXT NOT NULL, entity_id INTEGER NOT NULL, prompt_sha TEXT NOT NULL, model TEXT NOT NULL,
    input_sha TEXT NOT NULL, prompt_id TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL,
    last_answer TEXT, created REAL NOT NULL,
    PRIMARY KEY (entity, entity_id, prompt_sha, model, input_sha)
);
"""

ANSWER_COLUMNS = {
    "entity": pl.String,
    "entity_id": pl.Int64,
    "prompt_sha": pl.String,
    "model": pl.String,
    "input_sha": pl.String,
    "prompt_id": pl.String,
    "summarization": pl.String,
    "reasoning": pl.String,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "attempts": pl.Int64,
    "created": pl.Float64,
}


@dataclass(frozen=True)
class Key:
    entity: str
    entity_id: int
    prompt_sha: str
    model: str
    input_sha: str

    def values(self) -> tuple:
        return (self.entity, self.entity_id, self.prompt_sha, self.model, self.input_sha)


def store_error(path: Path, exc: sqlite3.Error) -> LLMRecError:
    """One line for a failed SQLite call on the store at ``path``: what SQLite said and what to do about it."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        fix = "another process holds it (a profile run on the same folder): let it finish or stop it, then rerun"
    elif "not a database" in text or "malformed" in text:
        fix = "the store is damaged: move it away and rerun (the answers.parquet beside it resumes with --resume-from)"
    elif "unable to open" in text:
        fix = "it must be a file in a writable folder: check that path"
    else:
        fix = "check the disk (free space, errors), then rerun to resume"
    return LLMRecError(f"{path}: SQLite {type(exc).__name__}: {text}; {fix}")


def _named(method):
    """Turn the SQLite errors of a store method into :func:`store_error`, which names the store's file."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from None

    return wrapper


class ProfileStore:
    @_named
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=LOCK_TIMEOUT_S)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL: a committed row survives the process being killed; only a power cut can lose the last ones
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @_named
    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------------------------------- writes
    @_named
    def record_profile(
        self, key: Key, prompt_id: str, profile: dict, input_tokens: int, output_tokens: int, attempts: int
    ) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO profiles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    *key.values(),
                    prompt_id,
                    str(profile["summarization"]),
                    str(profile.get("reasoning", "")),
                    input_tokens,
                    output_tokens,
                    attempts,
                    time.time(),
                ),
            )
            self._db.execute(
                "DELETE FROM failures WHERE entity=? AND entity_id=? AND prompt_sha=? AND model=? AND input_sha=?",
                key.values(),
            )

    @_named
    def record_failure(self, key: Key, prompt_id: str, reason: str, attempts: int, last_answer: str | None) -> None:
        """A failure's reason and last answer are scrubbed of credentials (a server may echo them) before they are
        stored: failures.parquet is rebuilt from here."""
        reason, last_answer = redact(reason), redact(last_answer or "")[:2000]
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?,?,?,?,?,?,?,?,?,?)",
                (*key.values(), prompt_id, reason, attempts, last_answer, time.time()),
            )

    # -------------------------------------------------------------------------------------------- reads
    @_named
    def _keys(self, table: str, entity: str, prompt_sha: str, model: str) -> set[tuple[int, str]]:
        rows = self._db.execute(
            f"SELECT entity_id, input_sha FROM {table} WHERE entity=? AND prompt_sha=? AND model=?",
            (entity, prompt_sha, model),
        )
        return set(rows.fetchall())

    def finished(self, entity: str, prompt_sha: str, model: str) -> set[tuple[int, str]]:
        return self._keys("profiles", entity, prompt_sha, model)

    def failed(self, entity: str, prompt_sha: str, model: str) -> set[tuple[int, str]]:
        return self._keys("failures", entity, prompt_sha, model)

    def profiles(self, entity: str, prompt_sha: str, model: str) -> pl.DataFrame:
        return self._frame(
            "SELECT entity_id, input_sha, summarization, reasoning, model, prompt_id, input_tokens, output_tokens "
            "FROM profiles WHERE entity=? AND prompt_sha=? AND model=?",
            (entity, prompt_sha, model),
            {
                "entity_id": pl.Int64,
                "input_sha": pl.String,
                "summarization": pl.String,
                "reasoning": pl.String,
                "model": pl.String,
                "prompt_id": pl.String,
                "input_tokens": pl.Int64,
                "output_tokens": pl.Int64,
            },
        )

    def failures(self, entity: str, prompt_sha: str, model: str) -> pl.DataFrame:
        return self._frame(
            "SELECT entity_id, input_sha, prompt_id, model, reason, attempts, last_answer FROM failures "
            "WHERE entity=? AND prompt_sha=? AND model=?",
            (entity, prompt_sha, model),
            {
                "entity_id": pl.Int64,
                "input_sha": pl.String,
                "prompt_id": pl.String,
                "model": pl.String,
                "reason": pl.String,
                "attempts": pl.Int64,
                "last_answer": pl.String,
            },
        )

    # ----------------------------------------------------------------------------------- carry to a new machine
    def export_answers(self, path: Path) -> int:
        """Every finished profile, with its full key, as Parquet (written atomically); returns the row count."""
        from llmrec_cli import artifacts

        table = self._frame(
            f"SELECT {', '.join(ANSWER_COLUMNS)} FROM profiles ORDER BY entity, entity_id, created", (), ANSWER_COLUMNS
        )
        artifacts.write_parquet(table, path)
        return table.height

    @_named
    def import_answers(self, path: Path) -> int:
        """Add the answers of an ``answers.parquet`` (keeps answers already here); returns the rows read. Keys carry
        the template and input hashes, so an answer to another template or input is stored but never used."""
        table = pl.read_parquet(path)
        missing = [c for c in ANSWER_COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"{path}: not an answers file (no column {', '.join(missing)})")
        rows = table.select(list(ANSWER_COLUMNS)).rows()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                f"INSERT OR IGNORE INTO profiles ({', '.join(ANSWER_COLUMNS)}) VALUES "
                f"({','.join('?' * len(ANSWER_COLUMNS))})",
                rows,
            )
        return len(rows)

    @_named
    def _frame(self, sql: str, args: tuple, columns: dict) -> pl.DataFrame:
        rows = self._db.execute(sql, args).fetchall()
        return pl.DataFrame(rows, schema=columns, orient="row")

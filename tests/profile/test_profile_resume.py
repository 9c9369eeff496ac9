"""A profiling process killed with SIGKILL mid-run, then resumed: nothing finished is lost or asked again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import polars as pl
from loopback import LoopbackLLM, message_sha, profile_args, profile_via_server


def _recorded(store) -> dict[tuple[str, int], str]:
    if not store.exists():
        return {}
    with sqlite3.connect(store) as db:
        try:
            rows = db.execute("SELECT entity, entity_id, summarization FROM profiles").fetchall()
        except sqlite3.OperationalError:  # the table is not created yet
            return {}
    return {(e, i): s for e, i, s in rows}


def test_sigkill_mid_run_then_resume_loses_nothing_and_redoes_nothing(tiny, cli):
    store = tiny / "profiles" / "tiny" / "steam@1" / "cache.sqlite"
    with LoopbackLLM(latency=0.15) as server:
        args = profile_args(server.url, key_env=None, concurrency=2)
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmrec_cli.cli", "--workdir", str(tiny), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "COLUMNS": "120"},
        )
        deadline = time.monotonic() + 120
        while len(_recorded(store)) < 24 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        before = _recorded(store)
        assert 24 <= len(before) < 50  # killed mid-run, with items done and users under way
        assert not (store.parent / "manifest.json").exists()
        asked_before = len(server.requests)
        server.requests.clear()
        resumed = cli(*args, workdir=tiny)
        assert resumed.code == 0, resumed.err
        asked_after = {message_sha(b) for b in server.chat_requests()}
    finished_before = {s.removeprefix("S:") for s in before.values()}
    assert not asked_after & finished_before  # nothing finished was asked again
    assert len(asked_after) == 50 - len(before) and asked_before >= len(before)
    items = pl.read_parquet(store.parent / "items.parquet")
    users = pl.read_parquet(store.parent / "users.parquet")
    assert items.height == 20 and users.height == 30  # nothing lost
    final = {("item", i): s for i, s in items.select("item_id", "summarization").iter_rows()}
    final |= {("user", u): s for u, s in users.select("user_id", "summarization").iter_rows()}
    assert all(final[key] == summary for key, summary in before.items())


def test_sigterm_leaves_answers_that_resume_the_run_in_another_workdir(tmp_path, cli):
    from tiny_data import make_tiny_dataset

    first, second = tmp_path / "first", tmp_path / "second"
    make_tiny_dataset(tmp_path / "raw1", first)
    make_tiny_dataset(tmp_path / "raw2", second)
    folder = first / "profiles" / "tiny" / "steam@1"
    with LoopbackLLM(latency=0.15) as server:
        args = profile_args(server.url, key_env=None, concurrency=2)
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmrec_cli.cli", "--workdir", str(first), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while len(_recorded(folder / "cache.sqlite")) < 10 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == 130, proc.stderr.read().decode()[-2000:]
        carried = pl.read_parquet(folder / "answers.parquet")
        assert 10 <= carried.height < 50 and carried.height == len(_recorded(folder / "cache.sqlite"))
        server.requests.clear()
        resumed = cli(*args, "--resume-from", str(folder), workdir=second)
        assert resumed.code == 0, resumed.err
        asked = {message_sha(b) for b in server.chat_requests()}
    assert not asked & {s.removeprefix("S:") for s in carried["summarization"]}  # nothing carried was asked again
    assert len(asked) == 50 - carried.height
    done = second / "profiles" / "tiny" / "steam@1"
    assert pl.read_parquet(done / "items.parquet").height == 20 and pl.read_parquet(done / "users.parquet").height == 30
    assert pl.read_parquet(done / "answers.parquet").height == 50


def test_resume_from_a_folder_without_answers_is_a_one_line_error(tiny, cli, tmp_path):
    result = profile_via_server(cli, tiny, "http://127.0.0.1:9/v1", "--resume-from", str(tmp_path))
    assert result.code == 2 and "no answers.parquet there" in result.err and "Traceback" not in result.err


def test_resume_from_a_parquet_that_is_not_an_answers_file_names_the_missing_columns(tiny, cli, tmp_path):
    wrong = tmp_path / "answers.parquet"
    pl.DataFrame({"user_id": [1]}).write_parquet(wrong)
    result = profile_via_server(cli, tiny, "http://127.0.0.1:9/v1", "--resume-from", str(wrong))
    assert result.code == 2 and "not an answers file (no column entity" in result.err and "Traceback" not in result.err


def test_resume_from_a_file_that_is_not_parquet_is_a_one_line_error(tiny, cli, tmp_path):
    wrong = tmp_path / "answers.parquet"
    wrong.write_text("entity,entity_id\nitem,1\n")
    result = profile_via_server(cli, tiny, "http://127.0.0.1:9/v1", "--resume-from", str(wrong))
    assert result.code == 2 and "not a readable Parquet file" in result.err and "Traceback" not in result.err

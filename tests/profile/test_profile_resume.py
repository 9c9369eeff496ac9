"""A profiling process killed with SIGKILL mid-run, then resumed: nothing finished is lost or asked again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import polars as pl
from loopback import LoopbackLLM, message_sha


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
        args = ["profile", "--dataset", "tiny", "--prompt", "steam", "--backend", "openai", "--base-url", server.url,
                "--model", "loop", "--concurrency", "2"]
        proc = subprocess.Popen([sys.executable, "-m", "llmrec_cli.cli", "--workdir", str(tiny), *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "120"})
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

"""What a killed stage left beside its outputs (issue 17): `.NAME.tmp-PID-TID` from atomic_path/staged_dir and
`.NAME.old-PID` from an interrupted swap go when the same output is next written, only when PID is not running,
and nothing else ever does."""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl
import pytest

from llmrec_cli import artifacts


@pytest.fixture
def pids():
    """(a pid that has exited, a pid that is running)."""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield done.pid, alive.pid
    alive.kill()
    alive.wait()


def test_atomic_writes_remove_dead_writers_temporary_files_only(tmp_path, pids):
    dead, alive = pids
    out = tmp_path / "out.parquet"
    stale = tmp_path / f".out.parquet.tmp-{dead}-140001"
    stale.write_bytes(b"partial")
    stale_dir = tmp_path / f".out.parquet.tmp-{dead}-9"  # a writer that staged a folder under the file's name
    (stale_dir / "sub").mkdir(parents=True)
    keep = [
        tmp_path / f".out.parquet.tmp-{alive}-1",
        tmp_path / f".out.parquet.tmp-{os.getpid()}-2",
        tmp_path / f".other.parquet.tmp-{dead}-1",
        tmp_path / f".out.parquet.tmpx-{dead}-1",
        tmp_path / f".out.parquet.tmp-{dead}-1.bak",
        tmp_path / f"out.parquet.tmp-{dead}-1",
        tmp_path / ".out.parquet.tmp-abc-1",
    ]
    for path in keep:
        path.write_bytes(b"not ours to remove")
    artifacts.write_parquet(pl.DataFrame({"a": [1]}), out)
    assert not stale.exists() and not stale_dir.exists()
    assert all(p.read_bytes() == b"not ours to remove" for p in keep)
    assert pl.read_parquet(out)["a"].to_list() == [1]


def test_staged_dir_removes_an_interrupted_swaps_old_copy_and_temporary_folder(tmp_path, pids):
    dead, alive = pids
    final = tmp_path / "data"
    old = tmp_path / f".data.old-{dead}"  # killed between the two renames: the previous version, parked
    (old / "x").mkdir(parents=True)
    tmp = tmp_path / f".data.tmp-{dead}-77"
    tmp.mkdir()
    outside = tmp_path / "outside"
    (outside / "precious").mkdir(parents=True)
    link = tmp_path / f".data.old-{dead}9"  # a link with our name: the link goes, never what it points to
    link.symlink_to(outside, target_is_directory=True)
    busy = tmp_path / f".data.old-{alive}"  # another process mid-swap
    busy.mkdir()
    with artifacts.staged_dir(final) as folder:
        (folder / "f.txt").write_text("new")
    assert (final / "f.txt").read_text() == "new"
    assert not old.exists() and not tmp.exists() and not link.is_symlink()
    assert (outside / "precious").is_dir() and busy.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["data", "outside", busy.name])


def test_sweep_leftovers_of_a_missing_folder_is_a_no_op(tmp_path):
    assert artifacts.sweep_leftovers(tmp_path / "nowhere" / "x") == []

"""The advisory lock of an output folder (locks.py): one writer at a time, released on any exit."""

import os
import subprocess
import sys
import textwrap

import pytest

from llmrec_cli.errors import LLMRecError
from llmrec_cli.locks import folder_lock, lock_path


def test_a_second_writer_in_the_same_process_is_refused(tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    with folder_lock(run_dir):
        with pytest.raises(LLMRecError, match=f"another process is writing .*r1 \\(pid {os.getpid()}\\)"):
            with folder_lock(run_dir):
                pass
        with folder_lock(tmp_path / "runs" / "r2"):  # another run is not blocked
            pass
    with folder_lock(run_dir):  # released: free again
        pass
    assert not lock_path(run_dir).exists() and not run_dir.exists()


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    with pytest.raises(KeyError):
        with folder_lock(run_dir):
            raise KeyError("boom")
    with folder_lock(run_dir):
        pass


def test_the_lock_survives_removing_and_recreating_the_folder(tmp_path):
    """--force removes the run folder while its lock is held: the lock file is a sibling, not inside it."""
    run_dir = tmp_path / "runs" / "r1"
    with folder_lock(run_dir):
        run_dir.mkdir(parents=True)
        run_dir.rmdir()
        with pytest.raises(LLMRecError, match="another process"):
            with folder_lock(run_dir):
                pass


HOLDER = textwrap.dedent("""
    import sys, time
    from llmrec_cli.locks import folder_lock
    with folder_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def test_a_second_process_is_refused_and_a_killed_holder_frees_the_lock(tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LLMRecError, match=f"another process is writing .*r1 \\(pid {holder.pid}\\)"):
            with folder_lock(run_dir):
                pass
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(run_dir):  # kill -9 left the file behind, but not the lock
        pass


def test_an_unwritable_place_is_one_clear_error(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs folder should be")
    with pytest.raises(LLMRecError, match="cannot create the lock file"):
        with folder_lock(blocker / "r1"):
            pass

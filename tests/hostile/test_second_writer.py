"""One writer per run folder (issue 17): while another process holds a run's lock (held here from the test through
llmrec_cli.locks), every command that writes into that run gets one clear line and changes nothing. Elsewhere:
train-rlmrec in tests/rlmrec/test_train.py; the lock itself (another process, kill -9, an unwritable place) in
tests/test_locks.py."""

from __future__ import annotations

import pytest
from hostile_checks import leftovers, one_line_error, snapshot

from llmrec_cli.locks import folder_lock

WRITERS = {
    "train-baseline multivae --force": ("train-baseline", "-d", "demo", "--epochs", "1", "--run-id", "mv", "--force"),
    "train-baseline multivae --resume": ("train-baseline", "-d", "demo", "--epochs", "1", "--run-id", "mv", "--resume"),
    "train-baseline most-popular": ("train-baseline", "-d", "demo", "--model", "most-popular", "--run-id", "mv"),
    "train-rlmrec --resume": ("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "mv", "--resume"),
    "evaluate": ("evaluate", "mv", "--force"),  # before: evaluated into a run another process was replacing
    "evaluate --split valid": ("evaluate", "mv", "--split", "valid"),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_second_writer_of_a_run_gets_one_line_and_changes_nothing(cli, work, writer):
    run_dir = work / "runs" / "mv"
    before = snapshot(run_dir)
    with folder_lock(run_dir):
        one_line_error(cli(*WRITERS[writer]), "another process is writing", str(run_dir), "(pid ")
        assert snapshot(run_dir) == before
    assert leftovers(work) == []


def test_the_lock_is_free_again_once_its_holder_is_done(cli, work):
    with folder_lock(work / "runs" / "mv"):
        assert cli("evaluate", "mv").code == 2
    assert cli("evaluate", "mv").code == 0
    assert cli("evaluate", "mv", "r1").code == 0 and leftovers(work) == []

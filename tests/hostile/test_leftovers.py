"""Leftovers (issue 17): no `.tmp-*`/`.old-*` file, no lock file and no empty run folder after a finished run, an
interrupted and resumed one, or a start that failed. Elsewhere: what a killed writer left is swept by the next
(dead pids only, never through a link) in tests/test_artifacts_leftovers.py; atomic writes in tests/test_artifacts.py;
the lock file goes with its holder in tests/test_locks.py."""

from __future__ import annotations

import pytest
from hostile_checks import leftovers, one_line_error

from llmrec_cli.rlmrec import train


def test_a_finished_run_its_evaluation_and_a_rerun_leave_nothing(cli, work):
    args = ("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "fin")
    assert cli(*args).code == 0
    assert cli("evaluate", "fin").code == 0 and cli("evaluate", "fin", "--split", "valid").code == 0
    assert cli(*args).code == 0 and cli(*args, "--force").code == 0  # up to date, then replaced
    assert cli("train-baseline", "-d", "demo", "--model", "most-popular", "--run-id", "pop").code == 0
    assert leftovers(work) == []
    assert "checkpoint.pt" not in {p.name for p in (work / "runs" / "fin").iterdir()}


def test_an_interrupted_then_resumed_run_leaves_nothing(cli, work, monkeypatch):
    real = train.Trainer.train_epoch

    def interrupt_at_epoch_two(self):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(train.Trainer, "train_epoch", interrupt_at_epoch_two)
    args = ("train-rlmrec", "-d", "demo", "--epochs", "3", "--run-id", "again")
    assert cli(*args).code == 130
    assert sorted(p.name for p in (work / "runs" / "again").iterdir()) == ["checkpoint.pt"]
    monkeypatch.setattr(train.Trainer, "train_epoch", real)
    assert cli(*args, "--resume").code == 0 and leftovers(work) == []


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("train-rlmrec", "-d", "demo", "--align", "con", "--embeddings", "nowhere"), "--embeddings nowhere"),
        (("train-rlmrec", "-d", "nodata"), "nodata"),
        (("train-baseline", "-d", "nodata"), "nodata"),
        (("train-baseline", "-d", "demo", "--model", "most-popular", "--set", "x=1"), "most-popular"),
    ],
)
def test_a_start_that_fails_leaves_no_run_folder(cli, work, args, fragment):
    before = sorted(p.name for p in (work / "runs").iterdir())
    one_line_error(cli(*args, "--run-id", "failed"), fragment)
    assert sorted(p.name for p in (work / "runs").iterdir()) == before and leftovers(work) == []


def test_a_run_that_stops_at_its_first_epoch_leaves_no_empty_folder(cli, work, monkeypatch):
    """A NaN loss, an empty split or any error before the first checkpoint: the run folder goes with the lock."""

    def fail(self):
        raise ValueError("an error before the first checkpoint")

    monkeypatch.setattr(train.Trainer, "train_epoch", fail)
    with pytest.raises(ValueError):
        cli("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "early")
    assert not (work / "runs" / "early").exists() and leftovers(work) == []


def test_a_failed_prepare_leaves_nothing(cli, work, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("user,item\n" + "".join(f"u{i},i{i}\n" for i in range(30)))  # each user once: nothing survives
    result = cli("prepare", "--dataset", "custom", "--source", table, "--user-col", "user", "--item-col", "item",
                 "--kcore", "5", "--name", "empty")  # fmt: skip
    one_line_error(result, "--kcore", "is empty")
    assert not (work / "data" / "empty").exists() and leftovers(work) == []

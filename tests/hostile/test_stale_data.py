"""Stale data (issue 17): a run is never scored against, nor trained further on, a split other than the one it was
trained on. Elsewhere: evaluate and check of a vectors run after a re-prepare in tests/evaluate/test_stage.py,
embeddings from changed profiles in tests/embed/test_embed_stage.py, the provenance rules in
tests/test_provenance.py."""

from __future__ import annotations

import pytest
from hostile_checks import leftovers, one_line_error

from llmrec_cli.rlmrec import train


def prepare_again_with_another_split(cli) -> None:
    result = cli("--seed", "7", "prepare", "--dataset", "demo", "--force")  # same shape, other pairs per split
    assert result.code == 0, result.err


def test_a_scored_run_is_refused_after_the_dataset_is_prepared_again(cli, work):
    """Multi-VAE scores with its own model (not its vectors): the same check applies, in evaluate and in check."""
    assert cli("evaluate", "mv").code == 0
    prepare_again_with_another_split(cli)
    one_line_error(cli("evaluate", "mv", "--force"), "mv", "trained on another version of", "train.parquet")
    assert cli("check", work / "runs" / "mv").code == 2


def test_resume_is_refused_after_the_dataset_is_prepared_again(cli, work, monkeypatch):
    """Before: --resume continued on the new split, and the finished run recorded only that one, so neither evaluate
    nor check could tell that its first epochs had learned the new split's test items."""
    real = train.Trainer.train_epoch

    def stop_at_epoch_one(self):
        if self.epoch == 1:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(train.Trainer, "train_epoch", stop_at_epoch_one)
    args = ("train-rlmrec", "-d", "demo", "--epochs", "3", "--run-id", "k")
    assert cli(*args).code == 130
    monkeypatch.setattr(train.Trainer, "train_epoch", real)
    prepare_again_with_another_split(cli)
    one_line_error(cli(*args, "--resume"), "k/checkpoint.pt", "train.parquet", "prepared again", "--force")
    assert sorted(p.name for p in (work / "runs" / "k").iterdir()) == ["checkpoint.pt"]
    assert cli(*args, "--force").code == 0 and leftovers(work) == []


@pytest.mark.parametrize("command", ["evaluate", "check"])
def test_a_run_copied_into_another_workdir_is_checked_against_that_workdir(cli, work, tmp_path, command):
    """The same dataset name in another workdir, prepared with another split: refused there too."""
    other = tmp_path / "other"
    assert cli("--seed", "7", "prepare", "--dataset", "demo", workdir=other).code == 0
    (other / "runs").mkdir()
    (work / "runs" / "r1").rename(other / "runs" / "r1")
    target = "r1" if command == "evaluate" else other / "runs" / "r1"
    result = cli(command, target, workdir=other)
    assert result.code == 2 and "trained on another version of" in result.err and "Traceback" not in result.err

"""Experiments: named run lists that scope evaluate, check and report."""

import json

import pytest

from llmrec_cli import experiments
from llmrec_cli.errors import LLMRecError


def test_runs_are_listed_once_in_training_order(tmp_path):
    experiments.add(tmp_path, "trial", "b-run")
    experiments.add(tmp_path, "trial", "a-run")
    experiments.add(tmp_path, "trial", "b-run")
    assert experiments.runs(tmp_path, "trial") == ["b-run", "a-run"]
    assert json.loads((tmp_path / "experiments" / "trial.json").read_text())["runs"] == ["b-run", "a-run"]


def test_an_unknown_experiment_names_the_known_ones(tmp_path):
    experiments.add(tmp_path, "trial", "r")
    with pytest.raises(LLMRecError, match=r"--experiment other: no such experiment .*known: trial"):
        experiments.runs(tmp_path, "other")
    with pytest.raises(LLMRecError, match="--experiment"):
        experiments.add(tmp_path, "../escape", "r")


def test_a_damaged_experiment_file_is_a_clear_error(tmp_path):
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "bad.json").write_text('{"runs": "not a list"}')
    with pytest.raises(LLMRecError, match="not an experiment file"):
        experiments.runs(tmp_path, "bad")


def test_an_experiment_scopes_evaluate_and_report(cli, tmp_path):
    work = tmp_path / "work"
    assert cli("prepare", "--dataset", "demo").code == 0
    train = ("train-rlmrec", "--dataset", "demo", "--epochs", "1")
    assert cli("--experiment", "mine", *train, "--run-id", "in-it").code == 0
    assert cli(*train, "--run-id", "outside").code == 0
    assert experiments.runs(work, "mine") == ["in-it"]
    first = cli("--experiment", "mine", "evaluate")
    assert first.code == 0 and "in-it" in first.out and "outside" not in first.out
    again = cli("--experiment", "mine", "evaluate")
    assert "up to date: 1 of 1 runs" in again.out
    assert (work / "runs" / "in-it" / "evaluate-test.json").is_file()
    assert cli("evaluate").code == 2  # neither runs nor an experiment
    report = cli("--experiment", "mine", "report", "--out", str(tmp_path / "rep"))
    assert report.code == 0, report.err
    text = (tmp_path / "rep" / "report.md").read_text()
    assert (
        "Scope: experiment `mine`, 1 runs. Left out: 1 runs of the workdir that are not in this experiment (`outside`)"
        in text
    )
    assert cli("--experiment", "mine", "check").code == 0

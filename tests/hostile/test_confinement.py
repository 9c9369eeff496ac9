"""Confinement (issue 17): a user-given name is one folder name under the workdir, and a stage replaces or removes
only a folder that llmrec made. Elsewhere: train-rlmrec --run-id/--dataset in tests/rlmrec/test_train.py,
train-cllm4rec --run-id in tests/cllm4rec/test_cllm4rec_train.py, prepare --name and a recipe's name in
tests/data/test_prepare.py, embed --name in tests/embed/test_embed_stage.py, profile --import --name (API) in
tests/profile/test_profile_import.py, --force on a foreign folder or a link (API) in tests/test_runs.py."""

from __future__ import annotations

import json
import shutil

import pytest
from hostile_checks import one_line_error, snapshot, write_profile_tables

BAD_NAMES = ["../x", "OUTSIDE", "a/b", "", "..", "x/../../y", ".hidden", "x" * 129, "two words"]

COMMANDS = {  # the option under test is filled in with the bad name
    "train-baseline --run-id": ("train-baseline", "-d", "demo", "--epochs", "1", "--force", "--run-id"),
    "most-popular --run-id": ("train-baseline", "-d", "demo", "--model", "most-popular", "--force", "--run-id"),
    "train-baseline --dataset": ("train-baseline", "--epochs", "1", "--dataset"),
    "train-cllm4rec --dataset": ("train-cllm4rec", "--dataset"),
    "profile --dataset": ("profile", "--prompt", "steam", "--dry-run", "--dataset"),
    "embed --dataset": ("embed", "--dataset"),
    "profile --import --name": ("profile", "-d", "demo", "--import", "SOURCE", "--force", "--name"),
    "report --name": ("report", "--force", "--name"),
}


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("case", list(COMMANDS))
def test_a_name_that_is_not_one_folder_name_touches_nothing(cli, work, outside, tmp_path, monkeypatch, case, name):
    monkeypatch.chdir(tmp_path)  # report writes reports/<name> under the current directory
    name = str(outside) if name == "OUTSIDE" else name
    args = [str(outside) if a == "SOURCE" else a for a in COMMANDS[case]]
    before = snapshot(tmp_path)
    one_line_error(cli(*args, name), case.split()[-1])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", BAD_NAMES)
def test_an_experiment_name_is_one_file_name(cli, work, outside, tmp_path, name):
    name = str(outside) if name == "OUTSIDE" else name
    before = snapshot(tmp_path)
    result = cli("--experiment", name, "train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "e")
    one_line_error(result, "--experiment")
    assert snapshot(tmp_path) == before


def test_an_experiment_file_that_lists_a_path_is_refused(cli, work, tmp_path):
    """evaluate writes into each run an experiment lists: a path there would be written outside the workdir."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(work / "runs" / "r1", elsewhere)
    (work / "experiments").mkdir()
    (work / "experiments" / "x.json").write_text(json.dumps({"experiment": "x", "runs": ["r1", str(elsewhere)]}))
    before = snapshot(tmp_path, skip=work)
    one_line_error(cli("--experiment", "x", "evaluate", "--force"), "x.json", str(elsewhere), "not a run id")
    assert snapshot(tmp_path, skip=work) == before


# ------------------------------------------------------------------------------------------------ --force
@pytest.mark.parametrize("command", ["train-rlmrec", "most-popular"])
def test_force_never_removes_a_folder_llmrec_did_not_make(cli, work, command):
    mine = work / "runs" / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    args = ("train-rlmrec", "-d", "demo", "--epochs", "1")
    if command == "most-popular":
        args = ("train-baseline", "-d", "demo", "--model", "most-popular")
    one_line_error(cli(*args, "--run-id", "mine", "--force"), str(mine), "not a run folder")
    assert (mine / "notes.txt").read_text() == "mine"


def test_force_never_follows_a_link_to_a_run_elsewhere(cli, work, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(work / "runs" / "r1", elsewhere)
    (work / "runs" / "link").symlink_to(elsewhere)
    before = snapshot(elsewhere)
    one_line_error(cli("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "link", "--force"), "link")
    assert snapshot(elsewhere) == before and (work / "runs" / "link").is_symlink()


@pytest.mark.parametrize("force", [False, True])
def test_prepare_never_replaces_a_folder_llmrec_did_not_make(cli, work, force):
    """Before: data/<name> holding someone's files was replaced (and its files deleted), even without --force."""
    mine = work / "data" / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    result = cli("prepare", "--dataset", "demo", "--name", "mine", *(["--force"] if force else []))
    one_line_error(result, str(mine), "not written by llmrec", "move it away")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_prepare_never_replaces_a_link_or_a_file(cli, work, outside):
    """Before: a link at data/<name> was swapped for a folder and left behind as .<name>.old-PID; a file likewise."""
    (work / "data" / "link").symlink_to(outside)
    (work / "data" / "file").write_text("a file")
    before = snapshot(outside)
    one_line_error(cli("prepare", "--dataset", "demo", "--name", "link", "--force"), "link", "symbolic link")
    one_line_error(cli("prepare", "--dataset", "demo", "--name", "file", "--force"), "file", "a file is in the way")
    assert snapshot(outside) == before and (work / "data" / "link").is_symlink()
    assert (work / "data" / "file").read_text() == "a file"
    assert sorted(p.name for p in (work / "data").iterdir()) == ["demo", "file", "link"]


def test_report_out_never_replaces_a_folder_llmrec_did_not_make(cli, work, tmp_path):
    """--out takes any path: before, an existing folder there (say ~/Documents) was replaced by the report."""
    documents = tmp_path / "Documents"
    documents.mkdir()
    (documents / "thesis.tex").write_text("years of work")
    one_line_error(cli("report", "--out", documents), str(documents), "not written by llmrec")
    assert (documents / "thesis.tex").read_text() == "years of work"
    assert cli("report", "--out", tmp_path / "report").code == 0  # a new folder, then its own rebuild, are fine
    assert cli("report", "--out", tmp_path / "report", "--force").code == 0


def test_profile_import_never_replaces_a_folder_llmrec_did_not_make(cli, work, tmp_path):
    source = write_profile_tables(tmp_path / "profiles-src")
    mine = work / "profiles" / "demo" / "mine"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    one_line_error(cli("profile", "-d", "demo", "--import", source, "--name", "mine", "--force"), str(mine))
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert cli("profile", "-d", "demo", "--import", source, "--name", "ok").code == 0

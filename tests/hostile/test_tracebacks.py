"""No traceback (issue 17): a damaged, foreign or unreadable file, folder or store is one line naming it, exit 2.
Elsewhere: a workdir that is a file, a workdir through a link loop, full/read-only disks and -vv (OSError handler)
in tests/test_cli_errors.py; empty, truncated and foreign checkpoints (API) in tests/test_runs.py; damaged
experiment files in tests/test_experiments.py; damaged manifests and metrics under `check` in tests/test_check.py;
truncated Parquet, broken gzip, empty and header-only CSV in tests/data/test_prepare.py."""

from __future__ import annotations

import json
import os
import sqlite3
import sys

import polars as pl
import pytest
from hostile_checks import leftovers, one_line_error, write_profile_tables

DEEP = "[" * 100_000 + "]" * 100_000  # parses only with a recursion deeper than Python's limit


# ------------------------------------------------------------------------------------------------ the workdir
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders (tests/test_cli_errors.py fakes it)")
def test_a_read_only_workdir(cli, work):
    for folder in (work, *work.rglob("*")):
        if folder.is_dir():
            folder.chmod(0o555)
    try:
        one_line_error(cli("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "ro"), str(work))
    finally:
        for folder in (work, *work.rglob("*")):
            if folder.is_dir():
                folder.chmod(0o755)


def test_a_file_where_a_folder_of_the_workdir_belongs(cli, work):
    os.rename(work / "runs", work / "runs-moved")
    (work / "runs").write_text("a file")
    one_line_error(cli("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "x"), str(work / "runs"))
    (work / "profiles").write_text("a file")
    source = write_profile_tables(work.parent / "profiles-src")
    one_line_error(cli("profile", "-d", "demo", "--import", source), str(work / "profiles"))
    assert (work / "runs").read_text() == (work / "profiles").read_text() == "a file"


def test_symbolic_link_loops(cli, work, tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    source = ("prepare", "--dataset", "custom", "--user-col", "u", "--item-col", "i", "--name", "loop", "--source")
    one_line_error(cli(*source, tmp_path / "a"), str(tmp_path / "a"), "symbolic link loop")  # was a RuntimeError
    one_line_error(cli("train-rlmrec", "-d", "demo", "--config", tmp_path / "a"), str(tmp_path / "a"))
    (work / "runs" / "loop").symlink_to(work / "runs" / "loop")
    one_line_error(cli("evaluate", "loop"), "loop")
    one_line_error(cli("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "loop", "--force"), "loop")
    assert (work / "runs" / "loop").is_symlink()


# ------------------------------------------------------------------------------------------------ run folders
@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 cut short", b"\x80\x04not a pickle"])
@pytest.mark.parametrize("command", ["train-rlmrec", "train-baseline"])
def test_resume_from_an_empty_or_corrupt_checkpoint(cli, work, command, content):
    checkpoint = work / "runs" / "cut" / "checkpoint.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(content)
    result = cli(command, "-d", "demo", "--epochs", "2", "--run-id", "cut", "--resume")
    one_line_error(result, str(checkpoint), "not a readable checkpoint", "--force")


@pytest.mark.parametrize("content", [b"", "torch:{}", "torch:[1, 2]"])
def test_a_model_file_that_is_empty_or_not_ours(cli, work, content):
    """Before: a model.pt without its 'state' was a KeyError traceback."""
    import torch

    model = work / "runs" / "mv" / "model.pt"
    if isinstance(content, bytes):
        model.write_bytes(content)
    else:
        torch.save(json.loads(content.partition(":")[2]), model)
    one_line_error(cli("evaluate", "mv", "--force"), str(model), "--force")


def test_a_model_file_of_another_shape(cli, work):
    """Before: a model.pt of a run with other settings (its weights of another shape) was a RuntimeError traceback."""
    import torch

    model = work / "runs" / "mv" / "model.pt"
    saved = torch.load(model, weights_only=True)
    saved["state"] = {k: torch.cat([v, v]) for k, v in saved["state"].items()}  # every tensor twice as long
    torch.save(saved, model)
    one_line_error(cli("evaluate", "mv", "--force"), str(model), "do not fit this model", "size mismatch")


def edit_manifest(path, change) -> None:
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.pop("config"),
        lambda m: m["config"].pop("dataset"),
        lambda m: m.update(config="demo"),
        lambda m: m["config"].update(dataset=7),
    ],
    ids=["no config", "no config.dataset", "config a text", "dataset a number"],
)
def test_a_run_manifest_missing_a_field(cli, work, change):
    """Before: KeyError or TypeError tracebacks in evaluate."""
    edit_manifest(work / "runs" / "r1" / "manifest.json", change)
    one_line_error(cli("evaluate", "r1", "--force"), "r1/manifest.json", "config.dataset", "--force")


@pytest.mark.parametrize("text", ["[1, 2]", DEEP, "{not json"], ids=["a list", "nested deeply", "not json"])
def test_a_run_manifest_that_is_not_a_json_object(cli, work, text):
    """Before: AttributeError and RecursionError tracebacks in evaluate, check and report."""
    (work / "runs" / "r1" / "manifest.json").write_text(text)
    one_line_error(cli("evaluate", "r1", "--force"), "r1/manifest.json", "damaged")
    one_line_error(cli("check", work / "runs" / "r1"), "r1/manifest.json")


@pytest.mark.parametrize("text", ["[1, 2]", DEEP], ids=["a list", "nested deeply"])
def test_metrics_and_experiment_files_that_are_not_json_objects(cli, work, text):
    (work / "runs" / "r1" / "metrics.json").write_text(text)
    one_line_error(cli("evaluate", "r1", "--force"), "r1/metrics.json")
    one_line_error(cli("check", work / "runs" / "r1"), "r1/metrics.json")
    (work / "experiments").mkdir()
    (work / "experiments" / "x.json").write_text(text)
    one_line_error(cli("--experiment", "x", "evaluate"), "x.json")


# ------------------------------------------------------------------------------------------------ input tables
@pytest.mark.parametrize(
    "column",
    [pl.Series([[1], [2], [3]] * 4), pl.Series([{"a": 1}, {"a": 2}, {"a": 3}] * 4)],
    ids=["list", "struct"],
)
def test_an_id_column_that_holds_lists_or_structs(cli, work, tmp_path, column):
    """Before: a list column was polars' InvalidOperationError traceback, a struct column became text ids."""
    table = tmp_path / "interactions.parquet"
    pl.DataFrame({"user": column, "item": list(range(12))}).write_parquet(table)
    result = cli("prepare", "--dataset", "custom", "--source", table, "--user-col", "user", "--item-col", "item",
                 "--name", "nested")  # fmt: skip
    one_line_error(result, str(table), "'user'", "--user-col")
    assert not (work / "data" / "nested").exists()


def test_a_json_lines_source_nested_too_deeply(cli, work, tmp_path):
    reviews = tmp_path / "reviews.jsonl"
    line = {"reviewerID": "U1", "asin": "B1", "overall": 5.0, "unixReviewTime": 1}
    reviews.write_text(json.dumps(line) + "\n" + '{"reviewerID": ' + DEEP + "}\n")
    result = cli("prepare", "--dataset", "custom", "--format", "amazon", "--source", reviews, "--name", "deep")
    one_line_error(result, str(reviews), "line 2")


@pytest.mark.parametrize("command", ["train-rlmrec", "train-baseline"])
def test_an_empty_validation_split(cli, work, tmp_path, command):
    """Before: a numpy reshape error at the first validation, and an empty run folder left behind."""
    source = tmp_path / "split"
    source.mkdir()
    for name, rows in (("train", [(0, 0), (1, 1), (0, 1), (2, 2), (3, 3)]), ("valid", []), ("test", [(0, 2), (1, 0)])):
        frame = pl.DataFrame({"user_id": [u for u, _ in rows], "item_id": [i for _, i in rows]})
        frame.cast(pl.Int64).write_parquet(source / f"{name}.parquet")
    assert cli("prepare", "--dataset", "custom", "--format", "split", "--source", source, "--name", "novalid").code == 0
    valid = work / "data" / "novalid" / "valid.parquet"
    one_line_error(cli(command, "-d", "novalid", "--epochs", "2", "--run-id", "nv"), str(valid), "no interactions")
    assert not (work / "runs" / "nv").exists() and leftovers(work) == []


# ------------------------------------------------------------------------------------------------ SQLite and polars
def profile_store(work):
    from llmrec_cli.profile import prompts

    folder = work / "profiles" / "demo" / prompts.resolve("demo", None).id
    folder.mkdir(parents=True)
    return folder / "cache.sqlite"


PROFILE = ("profile", "-d", "demo", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
DRY_RUN = (*PROFILE, "--dry-run")


def test_a_profile_store_that_is_not_a_database(cli, work):
    store = profile_store(work)
    store.write_bytes(b"not a database, " * 100)
    one_line_error(cli(*DRY_RUN), str(store), "not a database", "move it away")
    store.unlink()
    store.mkdir()  # a dry run only reads a store that is a file; a run opens it before sending anything
    one_line_error(cli(*PROFILE, "--limit", "1"), str(store), "unable to open")


def test_a_profile_store_locked_by_another_process(cli, work, monkeypatch):
    from llmrec_cli.profile import store as store_module

    monkeypatch.setattr(store_module, "LOCK_TIMEOUT_S", 0.05)
    store = profile_store(work)
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        one_line_error(cli(*DRY_RUN), str(store), "database is locked", "another process")
    finally:
        holder.close()
    assert cli(*DRY_RUN).code == 0


def library_errors():
    import polars.exceptions
    import pyarrow.lib

    return [
        sqlite3.OperationalError("disk I/O error"),
        polars.exceptions.ComputeError("parquet: File out of specification: The file must end with PAR1"),
        pyarrow.lib.ArrowInvalid("Parquet magic bytes not found in footer"),
        RuntimeError("Symlink loop from '/w/data/x'"),
    ]


@pytest.mark.parametrize("error", library_errors(), ids=lambda e: type(e).__name__)
def test_an_error_of_sqlite_polars_or_arrow_that_escapes_a_stage(cli, monkeypatch, error):
    """The last resort in cli.main: one line with what the library said and what to do; -vv keeps the traceback."""
    from llmrec_cli.data import prepare

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(prepare, "run", fail)
    line = one_line_error(cli("prepare", "--dataset", "demo"))
    assert str(error).split(":")[0].strip("'") in line or "symbolic link loop" in line
    with pytest.raises(type(error)):
        cli("-vv", "prepare", "--dataset", "demo")


def test_a_bug_still_shows_its_traceback(cli, monkeypatch):
    from llmrec_cli.data import prepare

    monkeypatch.setattr(prepare, "run", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli("prepare", "--dataset", "demo")


def test_the_entry_point_of_a_real_process(tmp_path):
    """`python -m llmrec_cli.cli` (what the Makefile and pipelines run): the same one line, from a fresh interpreter."""
    import subprocess

    workdir = tmp_path / "work"
    workdir.write_text("not a folder")
    result = subprocess.run(
        [sys.executable, "-m", "llmrec_cli.cli", "--workdir", workdir, "evaluate", "r1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(workdir) in result.stderr

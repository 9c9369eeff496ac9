"""cli.main: an OSError escaping a stage is one line `error: <what> <path>: <strerror>; <hint>`, exit 2 (issue 17)."""

from __future__ import annotations

import errno
import os

import pytest

from llmrec_cli.errors import os_error_message


def _one_line(result):
    lines = result.err.strip().splitlines()
    assert result.code == 2, result
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


def test_a_workdir_that_is_a_file(cli, tmp_path):
    workdir = tmp_path / "work"
    workdir.write_text("not a folder")
    line = _one_line(cli("prepare", "--dataset", "demo", workdir=workdir))
    assert line.startswith(f"error: cannot use {workdir}") and "choose another --workdir" in line
    assert workdir.read_text() == "not a folder"


def test_a_symlink_loop(cli, tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    line = _one_line(cli("prepare", "--dataset", "demo", workdir=tmp_path / "a"))
    assert "Too many levels of symbolic links" in line and "symbolic link loop" in line and str(tmp_path / "a") in line


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
            "error: cannot write: No space left on device; free some space",
        ),
        (
            PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/w/data/demo"),
            "error: cannot use /w/data/demo: Permission denied; check that folder's permissions",
        ),
        (
            OSError(errno.EROFS, os.strerror(errno.EROFS), "/ro/data"),
            "error: cannot write /ro/data: Read-only file system; "
            "the file system is read-only: choose a writable --workdir",
        ),
    ],
)
def test_disk_full_permissions_and_read_only_are_one_line(cli, monkeypatch, error, expected):
    from llmrec_cli.data import prepare

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(prepare, "run", fail)
    line = _one_line(cli("prepare", "--dataset", "demo"))
    assert line.startswith(expected), line


def test_vv_keeps_the_traceback(cli, monkeypatch):
    from llmrec_cli.data import prepare

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(prepare, "run", fail)
    with pytest.raises(OSError):
        cli("-vv", "prepare", "--dataset", "demo")


def test_a_rename_names_both_paths_and_unknown_errors_still_get_a_hint():
    try:
        os.rename("/nonexistent-llmrec-a", "/nonexistent-llmrec-b")
    except OSError as exc:
        message = os_error_message(exc)
    assert message.startswith("cannot use /nonexistent-llmrec-a -> /nonexistent-llmrec-b: No such file or directory; ")
    assert os_error_message(OSError(errno.EXDEV, os.strerror(errno.EXDEV), "/x")).endswith(
        "then rerun (-vv shows where it happened)"
    )


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("evaluate", "--k", "-3", "r"), "llmrec evaluate: Invalid value for '--k'"),
        (("evaluat",), "No such command 'evaluat'. Did you mean 'evaluate'?"),
        (("train-rlmrec",), "llmrec train-rlmrec: Missing option '--dataset'"),
        (("check", "--bogus"), "llmrec check: No such option: --bogus"),
    ],
)
def test_usage_errors_are_one_line_naming_the_command(cli, args, fragment):
    result = cli(*args)
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and fragment in lines[0] and "--help` lists the options" in lines[0]


@pytest.mark.parametrize("option", ["--device", "--threads", "-v"])
def test_a_global_option_after_the_command_says_where_it_goes(cli, option):
    result = cli("train-rlmrec", "--dataset", "x", option, *(["cuda"] if option == "--device" else []))
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1
    assert f"llmrec train-rlmrec: {option} is an option of llmrec itself: put it before the command" in lines[0]
    assert f"`llmrec {option} ... train-rlmrec ...`" in lines[0]


def test_llmrec_alone_prints_its_help(cli, monkeypatch):
    import sys

    from llmrec_cli import cli as cli_module

    monkeypatch.setattr(sys, "argv", ["llmrec"])
    with pytest.raises(SystemExit) as exit_:
        cli_module.main()
    assert exit_.value.code == 0

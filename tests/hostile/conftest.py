"""Fixtures of the hostile-input suite (issue 17): a small workdir made once through the real CLI (the demo dataset,
a LightGCN run, a Multi-VAE run), copied fresh into each test as <tmp>/work, the folder the `cli` fixture uses."""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # hostile_checks.py: the assertions every case shares

MULTIVAE_SMALL = ("--set", "hidden=16", "--set", "latent=4", "--set", "batch_size=400")


def invoke(workdir: Path, *args: str) -> int:
    """`llmrec --workdir WORKDIR ARGS` through cli.main, outside any test (the session fixture has no capsys)."""
    from llmrec_cli import cli as cli_module

    argv, sys.argv = sys.argv, ["llmrec", "--workdir", str(workdir), *map(str, args)]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            cli_module.main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return 0


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Path:
    """data/demo, runs/r1 (train-rlmrec, 1 epoch) and runs/mv (train-baseline multivae, 1 epoch, small)."""
    work = tmp_path_factory.mktemp("hostile") / "work"
    for args in (
        ("prepare", "--dataset", "demo"),
        ("train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "r1"),
        ("train-baseline", "-d", "demo", "--epochs", "1", "--run-id", "mv", *MULTIVAE_SMALL),
    ):
        assert invoke(work, *args) == 0, args
    return work


@pytest.fixture
def work(template, tmp_path) -> Path:
    """A fresh copy of the template at <tmp>/work: what `cli(...)` runs in unless told otherwise."""
    shutil.copytree(template, tmp_path / "work", symlinks=True)
    return tmp_path / "work"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder beside the workdir that no command may touch."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    return folder

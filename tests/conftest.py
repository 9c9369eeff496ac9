"""Shared test helpers: run the real CLI entry point in-process and capture its exit code and output."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """cli(*args) runs `llmrec --workdir <tmp>/work *args` through llmrec_cli.cli.main."""
    from llmrec_cli import cli as cli_module

    def run(*args: str, workdir=None) -> CliResult:
        argv = ["llmrec", "--workdir", str(workdir or tmp_path / "work"), *map(str, args)]
        monkeypatch.setattr(sys, "argv", argv)
        code = 0
        try:
            cli_module.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module of tests on tiny models (threads only cost time there), restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

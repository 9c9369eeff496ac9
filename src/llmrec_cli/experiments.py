"""Experiments: named lists of runs, so that evaluate, check and report cover one experiment's runs and no others.

`llmrec --experiment NAME train-...` adds its run to ``<workdir>/experiments/NAME.json`` (also when the run was
already up to date); `llmrec --experiment NAME evaluate | check | report` then takes that list. A run may belong to
several experiments (reproduce-quick and reproduce share their RLMRec runs). Without --experiment every command
behaves as before: training records nothing and report covers every run of the workdir.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.paths import is_safe_name
from llmrec_cli.workdir import Workdir


def add(workdir: Workdir | Path, name: str, run_id: str) -> None:
    """Append ``run_id`` to the experiment (created on first use); a run already listed stays where it is."""
    path = Workdir.of(workdir).experiment(name)
    with _locked(path):
        listed = _read(path) if path.is_file() else []
        if run_id not in listed:
            artifacts.write_json({"experiment": name, "runs": [*listed, run_id]}, path)


def runs(workdir: Workdir | Path, name: str) -> list[str]:
    """The experiment's run ids in the order they were first trained."""
    wd = Workdir.of(workdir)
    path = wd.experiment(name)
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []
        raise LLMRecError(
            f"--experiment {name}: no such experiment in {wd.root} (known: {', '.join(known) or 'none'}); "
            "train with `llmrec --experiment NAME train-...` to start one"
        )
    return _read(path)


def _read(path: Path) -> list[str]:
    doc = artifacts.read_json(path)
    listed = doc.get("runs") if isinstance(doc, dict) else None
    if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
        raise LLMRecError(f'{path}: not an experiment file (expected {{"runs": [run ids]}}); remove it to start again')
    for run_id in listed:  # run ids, never paths: evaluate writes into what an experiment lists
        if not is_safe_name(run_id):
            raise LLMRecError(
                f"{path}: {run_id!r} is not a run id (a folder name under runs/); remove it from the file"
            )
    return listed


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on a sibling file for read-modify-write; waits for the other holder (it is brief)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

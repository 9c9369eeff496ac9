"""`llmrec report`: reports/<name>/report.md plus one CSV per table and PNG plots, from a workdir's artifacts.

The folder is built in a temporary sibling and swapped in whole, with a manifest of every input it read, so a
rerun over unchanged runs is a no-op.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from llmrec_cli import __version__, artifacts, experiments
from llmrec_cli.errors import LLMRecError
from llmrec_cli.report import collect, sections
from llmrec_cli.workdir import Workdir

STAGE = "report"
SPEED_CSV = Path("bench") / "rlmrec_speed.csv"


@dataclass
class ReportResult:
    folder: Path
    sections: list[sections.Section]
    runs: int
    up_to_date: bool = False


def input_files(workdir: Path) -> list[Path]:
    """Everything a report reads: each run's manifest and metrics, the datasets' and embeddings' manifests, the CSV."""
    files = []
    for pattern in (
        "runs/*/manifest.json",
        "runs/*/metrics.json",
        "data/*/manifest.json",
        "embeddings/*/*/manifest.json",
    ):
        files += workdir.glob(pattern)
    speed = workdir / SPEED_CSV
    if speed.is_file():
        files.append(speed)
    return sorted(files)


def build(workdir: Path, out: Path, name: str, force: bool = False, experiment: str | None = None) -> ReportResult:
    """The report of every run in the workdir, or of ``experiment``'s runs only (the others listed as left out)."""
    workdir = Path(workdir)
    if not Workdir.of(workdir).runs.is_dir():
        raise LLMRecError(
            f"{workdir}/runs: no runs to report; train and evaluate something first "
            "(pipelines/reproduce.sh, or --workdir pointing at the workdir you used)"
        )
    inputs = input_files(workdir)
    config = {"name": name, "workdir": str(workdir.resolve())}
    only = None
    if experiment is not None:
        only = experiments.runs(workdir, experiment)
        inputs.append(Workdir.of(workdir).experiment(experiment))
        config["experiment"] = experiment
    if not force and artifacts.up_to_date(out, STAGE, config, inputs):
        return ReportResult(out, [], 0, up_to_date=True)
    watch = artifacts.Stopwatch()
    runs = collect.read_runs(workdir, only)
    with artifacts.staged_dir(out) as tmp:
        parts = [
            sections.demo(runs),
            sections.table1(runs),
            sections.real_profiles(runs),
            sections.noise(runs, tmp),
            sections.efficiency(runs, workdir / SPEED_CSV),
            sections.cllm4rec(runs),
        ]
        for part in parts:
            for table_name, frame in part.tables.items():
                with artifacts.atomic_path(tmp / f"{table_name}.csv") as path:
                    frame.write_csv(path)
        with artifacts.atomic_path(tmp / "runs.csv") as path:
            runs.write_csv(path)
        (tmp / "report.md").write_text(render(name, workdir, runs.height, parts, scope(workdir, experiment, only)))
        outputs = sorted(p.name for p in tmp.iterdir())
        manifest = artifacts.Manifest(
            STAGE,
            config,
            artifacts.describe_inputs(inputs),
            outputs,
            counts={"runs": runs.height, "sections": len(parts)},
            wall_seconds=watch.seconds,
        )
        artifacts.write_json(manifest.to_dict(), tmp / artifacts.MANIFEST)
    return ReportResult(out, parts, runs.height)


def scope(workdir: Path, experiment: str | None, only: list[str] | None) -> str:
    """What the report covers: the whole workdir, or one experiment with the runs it left out and why."""
    if experiment is None:
        return "Scope: every run of the workdir (`llmrec --experiment NAME report` limits it to one experiment)."
    every = sorted(p.name for p in Workdir.of(workdir).runs.glob("*/"))
    left_out = [r for r in every if r not in set(only or [])]
    missing = [r for r in only or [] if r not in every]
    text = f"Scope: experiment `{experiment}`, {len(only or [])} runs."
    if left_out:
        shown = ", ".join(f"`{r}`" for r in left_out[:20]) + (
            f" and {len(left_out) - 20} more" if len(left_out) > 20 else ""
        )
        text += f" Left out: {len(left_out)} runs of the workdir that are not in this experiment ({shown})."
    if missing:
        text += f" Listed in the experiment but not in the workdir (removed?): {', '.join(f'`{r}`' for r in missing)}."
    return text


def render(name: str, workdir: Path, n_runs: int, parts: list[sections.Section], scope_line: str = "") -> str:
    today = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        f"# llmrec report: {name}",
        "",
        f"{today} · llmrec {__version__} · {n_runs} evaluated runs from `{workdir}` · "
        f"{platform.machine()}, {os.cpu_count()} CPU cores · every number below comes from a run in that workdir; "
        "each table is also a CSV next to this file, and `runs.csv` lists every run.",
        "",
        *([scope_line, ""] if scope_line else []),
        "Contents: " + " · ".join(f"{i}. {p.title}" for i, p in enumerate(parts, 1)),
    ]
    body = [f"## {i}. {p.title}\n\n{p.body}" for i, p in enumerate(parts, 1)]
    return "\n".join(header) + "\n\n" + "\n\n".join(body) + "\n"

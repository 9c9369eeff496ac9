"""`llmrec evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from llmrec_cli.commands.ui import console, globals_of, metrics_table, print_table
from llmrec_cli.errors import LLMRecError
from llmrec_cli.runtime import Globals


def register(app: typer.Typer) -> None:
    app.command()(evaluate)


def evaluate(
    ctx: typer.Context,
    runs: Optional[list[Path]] = typer.Argument(
        None, help="Run folders (or names under <workdir>/runs/); none: every run of --experiment.", show_default=False
    ),
    split: str = typer.Option("test", help="test or valid."),
    k: list[int] = typer.Option(
        [], "--k", min=1, help="Cut-offs (repeatable); default 5 10 20 (RLMRec) or 20 40 100 (CLLM4Rec)."
    ),
    recall_denominator: Optional[str] = typer.Option(
        None, help="all (|T_u|, RLMRec) or min_k (min(k, |T_u|), CLLM4Rec); default: the run's paper."
    ),
    force: bool = typer.Option(
        False, "--force", help="Evaluate again even when the run, dataset and options are unchanged."
    ),
) -> None:
    """Full-rank evaluation (training items masked); writes metrics.json, a per-user Parquet and its manifest
    (evaluate-<split>.json) per run. A run already evaluated so is skipped (up to date)."""
    from llmrec_cli.evaluate import stage

    g = globals_of(ctx)
    if split not in ("test", "valid"):
        raise LLMRecError(f"--split {split!r}: choose test or valid")
    if recall_denominator not in (None, "all", "min_k"):
        raise LLMRecError(f"--recall-denominator {recall_denominator!r}: choose all or min_k")
    results, fresh = {}, 0
    for run in _runs_or_experiment(g, runs, "evaluate"):
        ev = stage.run_one(run, g.workdir, split, k or None, recall_denominator, device=g.device, force=force)
        results[ev.run_dir.name] = ev.metrics
        fresh += not ev.up_to_date
    if fresh < len(results):
        console.print(
            f"[green]up to date[/green]: {len(results) - fresh} of {len(results)} runs (use --force to evaluate again)"
        )
    print_table(metrics_table(results, title=f"{split} metrics"))


def _runs_or_experiment(g: Globals, runs: list[Path] | None, command: str) -> list[Path]:
    """The runs named on the command line, else every run of --experiment."""
    if runs:
        return list(runs)
    if g.experiment is None:
        raise LLMRecError(f"{command}: name the runs (folders or ids), or give --experiment NAME before the command")
    from llmrec_cli import experiments

    return [Path(r) for r in experiments.runs(g.workdir, g.experiment)]

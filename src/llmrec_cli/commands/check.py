"""`llmrec check`: the typer command over :func:`llmrec_cli.check.run`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from llmrec_cli.check import run
from llmrec_cli.commands.ui import console, globals_of


def register(app: typer.Typer) -> None:
    @app.command()
    def check(
        ctx: typer.Context,
        paths: Optional[list[Path]] = typer.Argument(
            None,
            help="Artifact folders (data/NAME, profiles/..., embeddings/..., runs/ID), absolute or under the workdir.",
        ),
        every: bool = typer.Option(False, "--all", help="Also check every artifact folder under the workdir."),
    ) -> None:
        """Validate artifact folders: manifest, every listed file, Parquet schemas, finite vectors and metrics.
        With --experiment NAME before the command, that experiment's runs are checked too."""
        g = globals_of(ctx)
        folders = list(paths or [])
        if g.experiment is not None:
            from llmrec_cli import experiments

            folders += [Path("runs") / r for r in experiments.runs(g.workdir, g.experiment)]
        run(
            folders,
            Path(g.workdir),
            every,
            lambda r: console.print(escape(r.line()), highlight=False, soft_wrap=True),
            lambda failures: typer.echo("\n".join(f"failed: {f}" for f in failures), err=True),
        )

"""`llmrec report`: the typer command over :func:`llmrec_cli.report.build.build`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from llmrec_cli.commands.ui import console, globals_of
from llmrec_cli.paths import safe_name


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        ctx: typer.Context,
        name: str = typer.Option("latest", "--name", help="Report name: the folder reports/<name>/."),
        out: Optional[Path] = typer.Option(
            None, "--out", help="Output folder (default: reports/<name> under the current directory)."
        ),
        force: bool = typer.Option(False, "--force", help="Rebuild even when no run, dataset or benchmark changed."),
    ) -> None:
        """Write report.md, a CSV per table and PNG plots from every evaluated run in the workdir (with --experiment
        NAME before the command: that experiment's runs only), paper beside ours."""
        from llmrec_cli.report.build import build

        g = globals_of(ctx)
        safe_name(name, "--name")  # a folder under reports/, never a path (--out takes a path)
        result = build(g.workdir, out or Path("reports") / name, name, force, g.experiment)
        if result.up_to_date:
            console.print(f"[green]up to date[/green]: {result.folder} (use --force to rebuild)")
            return
        for i, part in enumerate(result.sections, 1):
            console.print(f"{i}. {part.title}: {len(part.tables)} table(s), {len(part.plots)} plot(s)")
        console.print(f"wrote {result.folder / 'report.md'} from {result.runs} runs")

"""What every command shows: the consoles, metric names, metric tables, progress bars, the global options.

One place for the look of the command line, so each command module only gathers options and calls its stage.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import Progress, ProgressColumn
from rich.table import Table

from llmrec_cli.runtime import Globals

console = Console()
err_console = Console(stderr=True, emoji=False)  # ":abc:" in a quoted option stays as typed
# In a log or a pipe rich would wrap every message at 80 columns; there a message stays one line.
for _out in (console, err_console):
    _out.soft_wrap = not _out.is_terminal

SIDE_BY_SIDE_RUNS = 3  # more runs than this: one row per run instead of one column per run
SHORT_METRIC = {"recall": "R", "ndcg": "N", "precision": "P", "hit": "HR", "hit_rate": "HR", "mrr": "MRR"}


def globals_of(ctx: typer.Context) -> Globals:
    """The global options (--workdir, --seed, --device, -v, --experiment), resolved once by the main callback."""
    return ctx.obj if isinstance(ctx.obj, Globals) else Globals()


def base_url_option(example: str):
    """``--base-url`` of the commands that can call an OpenAI-compatible server."""
    return typer.Option(None, "--base-url", help=f"openai: the API root, e.g. {example}.")


def api_key_env_option():
    """``--api-key-env``: where the key is read from; the key itself is never an option (it would be in logs)."""
    return typer.Option(
        "OPENAI_API_KEY",
        "--api-key-env",
        help="openai: the environment variable holding the key (never written anywhere).",
    )


def short_metric(name: str) -> str:
    """recall@20 -> R@20, ndcg@100 -> N@100 (other names unchanged)."""
    base, _, k = name.partition("@")
    return f"{SHORT_METRIC.get(base, base)}@{k}" if k else name


def progress_bar(*columns: ProgressColumn, out: Console | None = None) -> Progress:
    """A live progress display with these columns, kept on screen when done (every command's bars are built here)."""
    return Progress(*columns, console=out or console, transient=False)


def metrics_table(results: dict[str, dict], title: str = "test metrics") -> Table:
    """A few runs side by side (one column per run, one row per metric); many runs one per row, metrics across."""
    names = list(dict.fromkeys(m for r in results.values() for m in r))
    table = Table(title=title)
    if len(results) <= SIDE_BY_SIDE_RUNS:
        table.add_column("metric")
        for name in results:
            table.add_column(name, justify="right")
        for metric in names:
            table.add_row(metric, *[f"{r.get(metric, float('nan')):.4f}" for r in results.values()])
        return table
    table.add_column("run")
    for metric in names:
        table.add_column(short_metric(metric), justify="right")
    for run, r in results.items():
        table.add_row(run, *[f"{r.get(metric, float('nan')):.4f}" for metric in names])
    return table


def print_table(table: Table, out: Console | None = None) -> None:
    """On a terminal, its width; in a log or pipe, as wide as the table needs instead of rich's 80 columns."""
    out = out or console
    if out.is_terminal:
        out.print(table)
    else:  # rich caps print(width=...) at the console's width, so a console as wide as the table prints it
        Console(file=out.file, width=table_width(out, table)).print(table)


def table_width(out: Console, table: Table) -> int:
    """The width ``table`` takes when nothing limits it (rich measures against the console's width otherwise)."""
    return max(out.width, out.measure(table, options=out.options.update_width(10_000)).maximum)


def print_metrics(name: str, metrics: dict, out: Console | None = None) -> None:
    print_table(metrics_table({name: metrics}), out)

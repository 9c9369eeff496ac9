"""`llmrec datasets` and `llmrec prepare`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from llmrec_cli.commands.ui import console, globals_of
from llmrec_cli.paths import safe_name


def register(app: typer.Typer) -> None:
    app.command()(datasets)
    app.command()(prepare)


def datasets() -> None:
    """List the dataset recipes in datasets/ and what each one needs."""
    from llmrec_cli.data import recipes

    table = Table(title="dataset recipes")
    for col in ("name", "format", "source", "description"):
        table.add_column(col)
    for name in recipes.known():
        recipe, folder = recipes.load(name)
        src = recipe["source"]
        where = "shipped" if src.get("path") else "--source required"
        table.add_row(name, src["format"], where, recipe.get("description", ""))
    console.print(table)


def prepare(
    ctx: typer.Context,
    dataset: Optional[str] = typer.Option(
        None, "--dataset", "-d", help="Recipe name in datasets/ (see `llmrec datasets`)."
    ),
    source: Optional[Path] = typer.Option(None, "--source", help="Raw file or folder to read (default: the recipe's)."),
    recipe: Optional[Path] = typer.Option(
        None, "--recipe", help="Use this recipe.toml instead of datasets/<dataset>/."
    ),
    name: Optional[str] = typer.Option(
        None, "--name", help="Output name under <workdir>/data/ (default: the dataset)."
    ),
    fmt: Optional[str] = typer.Option(None, "--format", help="Reader: split, table, amazon, yelp, steam."),
    user_col: Optional[str] = typer.Option(None, help="table format: the user id column."),
    item_col: Optional[str] = typer.Option(None, help="table format: the item id column."),
    rating_col: Optional[str] = typer.Option(None, help="table format: the rating column."),
    time_col: Optional[str] = typer.Option(None, help="table format: the timestamp column (unix s/ms or dates)."),
    review_col: Optional[str] = typer.Option(None, help="table format: the review text column."),
    items_path: Optional[Path] = typer.Option(None, "--items", help="table format: an item text table (CSV/Parquet)."),
    items_key: Optional[str] = typer.Option(None, help="Item id column of --items (default: --item-col)."),
    meta_path: Optional[Path] = typer.Option(
        None, "--meta", help="amazon or steam format: the item metadata file (titles, descriptions, tags)."
    ),
    min_rating: Optional[float] = typer.Option(None, help="Drop interactions rated below this (RLMRec: 3)."),
    kcore: Optional[int] = typer.Option(None, min=0, help="Iterative k-core on users and items (RLMRec: 10)."),
    user_k: Optional[int] = typer.Option(None, min=0, help="k-core threshold for users only (overrides --kcore)."),
    item_k: Optional[int] = typer.Option(None, min=0, help="k-core threshold for items only (overrides --kcore)."),
    start: Optional[str] = typer.Option(None, help="Keep interactions at or after this date (YYYY-MM-DD)."),
    end: Optional[str] = typer.Option(None, help="Keep interactions before this date (YYYY-MM-DD)."),
    user_sample: Optional[float] = typer.Option(None, help="Seeded user sample: a fraction (<1) or a count (>=1)."),
    split_method: Optional[str] = typer.Option(None, "--split", help="ratio (per user), leave-last-out or temporal."),
    ratios: Optional[str] = typer.Option(None, help="train:valid:test, e.g. 3:1:1 (RLMRec) or 8:1:1 (CLLM4Rec)."),
    min_eval: Optional[int] = typer.Option(
        None, min=0, help="ratio split: at least this many valid and test items per user."
    ),
    noise: Optional[float] = typer.Option(None, help="Add this fraction of fake interactions to train (RLMRec RQ3)."),
    force: bool = typer.Option(False, "--force", help="Rerun even when the output is up to date."),
) -> None:
    """Read a dataset (raw dump or published split), filter, split and write dense-id Parquet artifacts."""
    from llmrec_cli.data import prepare as stage

    g = globals_of(ctx)
    if name is not None:
        safe_name(name, "--name")
    overrides = dict(
        source=source,
        format=fmt,
        user_col=user_col,
        item_col=item_col,
        rating_col=rating_col,
        time_col=time_col,
        review_col=review_col,
        items_path=str(items_path) if items_path else None,
        items_key=items_key,
        meta_path=str(meta_path) if meta_path else None,
        min_rating=min_rating,
        kcore=kcore,
        user_k=user_k,
        item_k=item_k,
        start=start,
        end=end,
        user_sample=user_sample,
        split=split_method,
        ratios=ratios,
        min_eval=min_eval,
        noise=noise,
        seed=g.seed,
        dataset=name,
    )
    cfg = stage.config_from_recipe(dataset, recipe, overrides)
    result = stage.run(cfg, g.workdir, force=force)
    if result.up_to_date:
        console.print(f"[green]up to date[/green]: {result.folder} (use --force to rerun)")
        return
    console.print(stats_table(cfg.dataset, result.stats))
    console.print(f"wrote {result.folder}")


def stats_table(dataset: str, stats: dict) -> Table:
    table = Table(title=f"prepare {dataset}", show_header=True)
    table.add_column("")
    table.add_column("value", justify="right")
    for key in ("users", "items", "train_interactions", "valid_interactions", "test_interactions", "reviews"):
        table.add_row(key.replace("_", " "), f"{stats.get(key, 0):,}")
    table.add_row("train density", f"{stats['train_density']:.2e}")
    for step in stats.get("filters", []):
        table.add_row(f"filter: {step['filter']}", f"-{step['rows_removed']:,} rows -> {step['rows']:,}")
    for key, check in stats.get("expected", {}).items():
        mark = "[green]ok[/green]" if check["ok"] else f"[red]expected {check['expected']:,}[/red]"
        table.add_row(f"check {key}", f"{check['got']:,} {mark}")
    return table

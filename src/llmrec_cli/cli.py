"""The `llmrec` command line: one thin typer command per stage over ``llmrec_cli.<stage>.run``."""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from llmrec_cli import __version__
from llmrec_cli.cli_help import PipelineGroup
from llmrec_cli.errors import LLMRecError
from llmrec_cli.paths import safe_name
from llmrec_cli.runtime import DEFAULT_WORKDIR, Globals

app = typer.Typer(
    name="llmrec",
    help="Reproduce and run LLM-enhanced recommenders (RLMRec, CLLM4Rec). Stages pass Parquet artifacts under --workdir.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=PipelineGroup,  # commands in pipeline order, switches without <bool> (llmrec_cli/cli_help.py)
)
console = Console()
err_console = Console(stderr=True)
# In a log or a pipe rich would wrap every message at 80 columns; there a message stays one line.
for _out in (console, err_console):
    _out.soft_wrap = not _out.is_terminal


def _version(value: bool) -> None:
    if value:
        console.print(f"llmrec {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    workdir: Path = typer.Option(
        DEFAULT_WORKDIR, "--workdir", envvar="LLMREC_WORKDIR", help="Folder that holds every stage's artifacts."
    ),
    seed: Optional[int] = typer.Option(
        None, "--seed", help="Random seed for sampling, splitting and training (default: the recipe's, else 2023)."
    ),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda or cuda:N."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, show_default=False,
                                help="Repeatable: -v logs info, -vv debug and shows tracebacks."),
    experiment: Optional[str] = typer.Option(
        None, "--experiment", envvar="LLMREC_EXPERIMENT",
        help="An experiment name: training adds its run to <workdir>/experiments/NAME.json; evaluate, check and report "
        "then cover that experiment's runs only (default: no experiment, every run).",
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    if experiment is not None:
        safe_name(experiment, "--experiment")
    ctx.obj = Globals(workdir=workdir, seed=seed, device=device, verbose=verbose, experiment=experiment)


def _globals(ctx: typer.Context) -> Globals:
    return ctx.obj if isinstance(ctx.obj, Globals) else Globals()


# ----------------------------------------------------------------------------------------------- prepare
@app.command()
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


@app.command()
def backbones(
    names: bool = typer.Option(False, "--names", help="Print the names only, one per line (for shell loops)."),
) -> None:
    """List the RLMRec backbones (configs/rlmrec/) and the alignments each one has settings for."""
    from llmrec_cli.rlmrec import registry

    specs = registry.backbones()
    if names:
        console.print("\n".join(specs))
        return
    table = Table(title="RLMRec backbones")
    for col in ("name", "paper name", "alignments (--align)"):
        table.add_column(col)
    for spec in specs.values():
        table.add_row(spec.name, spec.title, ", ".join(spec.variants))
    console.print(table)
    console.print(f"and --backbone {registry.SEMANTIC}: the profile vectors' cosine, no training (needs --embeddings)")


@app.command()
def prepare(
    ctx: typer.Context,
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Recipe name in datasets/ (see `llmrec datasets`)."),
    source: Optional[Path] = typer.Option(None, "--source", help="Raw file or folder to read (default: the recipe's)."),
    recipe: Optional[Path] = typer.Option(None, "--recipe", help="Use this recipe.toml instead of datasets/<dataset>/."),
    name: Optional[str] = typer.Option(None, "--name", help="Output name under <workdir>/data/ (default: the dataset)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Reader: split, table, amazon, yelp, steam."),
    user_col: Optional[str] = typer.Option(None, help="table format: the user id column."),
    item_col: Optional[str] = typer.Option(None, help="table format: the item id column."),
    rating_col: Optional[str] = typer.Option(None, help="table format: the rating column."),
    time_col: Optional[str] = typer.Option(None, help="table format: the timestamp column (unix s/ms or dates)."),
    review_col: Optional[str] = typer.Option(None, help="table format: the review text column."),
    items_path: Optional[Path] = typer.Option(None, "--items", help="table format: an item text table (CSV/Parquet)."),
    items_key: Optional[str] = typer.Option(None, help="Item id column of --items (default: --item-col)."),
    meta_path: Optional[Path] = typer.Option(None, "--meta", help="amazon or steam format: the item metadata file (titles, descriptions, tags)."),
    min_rating: Optional[float] = typer.Option(None, help="Drop interactions rated below this (RLMRec: 3)."),
    kcore: Optional[int] = typer.Option(None, min=0, help="Iterative k-core on users and items (RLMRec: 10)."),
    user_k: Optional[int] = typer.Option(None, min=0, help="k-core threshold for users only (overrides --kcore)."),
    item_k: Optional[int] = typer.Option(None, min=0, help="k-core threshold for items only (overrides --kcore)."),
    start: Optional[str] = typer.Option(None, help="Keep interactions at or after this date (YYYY-MM-DD)."),
    end: Optional[str] = typer.Option(None, help="Keep interactions before this date (YYYY-MM-DD)."),
    user_sample: Optional[float] = typer.Option(None, help="Seeded user sample: a fraction (<1) or a count (>=1)."),
    split_method: Optional[str] = typer.Option(None, "--split", help="ratio (per user), leave-last-out or temporal."),
    ratios: Optional[str] = typer.Option(None, help="train:valid:test, e.g. 3:1:1 (RLMRec) or 8:1:1 (CLLM4Rec)."),
    min_eval: Optional[int] = typer.Option(None, min=0, help="ratio split: at least this many valid and test items per user."),
    noise: Optional[float] = typer.Option(None, help="Add this fraction of fake interactions to train (RLMRec RQ3)."),
    force: bool = typer.Option(False, "--force", help="Rerun even when the output is up to date."),
) -> None:
    """Read a dataset (raw dump or published split), filter, split and write dense-id Parquet artifacts."""
    from llmrec_cli.data import prepare as stage

    g = _globals(ctx)
    if name is not None:
        safe_name(name, "--name")
    overrides = dict(
        source=source, format=fmt, user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
        review_col=review_col, items_path=str(items_path) if items_path else None, items_key=items_key,
        meta_path=str(meta_path) if meta_path else None, min_rating=min_rating, kcore=kcore, user_k=user_k,
        item_k=item_k, start=start, end=end, user_sample=user_sample, split=split_method,
        ratios=ratios, min_eval=min_eval, noise=noise, seed=g.seed, dataset=name,
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


# ----------------------------------------------------------------------------------------------- RLMRec
@app.command("train-rlmrec")
def train_rlmrec(
    ctx: typer.Context,
    dataset: str = typer.Option(..., "--dataset", "-d", help="A prepared dataset (llmrec prepare)."),
    backbone: str = typer.Option("lightgcn", help="A graph CF backbone (`llmrec backbones` lists them: gccf, lightgcn, sgl, simgcl, dccf, autocf), or semantic (profile embeddings only, no training)."),
    align: str = typer.Option("none", help="none (base), con (RLMRec-Con), gen (RLMRec-Gen) or kar (the KAR baseline); `llmrec backbones` shows which each backbone has."),
    embeddings: Optional[str] = typer.Option(
        None, help="Semantic vectors for con/gen: an embed output folder (or its encoder name), or random:DIM."
    ),
    config: Optional[Path] = typer.Option(None, "--config", help="A TOML file overriding configs/rlmrec values."),
    set_: list[str] = typer.Option([], "--set", help="Override one hyperparameter, e.g. --set layers=2 (repeatable)."),
    epochs: Optional[int] = typer.Option(
        None, min=1, help="Maximum epochs (default 3000: early stopping decides). Validation runs every eval_every "
        "epochs (3: epochs 0, 3, 6, ...) and always on the last, so --epochs 2 validates epochs 0 and 1 and keeps the better."
    ),
    align_weight: Optional[float] = typer.Option(
        None, min=0, help="The alignment term's weight (con: kd_weight, gen: recon_weight; default: the config's). "
        "0 trains the variant's settings without the term, a control (default run id suffix -w0)."
    ),
    align_precision: str = typer.Option(
        "fp32", help="fp32 (as the paper) or bf16: Con/Gen's wide products in bfloat16 autocast, ~2x faster epochs on "
        "CPUs with AVX512-BF16/AMX and on recent GPUs (docs/results.md has the measured speed and metric change)."
    ),
    run_id: Optional[str] = typer.Option(None, help="Run folder name under <workdir>/runs/ (default from the options)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
    force: bool = typer.Option(False, "--force", help="Retrain even when the run is up to date (discards it)."),
) -> None:
    """Train a graph CF backbone with BPR, optionally aligned with LLM profile embeddings (RLMRec-Con / -Gen)."""
    from llmrec_cli.rlmrec import config as rl_config
    from llmrec_cli.rlmrec import train
    from llmrec_cli.settings import recipe_of

    g = _globals(ctx)
    safe_name(dataset, "--dataset")
    overrides = rl_config.parse_set(set_)
    if epochs is not None:
        overrides["max_epochs"] = epochs
    _alignment_options(backbone, align, align_weight, align_precision, overrides)
    recipe = recipe_of(g.workdir, dataset)
    hp = rl_config.resolve(backbone, align, recipe, config, overrides)
    changed = rl_config.changed(hp, rl_config.resolve(backbone, align, recipe))
    req = train.TrainRequest(dataset=dataset, hp=hp, embeddings=embeddings, changed=changed, seed=g.seed_or(),
                             device=g.device, run_id=run_id, resume=resume, force=force)
    result = train.run(req, g.workdir) if backbone == "semantic" else _train_with_progress(req, g.workdir)
    g.record_run(result.run_dir)
    if result.up_to_date:
        console.print(f"[green]up to date[/green]: {result.run_dir} (use --force to retrain)")
    else:
        console.print(f"best epoch {result.best_epoch} of {result.epochs_run}, {result.seconds_per_epoch:.2f} s/epoch")
    console.print(metrics_table({result.run_dir.name: result.metrics}))
    console.print(f"run: {result.run_dir}")


def _alignment_options(backbone: str, align: str, weight: float | None, precision: str, overrides: dict) -> None:
    """--align-weight and --align-precision as settings of the alignment, checked before any data is read."""
    from llmrec_cli.rlmrec import registry
    from llmrec_cli.rlmrec.alignments.base import precision_of

    strategy = registry.alignment(align) if backbone != registry.SEMANTIC else None
    if weight is not None:
        if strategy is None or strategy.weight_key is None:
            raise LLMRecError(f"--align-weight: --align {align} has no alignment term to weigh; use it with con or gen")
        # a whole number is kept whole, as `--set kd_weight=0` records it (the run's config hash stays the same)
        overrides[strategy.weight_key] = int(weight) if float(weight).is_integer() else weight
    precision_of({"align_precision": precision})
    if precision != "fp32":  # recorded only when not the default, so fp32 runs keep their config hash
        if strategy is None or "align_precision" not in strategy.defaults:
            raise LLMRecError(f"--align-precision {precision}: only con and gen have wide products to run in bf16")
        overrides["align_precision"] = precision


def _train_with_progress(req, workdir: Path):
    from llmrec_cli.progress import epoch_progress
    from llmrec_cli.rlmrec import train

    with epoch_progress(console, int(req.hp["max_epochs"])) as on_epoch:
        return train.run(req, workdir, on_epoch)


@app.command()
def evaluate(
    ctx: typer.Context,
    runs: Optional[list[Path]] = typer.Argument(
        None, help="Run folders (or names under <workdir>/runs/); none: every run of --experiment.", show_default=False
    ),
    split: str = typer.Option("test", help="test or valid."),
    k: list[int] = typer.Option([], "--k", min=1, help="Cut-offs (repeatable); default 5 10 20 (RLMRec) or 20 40 100 (CLLM4Rec)."),
    recall_denominator: Optional[str] = typer.Option(
        None, help="all (|T_u|, RLMRec) or min_k (min(k, |T_u|), CLLM4Rec); default: the run's paper."
    ),
    force: bool = typer.Option(False, "--force", help="Evaluate again even when the run, dataset and options are unchanged."),
) -> None:
    """Full-rank evaluation (training items masked); writes metrics.json, a per-user Parquet and its manifest
    (evaluate-<split>.json) per run. A run already evaluated so is skipped (up to date)."""
    from llmrec_cli.evaluate import stage

    g = _globals(ctx)
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
        console.print(f"[green]up to date[/green]: {len(results) - fresh} of {len(results)} runs (use --force to evaluate again)")
    print_table(metrics_table(results, title=f"{split} metrics"))


def _runs_or_experiment(g: Globals, runs: list[Path] | None, command: str) -> list[Path]:
    """The runs named on the command line, else every run of --experiment."""
    if runs:
        return list(runs)
    if g.experiment is None:
        raise LLMRecError(f"{command}: name the runs (folders or ids), or give --experiment NAME before the command")
    from llmrec_cli import experiments

    return [Path(r) for r in experiments.runs(g.workdir, g.experiment)]


SIDE_BY_SIDE_RUNS = 3  # more runs than this: one row per run instead of one column per run
SHORT_METRIC = {"recall": "R", "ndcg": "N", "precision": "P", "hit": "HR", "hit_rate": "HR", "mrr": "MRR"}


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


def short_metric(name: str) -> str:
    """recall@20 -> R@20, ndcg@10 -> N@10 (column headers of the many-runs table)."""
    base, _, k = name.partition("@")
    return f"{SHORT_METRIC.get(base, base)}@{k}" if k else name


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


from llmrec_cli.profile.commands import register as _register_profile  # noqa: E402

_register_profile(app, console, _globals)

from llmrec_cli.cllm4rec.commands import register as _register_cllm4rec  # noqa: E402

_register_cllm4rec(app, console, _globals)

from llmrec_cli.embed.commands import register as _register_embed  # noqa: E402

_register_embed(app, console, _globals)

from llmrec_cli.check import register as _register_check  # noqa: E402

_register_check(app, console, _globals)

from llmrec_cli.report.commands import register as _register_report  # noqa: E402

_register_report(app, console, _globals)


# ----------------------------------------------------------------------------------------------- entry point
def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry: bad input is one line on stderr and exit code 2, never a traceback."""
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill`, CI timeouts: unwind like Ctrl-C so stages save what they have
    try:
        app(prog_name="llmrec")  # also under `python -m llmrec_cli.cli`, as the Makefile and pipelines call it
    except LLMRecError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        if "-vv" in sys.argv:
            raise
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted; rerun the same command to resume or redo the stage")
        sys.exit(130)
    except OSError as exc:  # read-only or full disk, permissions, a file where a folder belongs, a link loop
        from llmrec_cli.errors import os_error_message

        error = LLMRecError(os_error_message(exc))
        err_console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        if "-vv" in sys.argv:
            raise
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()

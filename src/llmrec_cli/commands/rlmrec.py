"""`llmrec backbones` and `llmrec train-rlmrec`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from llmrec_cli.commands.ui import console, err_console, globals_of, metrics_table
from llmrec_cli.errors import LLMRecError
from llmrec_cli.paths import safe_name


def register(app: typer.Typer) -> None:
    app.command()(backbones)
    app.command("train-rlmrec")(train_rlmrec)


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


def train_rlmrec(
    ctx: typer.Context,
    dataset: str = typer.Option(..., "--dataset", "-d", help="A prepared dataset (llmrec prepare)."),
    backbone: str = typer.Option(
        "lightgcn",
        help="A graph CF backbone (`llmrec backbones` lists them: gccf, lightgcn, sgl, "
        "simgcl, dccf, autocf), or semantic (profile embeddings only, no training).",
    ),
    align: str = typer.Option(
        "none",
        help="none (base), con (RLMRec-Con), gen (RLMRec-Gen) or kar (the KAR baseline); "
        "`llmrec backbones` shows which each backbone has.",
    ),
    embeddings: Optional[str] = typer.Option(
        None, help="Semantic vectors for con/gen: an embed output folder (or its encoder name), or random:DIM."
    ),
    config: Optional[Path] = typer.Option(None, "--config", help="A TOML file overriding configs/rlmrec values."),
    set_: list[str] = typer.Option([], "--set", help="Override one hyperparameter, e.g. --set layers=2 (repeatable)."),
    epochs: Optional[int] = typer.Option(
        None,
        min=1,
        help="Maximum epochs (default 3000: early stopping decides). Validation runs every eval_every "
        "epochs (3: epochs 0, 3, 6, ...) and always on the last, "
        "so --epochs 2 validates epochs 0 and 1 and keeps the better.",
    ),
    align_weight: Optional[float] = typer.Option(
        None,
        min=0,
        help="The alignment term's weight (con: kd_weight, gen: recon_weight; default: the config's). "
        "0 trains the variant's settings without the term, a control (default run id suffix -w0).",
    ),
    align_precision: str = typer.Option(
        "fp32",
        help="fp32 (as the paper) or bf16: Con/Gen's wide products in bfloat16 autocast, ~2x faster epochs on "
        "CPUs with AVX512-BF16/AMX and on recent GPUs, slower on CPUs without them (a warning says so) "
        "(docs/results.md has the measured speed and metric change).",
    ),
    run_id: Optional[str] = typer.Option(
        None, help="Run folder name under <workdir>/runs/ (default from the options)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
    force: bool = typer.Option(False, "--force", help="Retrain even when the run is up to date (discards it)."),
) -> None:
    """Train a graph CF backbone with BPR, optionally aligned with LLM profile embeddings (RLMRec-Con / -Gen)."""
    from llmrec_cli.rlmrec import config as rl_config
    from llmrec_cli.rlmrec import train
    from llmrec_cli.settings import recipe_of

    g = globals_of(ctx)
    safe_name(dataset, "--dataset")
    overrides = rl_config.parse_set(set_)
    if epochs is not None:
        overrides["max_epochs"] = epochs
    _alignment_options(backbone, align, align_weight, align_precision, overrides)
    if align_precision == "bf16":
        _warn_on_emulated_bf16(g.device)
    recipe = recipe_of(g.workdir, dataset)
    hp = rl_config.resolve(backbone, align, recipe, config, overrides)
    changed = rl_config.changed(hp, rl_config.resolve(backbone, align, recipe))
    req = train.TrainRequest(
        dataset=dataset,
        hp=hp,
        embeddings=embeddings,
        changed=changed,
        **g.run_options(run_id, resume, force),
    )
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


def _warn_on_emulated_bf16(device: str) -> None:
    """bf16 is a speed option: say so when this CPU would run it slower than fp32 (the run goes on as asked)."""
    from llmrec_cli.runtime import cpu_has_native_bf16, resolve_device

    if resolve_device(device) == "cpu" and cpu_has_native_bf16() is False:
        err_console.print(
            "[yellow]warning[/yellow]: --align-precision bf16 on a CPU without AVX512-BF16 or AMX: its products run "
            "slower than fp32 here (docs/results.md); drop the option for speed"
        )


def _train_with_progress(req, workdir: Path):
    from llmrec_cli.commands.progress import epoch_progress
    from llmrec_cli.rlmrec import train

    with epoch_progress(console, int(req.hp["max_epochs"])) as on_epoch:
        return train.run(req, workdir, on_epoch)

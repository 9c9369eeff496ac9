"""`llmrec train-cllm4rec` and `llmrec train-baseline`: typer commands over cllm4rec.train.run and the baselines.

Two commands, not three: the two reference baselines (Multi-VAE, most-popular) share every option that matters
(dataset, run id, seed, resume) and the same evaluate path, so one `train-baseline --model` serves both, while
CLLM4Rec's many options get a command of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from llmrec_cli.commands.ui import console, globals_of, metrics_table, progress_bar


def register(app: typer.Typer) -> None:
    cl, vae = _default_text("cllm4rec"), _default_text("multivae")

    @app.command("train-cllm4rec")
    def train_cllm4rec(
        ctx: typer.Context,
        dataset: str = typer.Option(..., "--dataset", "-d", help="A prepared dataset (llmrec prepare)."),
        stage: str = typer.Option("all", help="pretrain, finetune (needs --pretrained) or all."),
        backbone: str = typer.Option(
            "smollm2",
            help="A Hugging Face causal-LM folder, a .gguf file, "
            "smollm2 (offline default) or tiny-gpt2[:LAYERS:WIDTH].",
        ),
        layers: Optional[int] = typer.Option(
            None, min=1, help="Keep only the first N transformer blocks of the backbone (cheaper CPU runs)."
        ),
        pretrained: Optional[str] = typer.Option(
            None, help="--stage finetune: the run (folder or id) whose pretrained.pt to start from."
        ),
        config: Optional[Path] = typer.Option(
            None, "--config", help="A TOML file overriding configs/cllm4rec/cllm4rec.toml values."
        ),
        set_: list[str] = typer.Option(
            [], "--set", help="Override one hyperparameter, e.g. --set lambda_v=0.5 (repeatable)."
        ),
        warmup_epochs: Optional[int] = typer.Option(
            None, min=0, help=f"Content-LM-only epochs ({cl('warmup_epochs')})."
        ),
        pretrain_epochs: Optional[int] = typer.Option(
            None, min=0, help=f"Alternating L-step/C-step epochs ({cl('pretrain_epochs')})."
        ),
        finetune_epochs: Optional[int] = typer.Option(
            None, min=0, help=f"Finetuning epochs ({cl('finetune_epochs')})."
        ),
        batch_size: Optional[int] = typer.Option(
            None, min=1, help=f"Sequences per step ({cl('batch_size', '20 per GPU x 8 GPUs in the code')})."
        ),
        eval_batch_size: Optional[int] = typer.Option(
            None, min=1, help=f"Users per prediction batch ({cl('eval_batch_size')})."
        ),
        lr_pretrain: Optional[float] = typer.Option(None, min=0, help=f"Adam lr of pretraining ({cl('lr_pretrain')})."),
        lr_finetune: Optional[float] = typer.Option(None, min=0, help=f"Adam lr of finetuning ({cl('lr_finetune')})."),
        lambda_v: Optional[float] = typer.Option(
            None, "--lambda", min=0, help=f"Mutual-regularisation weight lambda_V ({cl('lambda_v')})."
        ),
        max_len: Optional[int] = typer.Option(
            None, min=1, help=f"Token limit per sequence, capped by the backbone ({cl('max_len')})."
        ),
        shuffle_pretrain_items: Optional[bool] = typer.Option(
            None,
            "--shuffle-pretrain-items/--no-shuffle-pretrain-items",
            help="Permute the items of collaborative documents every epoch (paper) "
            f"instead of ascending ids (code); {cl('shuffle_pretrain_items')}.",
        ),
        finetune_target: Optional[str] = typer.Option(
            None,
            help=f"all (code: every training item) or masked (paper: the hold-out items); {cl('finetune_target')}.",
        ),
        score_first_token: Optional[bool] = typer.Option(
            None,
            "--score-first-token/--no-score-first-token",
            help="Also predict the first main token from the prompt (paper); "
            f"the code skips it; {cl('score_first_token')}.",
        ),
        content_init: Optional[str] = typer.Option(
            None,
            help="independent (code) or around (content tables drawn around the collaborative ones); "
            f"{cl('content_init')}.",
        ),
        content_in_finetune: Optional[bool] = typer.Option(
            None,
            "--content-in-finetune/--no-content-in-finetune",
            help=f"Run the content pass in every finetuning epoch ({cl('content_in_finetune')}, as in the code).",
        ),
        amp: Optional[bool] = typer.Option(
            None, "--amp/--no-amp", help=f"bf16 autocast on CUDA, ignored on CPU ({cl('amp')})."
        ),
        run_id: Optional[str] = typer.Option(
            None, help="Run folder name under <workdir>/runs/ (default from the options)."
        ),
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
        force: bool = typer.Option(False, "--force", help="Retrain even when the run is up to date (discards it)."),
        checkpoint_minutes: float = typer.Option(
            10.0, min=0.01, help="Also checkpoint within a pass at this interval."
        ),
    ) -> None:
        """CLLM4Rec: pretrain (content + collaborative LMs with mutual regularisation) and finetune (masked prompts,
        multinomial head over all items) user/item tokens on a frozen causal LM. Hyperparameters (the official code's
        by default): configs/cllm4rec/cllm4rec.toml < --config < --set < an explicit option."""
        from llmrec_cli.cllm4rec import train

        g = globals_of(ctx)
        options = dict(
            warmup_epochs=warmup_epochs,
            pretrain_epochs=pretrain_epochs,
            finetune_epochs=finetune_epochs,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            lr_pretrain=lr_pretrain,
            lr_finetune=lr_finetune,
            lambda_v=lambda_v,
            max_len=max_len,
            shuffle_pretrain_items=shuffle_pretrain_items,
            finetune_target=finetune_target,
            score_first_token=score_first_token,
            content_init=content_init,
            content_in_finetune=content_in_finetune,
            amp=amp,
        )
        hp = _resolve(train.MODEL_CONFIG, g.workdir, dataset, config, set_, options)
        req = train.CLLM4RecRequest(
            dataset=dataset,
            stage=stage,
            backbone=backbone,
            layers=layers,
            pretrained=pretrained,
            hp=hp,
            **g.run_options(run_id, resume, force),
            checkpoint_seconds=checkpoint_minutes * 60,
        )
        with _progress() as progress:
            result = train.run(req, g.workdir, _pass_bar(progress))
        g.record_run(result.run_dir)
        if result.up_to_date:
            console.print(f"[green]up to date[/green]: {result.run_dir} (use --force to retrain)")
        else:
            console.print(f"best finetuning epoch {result.best_epoch}, {result.seconds:.0f} s")
        _print_metrics(result.run_dir.name, result.metrics)

    @app.command("train-baseline")
    def train_baseline(
        ctx: typer.Context,
        dataset: str = typer.Option(..., "--dataset", "-d", help="A prepared dataset (llmrec prepare)."),
        model: str = typer.Option("multivae", help="multivae (Liang et al. 2018) or most-popular."),
        config: Optional[Path] = typer.Option(
            None, "--config", help="multivae: a TOML file overriding configs/cllm4rec/multivae.toml values."
        ),
        set_: list[str] = typer.Option(
            [], "--set", help="multivae: override one hyperparameter, e.g. --set dropout=0.3 (repeatable)."
        ),
        epochs: Optional[int] = typer.Option(None, min=1, help=f"multivae: training epochs ({vae('epochs')})."),
        batch_size: Optional[int] = typer.Option(None, min=1, help=f"multivae: users per step ({vae('batch_size')})."),
        lr: Optional[float] = typer.Option(None, min=0, help=f"multivae: Adam learning rate ({vae('lr')})."),
        total_anneal_steps: Optional[int] = typer.Option(
            None, min=1, help=f"multivae: updates over which beta reaches its cap ({vae('total_anneal_steps')})."
        ),
        anneal_cap: Optional[float] = typer.Option(
            None, min=0, help=f"multivae: the largest KL weight beta ({vae('anneal_cap')})."
        ),
        run_id: Optional[str] = typer.Option(None, help="Run folder name under <workdir>/runs/."),
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
        force: bool = typer.Option(False, "--force", help="Retrain even when the run is up to date."),
    ) -> None:
        """Reference baselines scored like CLLM4Rec (Recall@20/40 with min(k, |T_u|), NDCG@100):
        Multi-VAE, most-popular."""
        from llmrec_cli.errors import LLMRecError

        g = globals_of(ctx)
        if model == "most-popular":
            from llmrec_cli.cllm4rec import popularity

            if config is not None or set_:
                raise LLMRecError("--config/--set: most-popular has no settings")

            run_dir, metrics, fresh = popularity.run(dataset, g.workdir, run_id, force)
            g.record_run(run_dir)
            console.print(f"[green]up to date[/green]: {run_dir}" if fresh else f"wrote {run_dir}")
            _print_metrics(run_dir.name, metrics)
            return
        if model != "multivae":
            raise LLMRecError(f"--model {model!r}: choose multivae or most-popular")
        from llmrec_cli.cllm4rec import multivae

        options = dict(
            epochs=epochs, batch_size=batch_size, lr=lr, total_anneal_steps=total_anneal_steps, anneal_cap=anneal_cap
        )
        hp = _resolve(multivae.MODEL_CONFIG, g.workdir, dataset, config, set_, options)
        req = multivae.BaselineRequest(
            dataset=dataset,
            model=model,
            hp=hp,
            **g.run_options(run_id, resume, force),
        )
        with _progress() as progress:
            task = progress.add_task("multivae", total=int(req.hp["epochs"]), info="")

            def on_epoch(row: dict) -> None:
                info = f"nll={row['loss_nll']:.3f} kl={row['loss_kl']:.3f} valid N@100={row['valid_ndcg@100']:.4f}"
                progress.update(task, completed=row["epoch"] + 1, info=info)
                if not console.is_terminal:  # a log file gets one line per epoch instead of a live bar
                    console.print(f"epoch {row['epoch']}: {info} ({row['seconds']:.1f} s)", highlight=False)

            result = multivae.run(req, g.workdir, on_epoch)
        g.record_run(result.run_dir)
        console.print(
            f"[green]up to date[/green]: {result.run_dir}"
            if result.up_to_date
            else f"best epoch {result.best_epoch}, {result.seconds:.0f} s"
        )
        _print_metrics(result.run_dir.name, result.metrics)


def _resolve(model: str, workdir: Path, dataset: str, config: Path | None, set_: list[str], options: dict) -> dict:
    """configs/cllm4rec/<model>.toml's [train] < its [train.<recipe>] < --config < --set < the explicit options."""
    from llmrec_cli.cllm4rec import config as hp_config
    from llmrec_cli.rlmrec.config import parse_set
    from llmrec_cli.settings import recipe_of

    # a renamed or noised copy (`prepare --name`) takes its recipe's hyperparameters
    hp = hp_config.resolve(model, recipe_of(workdir, dataset), config, parse_set(set_))
    hp.update({k: v for k, v in options.items() if v is not None})  # typed and range-checked by typer
    return hp


def _default_text(model: str) -> Callable[..., str]:
    """``key -> "default V"`` from configs/cllm4rec/<model>.toml for the help texts."""
    from llmrec_cli.cllm4rec import config as hp_config
    from llmrec_cli.errors import LLMRecError

    try:
        values = hp_config.defaults(model)
    except LLMRecError:
        values = {}

    def text(key: str, source: str = "") -> str:
        if key not in values:
            return f"default: configs/cllm4rec/{model}.toml"
        value = values[key]
        shown = (
            ("on" if value else "off")
            if isinstance(value, bool)
            else f"{value:g}"
            if isinstance(value, float)
            else value
        )
        return f"default {shown}{': ' + source if source else ''}"

    return text


def _progress() -> Progress:
    return progress_bar(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    )


def _pass_bar(progress: Progress) -> Callable[[dict], None]:
    """One bar per pass of the schedule, showing its running losses."""
    tasks: dict[int, int] = {}

    def on_progress(event: dict) -> None:
        if "done" in event:
            _report_pass(progress, event)
            return
        if event["pass"] not in tasks:
            tasks[event["pass"]] = progress.add_task(event["label"], total=event["batches"], info="")
        progress.update(tasks[event["pass"]], completed=event["batch"], info=_values(event, ("loss_",)))

    return on_progress


def _report_pass(progress: Progress, event: dict) -> None:
    """A line per finished pass when the output is a log file (no live bars), and every validation result."""
    row = event["done"]
    if progress.console.is_terminal and row["part"] != "valid":
        return
    values = _values(row, ("loss_", "valid_recall@20", "valid_recall@40", "valid_ndcg@100"))
    progress.console.print(
        f"[{event['pass'] + 1}/{event['passes']}] {event['label']}: {values} ({row['seconds']:.1f} s)", highlight=False
    )


def _values(row: dict, prefixes: tuple[str, ...]) -> str:
    """``loss=0.1234 lm=0.5678 valid_recall@20=0.0912``: the row's keys with these prefixes,
    loss keys without theirs."""
    return " ".join(f"{k.removeprefix('loss_')}={v:.4f}" for k, v in row.items() if k.startswith(prefixes))


def _print_metrics(name: str, metrics: dict) -> None:
    shown = {k: v for k, v in metrics.items() if k in ("recall@20", "recall@40", "ndcg@100")}
    console.print(metrics_table({name: shown}))
    console.print(f"run: {name}")

"""`llmrec profile`: the typer command over :func:`llmrec_cli.profile.runner.run`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from llmrec_cli.commands.ui import api_key_env_option, base_url_option, console, globals_of, progress_bar
from llmrec_cli.errors import LLMRecError
from llmrec_cli.paths import safe_name
from llmrec_cli.profile.backends import BackendOptions


class RateColumn(ProgressColumn):
    """Profiles per minute, from rich's moving speed estimate."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("--/min" if not speed else f"{speed * 60:.1f}/min", style="cyan")


class RichProgress:
    """The runner's progress sink: one bar per entity with rate, ETA and the failures so far. When the output is
    not a terminal (nohup, CI logs) a bar cannot redraw, so a plain line is printed every 5 %."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.log_lines = not progress.console.is_terminal

    def start(self, entity: str, total: int) -> None:
        self.failed[entity] = 0
        self.tasks[entity] = self.progress.add_task(f"{entity}s", total=total, failed=0)

    def advance(self, entity: str, ok: bool) -> None:
        if not ok:
            self.failed[entity] += 1
        task_id = self.tasks[entity]
        self.progress.update(task_id, advance=1, failed=self.failed[entity])
        if self.log_lines:
            self._log(entity, self.progress.tasks[task_id])

    def _log(self, entity: str, task) -> None:
        step = max(1, int(task.total or 1) // 20)
        done = int(task.completed)
        if done % step and done != task.total:
            return
        speed = task.speed or 0.0
        eta = f"{task.time_remaining:.0f}s" if task.time_remaining is not None else "?"
        self.progress.console.print(
            f"{entity}s {done}/{task.total:.0f}  {speed * 60:.1f}/min  ETA {eta}  failed {self.failed[entity]}",
            highlight=False,
        )


def profile_bar() -> Progress:
    return progress_bar(
        TextColumn("{task.description:<6}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("failed {task.fields[failed]}"),
    )


def estimate_table(rows: list[dict], price_in: float, price_out: float) -> Table:
    table = Table(title=f"dry run: nothing sent (prices per 1M tokens: in {price_in:g}, out {price_out:g})")
    headers = [
        "entity",
        "template",
        "entities",
        "to profile",
        "input tokens",
        "mean in",
        "trimmed",
        "output tokens (est.)",
        "cost (est.)",
    ]
    for h in headers:
        table.add_column(h, justify="left" if h in ("entity", "template") else "right")
    for r in rows:
        table.add_row(
            r["entity"],
            r["template"],
            f"{r['entities']:,}",
            f"{r['to_profile']:,}",
            f"{r['input_tokens']:,}",
            f"{r['mean_input_tokens']:.0f}",
            f"{r['trimmed']:,}",
            f"{r['output_tokens_est']:,}",
            f"{r['cost_est']:.4f}",
        )
    total_in, total_out = sum(r["input_tokens"] for r in rows), sum(r["output_tokens_est"] for r in rows)
    table.add_row(
        "total",
        "",
        "",
        f"{sum(r['to_profile'] for r in rows):,}",
        f"{total_in:,}",
        "",
        "",
        f"{total_out:,}",
        f"{sum(r['cost_est'] for r in rows):.4f}",
    )
    return table


def counts_table(counts: dict) -> Table:
    table = Table(title="profiles")
    for h in ("entity", "total", "profiled", "failed", "missing", "trimmed inputs"):
        table.add_column(h, justify="left" if h == "entity" else "right")
    for entity, c in counts.items():
        if isinstance(c, dict):
            table.add_row(
                entity, *(f"{c.get(k, 0):,}" for k in ("total", "profiled", "failed", "missing", "trimmed_inputs"))
            )
    return table


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'1/4' -> (1, 4); the range is checked by the runner."""
    if text is None:
        return None
    k, sep, n = text.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit()):
        raise LLMRecError(f"--shard {text!r}: give K/N, e.g. --shard 0/2 in one process and --shard 1/2 in another")
    return int(k), int(n)


def register(app: typer.Typer) -> None:
    @app.command()
    def profile(
        ctx: typer.Context,
        dataset: str = typer.Option(..., "--dataset", "-d", help="A prepared dataset (llmrec prepare)."),
        prompt: Optional[str] = typer.Option(
            None, "--prompt", help="Prompt set NAME or NAME@VERSION from prompts/ (default: the dataset's latest)."
        ),
        backend: str = typer.Option(
            "local", "--backend", help="local (in-process GGUF, offline) or openai (any OpenAI-compatible server)."
        ),
        model: Optional[str] = typer.Option(
            None,
            "--model",
            help="local: qwen2.5-coder-0.5b (default), smollm2-135m or a .gguf path; openai: the model name.",
        ),
        base_url: Optional[str] = base_url_option("http://localhost:8000/v1"),
        api_key_env: str = api_key_env_option(),
        concurrency: int = typer.Option(16, "--concurrency", min=1, help="openai: requests in flight at once."),
        timeout: float = typer.Option(120.0, "--timeout", min=0.001, help="openai: seconds per request."),
        max_retries: int = typer.Option(
            6,
            "--max-retries",
            min=0,
            help="openai: retries on 429/5xx/timeouts (exponential backoff, jitter, Retry-After).",
        ),
        response_format: str = typer.Option(
            "json_schema", "--response-format", help="openai: json_schema, json_object or none."
        ),
        threads: Optional[int] = typer.Option(
            None, "--threads", min=1, help="local: CPU threads (default: all cores but one, at most 8)."
        ),
        attempts: int = typer.Option(
            3, "--attempts", min=1, help="Answers asked per entity before it is recorded as a failure."
        ),
        temperature: Optional[float] = typer.Option(
            None, "--temperature", min=0, help="Sampling temperature (default: local 0, openai the server's)."
        ),
        limit: Optional[int] = typer.Option(
            None, "--limit", min=1, help="Profile a seeded sample of N items and N users."
        ),
        max_input_tokens: Optional[int] = typer.Option(
            None, "--max-input-tokens", min=1, help="Input budget per prompt (default: the template's)."
        ),
        retry_failures: bool = typer.Option(
            False, "--retry-failures", help="Ask again for the entities recorded in failures.parquet."
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="Count tokens and estimate cost; send nothing."),
        price_in: float = typer.Option(0.0, "--price-in", min=0, help="--dry-run: price per million input tokens."),
        price_out: float = typer.Option(0.0, "--price-out", min=0, help="--dry-run: price per million output tokens."),
        force: bool = typer.Option(
            False, "--force", help="Rebuild the outputs even when up to date (finished answers are kept)."
        ),
        shard: Optional[str] = typer.Option(
            None,
            "--shard",
            help="K/N: ask only for the entities whose id is K modulo N, so that N processes (e.g. one single-thread "
            "process per core: faster than one process with N threads for a small local model) share the work and "
            "one store. Items come first in every shard; a shard whose items are done waits for the other shards' "
            "items (every user prompt quotes them), then asks its users; the last shard to finish writes the outputs.",
        ),
        resume_from: Optional[Path] = typer.Option(
            None,
            "--resume-from",
            help="Carry a run to this machine: first take the finished answers of another "
            "profiles folder (its answers.parquet, written at the end and on interruption). "
            "Answers to other templates, models or inputs are never used.",
        ),
        import_from: Optional[Path] = typer.Option(
            None,
            "--import",
            help="Import profiles written elsewhere instead of asking an LLM: a folder holding a users "
            "and an items table (users/items.parquet|csv|jsonl, or RLMRec's usr_prf.pkl/itm_prf.pkl, "
            "read as plain data only). Columns: user_id/item_id (dense id) or raw_id/original_id "
            "(matched through the dataset), summarization (or profile), optional reasoning.",
        ),
        users_file: Optional[Path] = typer.Option(
            None,
            "--users",
            help="--import: the users' table, when it is not in the folder (or instead of a folder, with --items).",
        ),
        items_file: Optional[Path] = typer.Option(
            None,
            "--items",
            help="--import: the items' table, when it is not in the folder (or instead of a folder, with --users).",
        ),
        name: str = typer.Option(
            "imported",
            "--name",
            help="--import: the output folder under profiles/<dataset>/, the name embed --profiles takes.",
        ),
        match: str = typer.Option(
            "auto",
            "--match",
            help="--import: which ids to trust in a table that has both kinds: auto (the dense user_id/item_id, "
            "checked against raw_id/original_id), dense (raw ignored) or raw (dense ignored: "
            "a table keyed by another split's dense ids). A table with one kind uses it.",
        ),
        raw_id_column: Optional[str] = typer.Option(
            None,
            "--raw-id-column",
            help="--import: the column that holds the raw ids the dataset's users/items tables know (e.g. "
            "item_id of RLMRec's Steam split for steam-text); in a table that has it, rows are matched by it alone.",
        ),
        drop_unknown: bool = typer.Option(
            False,
            "--drop-unknown",
            help="--import: drop rows whose raw id is not in the dataset (a profile set of a larger catalogue, e.g. "
            "RLMRec's Steam items for steam-text) and count them in the manifest; by default they are an error.",
        ),
        allow_partial: bool = typer.Option(
            False,
            "--allow-partial",
            help="--import: accept users/items without a profile (embed encodes them as the text 'None', "
            "RLMRec's marker for a missing profile); by default a missing id is an error.",
        ),
    ) -> None:
        """LLM profiles (summarization + reasoning) of every item, then every user, from training data only; or
        (--import) profiles written elsewhere, e.g. RLMRec's own GPT-3.5 ones."""
        from llmrec_cli.profile import runner

        g = globals_of(ctx)
        safe_name(dataset, "--dataset")
        if import_from is not None or users_file is not None or items_file is not None:
            from llmrec_cli.profile import importer

            req = importer.ImportRequest(
                dataset=dataset,
                source=import_from,
                users=users_file,
                items=items_file,
                model=model or "unknown",
                name=name,
                allow_partial=allow_partial,
                match=match,
                raw_id_column=raw_id_column,
                drop_unknown=drop_unknown,
                force=force,
            )
            print_import(console, importer.run(req, g.workdir))
            return
        opts = BackendOptions(
            backend, model, base_url, api_key_env, concurrency, timeout, max_retries, threads, response_format
        )
        req = runner.ProfileRequest(
            dataset,
            prompt,
            opts,
            attempts,
            temperature,
            limit,
            max_input_tokens,
            retry_failures,
            dry_run,
            price_in,
            price_out,
            force,
            g.seed_or(),
            resume_from,
            parse_shard(shard),
        )
        if dry_run:
            result = runner.run(req, g.workdir)
            console.print(estimate_table(result.estimate, price_in, price_out))
            return
        with profile_bar() as bar:
            result = runner.run(req, g.workdir, RichProgress(bar))
        if result.unfinished:
            console.print(f"[yellow]not finished[/yellow]: {result.unfinished}")
            return
        if result.up_to_date:
            console.print(
                f"[green]up to date[/green]: {result.folder} (use --force to rebuild, "
                "--retry-failures to re-ask failures)"
            )
        console.print(counts_table(result.counts))
        console.print(f"wrote {result.folder}")


def print_import(console: Console, result) -> None:
    if result.up_to_date:
        console.print(f"[green]up to date[/green]: {result.folder} (use --force to import again)")
    console.print(counts_table(result.counts))
    if not result.up_to_date:
        console.print(f"wrote {result.folder}")

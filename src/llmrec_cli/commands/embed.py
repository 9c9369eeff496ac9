"""`llmrec embed`: the typer command over :func:`llmrec_cli.embed.stage.run`."""

from __future__ import annotations

from typing import Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from llmrec_cli.commands.ui import api_key_env_option, base_url_option, console, globals_of, progress_bar


def _progress_callback(progress: Progress):
    tasks: dict[str, int] = {}

    def on_progress(entity: str, advance: int, total: int) -> None:
        if entity not in tasks:
            tasks[entity] = progress.add_task(f"{entity}s", total=total)
        progress.update(tasks[entity], advance=advance)

    return on_progress


def register(app: typer.Typer) -> None:
    @app.command()
    def embed(
        ctx: typer.Context,
        dataset: str = typer.Option(..., "--dataset", "-d", help="A prepared and profiled dataset."),
        profiles: Optional[str] = typer.Option(
            None,
            "--profiles",
            help="Prompt set id under <workdir>/profiles/<dataset>/ (default: the only one), or a profiles folder.",
        ),
        encoder: str = typer.Option(
            "local",
            "--encoder",
            help="local or minilm (all-MiniLM-L6-v2, 384-d), mpnet (all-mpnet-base-v2, 768-d), "
            "gemma (EmbeddingGemma-300M, 768-d, Gemma Terms of Use): all offline, "
            "the last two set up by `make setup-encoders`; or openai (any /v1/embeddings endpoint).",
        ),
        model: Optional[str] = typer.Option(
            None,
            "--model",
            help="local: a sentence-transformers folder; openai: the model, e.g. text-embedding-ada-002.",
        ),
        base_url: Optional[str] = base_url_option("https://api.openai.com/v1"),
        api_key_env: str = api_key_env_option(),
        concurrency: int = typer.Option(8, "--concurrency", help="openai: batches in flight at once."),
        batch_size: int = typer.Option(128, "--batch-size", help="Texts per batch (sorted by length first)."),
        name: Optional[str] = typer.Option(
            None, "--name", help="Output folder under <workdir>/embeddings/<dataset>/ (default: the encoder's name)."
        ),
        shuffle: bool = typer.Option(
            False,
            "--shuffle",
            help="Permute vectors among users and among items (seeded): the shuffled-profile control.",
        ),
        vectors: Optional[str] = typer.Option(
            None,
            "--vectors",
            help="With --shuffle: permute this earlier embed output (a folder, "
            "or a name under <workdir>/embeddings/<dataset>/) instead of encoding the profiles again.",
        ),
        missing: str = typer.Option(
            "none", "--missing", help="Entities without a profile: none (embed the text 'None', as RLMRec) or error."
        ),
        force: bool = typer.Option(False, "--force", help="Re-embed even when up to date."),
        reuse: Optional[str] = typer.Option(
            None,
            "--reuse",
            help="An embed output folder (e.g. one shipped in datasets/<ds>/embeddings/) to copy instead of "
            "encoding, when its manifest shows the same encoder settings embedded these very profile files "
            "(sha256); otherwise the profiles are encoded as usual.",
        ),
    ) -> None:
        """Embed the profiles' summarization text into fixed semantic vectors for RLMRec (Con/Gen)."""
        from llmrec_cli.embed import stage
        from llmrec_cli.runtime import resolve_device

        g = globals_of(ctx)
        req = stage.EmbedRequest(
            dataset,
            profiles,
            encoder,
            model,
            base_url,
            api_key_env,
            concurrency,
            batch_size,
            name,
            shuffle,
            vectors,
            missing,
            resolve_device(g.device) if encoder != "openai" else "cpu",
            force,
            g.seed_or(),
            reuse,
        )
        with progress_bar(
            TextColumn("{task.description:<6}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
        ) as progress:
            result = stage.run(req, g.workdir, _progress_callback(progress))
        if result.up_to_date:
            console.print(f"[green]up to date[/green]: {result.folder} (use --force to re-embed)")
        table = Table(title="embeddings")
        for h in ("entity", "vectors", "missing profiles"):
            table.add_column(h, justify="left" if h == "entity" else "right")
        for entity in ("items", "users"):
            c = result.counts.get(entity, {})
            table.add_row(entity, f"{c.get('vectors', 0):,}", f"{c.get('missing_profiles', 0):,}")
        console.print(table)
        if not result.up_to_date:
            how = (
                f" (vectors copied from {result.reused_from}: it embedded these profiles)" if result.reused_from else ""
            )
            console.print(f"wrote {result.folder}{how}")

"""The `profile` stage: items first, then users (their prompts quote the item profiles), resumable.

``run(request, workdir)`` is what ``llmrec profile`` calls. Each answer is validated against the template's JSON
schema, retried a bounded number of times, and then either recorded as a profile or as a failure in the SQLite
store (``cache.sqlite``) before it counts as done. The output folder's Parquet files are rebuilt from the store at the
end, each written atomically, the manifest last.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile import backends, prompts, validate
from llmrec_cli.profile.backends.base import BackendError, ChatRequest, FatalBackendError
from llmrec_cli.profile.inputs import Corpus, ProfileInput, item_inputs, user_inputs
from llmrec_cli.profile.prompts import PromptSet, Template
from llmrec_cli.profile.store import Key, ProfileStore
from llmrec_cli.workdir import Workdir

STAGE = "profile"
STORE = "cache.sqlite"
ANSWERS = "answers.parquet"  # the store's answers as Parquet: what carries a run to another machine (--resume-from)
SHARD_POLL_S = 15.0  # how often a shard whose items are done looks for the other shards' items
SHARD_STALL_S = 600.0  # no other shard answered an item for this long: they stopped; give up waiting
RETRY_TEMPERATURE = 0.7  # a re-ask at temperature 0 would repeat the same invalid answer
FAILURE_COLUMNS = {
    "entity": pl.String,
    "entity_id": pl.Int32,
    "prompt_id": pl.String,
    "model": pl.String,
    "reason": pl.String,
    "attempts": pl.Int32,
    "last_answer": pl.String,
}


@dataclass
class ProfileRequest:
    dataset: str
    prompt: str | None = None
    backend: backends.BackendOptions = field(default_factory=backends.BackendOptions)
    attempts: int = 3  # answers asked per entity before it is recorded as a failure
    temperature: float | None = None
    limit: int | None = None
    max_input_tokens: int | None = None
    retry_failures: bool = False
    dry_run: bool = False
    price_in: float = 0.0  # per million input tokens
    price_out: float = 0.0
    force: bool = False
    seed: int = 2023
    resume_from: Path | None = None  # a profiles folder (or its answers.parquet) from another machine or workdir
    shard: tuple[int, int] | None = None  # (k, n): ask only for entity ids = k mod n; n processes share one store


@dataclass
class ProfileResult:
    folder: Path
    up_to_date: bool = False
    counts: dict = field(default_factory=dict)
    estimate: list[dict] = field(default_factory=list)  # --dry-run rows
    unfinished: str = ""  # a shard that stopped before the outputs could be written: why, and what to run next


class ProgressSink(Protocol):
    def start(self, entity: str, total: int) -> None: ...

    def advance(self, entity: str, ok: bool) -> None: ...


class _NoProgress:
    def start(self, entity: str, total: int) -> None:
        pass

    def advance(self, entity: str, ok: bool) -> None:
        pass


def output_folder(workdir: Path, dataset: str, prompt_set: str) -> Path:
    return Workdir.of(workdir).profiles(dataset, prompt_set, "--prompt")


def run(req: ProfileRequest, workdir: Path, progress: ProgressSink | None = None, backend=None) -> ProfileResult:
    """Profile every item then every user of ``req.dataset`` (or a seeded ``--limit`` sample)."""
    _check(req)
    corpus = Corpus.load(workdir, req.dataset)
    pset = prompts.resolve(req.dataset, req.prompt)
    model = backend.model_id if backend is not None else backends.model_id(req.backend)
    folder = output_folder(workdir, req.dataset, pset.id)
    config = _config(req, pset, model)
    input_files = corpus.files + [pset.item.path, pset.user.path]
    if not (req.force or req.retry_failures or req.dry_run) and artifacts.up_to_date(
        folder, STAGE, config, input_files
    ):
        return ProfileResult(folder, True, (artifacts.read_manifest(folder) or {}).get("counts", {}))
    item_ids, user_ids = select_ids(corpus, req.limit, req.seed)
    if req.dry_run:
        return ProfileResult(folder, estimate=estimate(corpus, pset, model, item_ids, user_ids, req, folder))
    clock = artifacts.Stopwatch()
    store = ProfileStore(folder / STORE)
    finished = False
    try:
        if req.resume_from is not None:
            import_answers(store, req.resume_from)
        plans = asyncio.run(
            _profile_all(corpus, pset, model, item_ids, user_ids, req, store, progress or _NoProgress(), backend)
        )
        unfinished = _unfinished(store, pset, model, plans, req)
        if unfinished:  # another shard is still at work: it, or a rerun, writes the outputs
            return ProfileResult(folder, unfinished=unfinished)
        counts = compact(folder, store, pset, model, plans)
        if every_request_failed(counts):  # nothing to embed: no manifest, so no later stage takes these outputs
            (folder / artifacts.MANIFEST).unlink(missing_ok=True)
            raise LLMRecError(all_failed_message(folder, counts))
        manifest = artifacts.Manifest(
            STAGE,
            config,
            artifacts.describe_inputs(input_files),
            ["items.parquet", "users.parquet", "failures.parquet", ANSWERS],
            counts,
            clock.seconds,
            {"prompts": pset.describe(), "model": model, "store": STORE},
        )
        store.export_answers(folder / ANSWERS)
        artifacts.write_json(manifest.to_dict(), folder / artifacts.MANIFEST)
        finished = True
    finally:
        if not finished:  # interrupted: answers.parquet is what a copy of this folder resumes from elsewhere
            store.export_answers(folder / ANSWERS)
        store.close()
    return ProfileResult(folder, False, counts)


def answers_file(path: Path) -> Path:
    """``--resume-from``: a profiles folder holding answers.parquet, or the file itself."""
    path = Path(path)
    found = path / ANSWERS if path.is_dir() else path
    if not found.is_file():
        raise LLMRecError(
            f"--resume-from {path}: no {ANSWERS} there; give a profiles folder written by `llmrec profile` "
            f"(it holds {ANSWERS}) or the file itself"
        )
    return found


def import_answers(store: ProfileStore, path: Path) -> int:
    found = answers_file(path)
    try:
        return store.import_answers(found)
    except ValueError as exc:  # readable, but without the answer columns
        raise LLMRecError(f"--resume-from {exc}; give the {ANSWERS} of a profiles folder") from None
    except Exception as exc:  # unreadable (OSError) or not Parquet (polars' ComputeError)
        raise LLMRecError(f"--resume-from {found}: not a readable Parquet file ({type(exc).__name__})") from None


def _check(req: ProfileRequest) -> None:
    backends.check(req.backend)
    if req.attempts < 1:
        raise LLMRecError(f"--attempts {req.attempts}: must be at least 1")
    if req.limit is not None and req.limit < 1:
        raise LLMRecError(f"--limit {req.limit}: must be at least 1")
    if req.price_in < 0 or req.price_out < 0:
        raise LLMRecError("--price-in/--price-out must not be negative")
    if req.resume_from is not None:
        answers_file(req.resume_from)
    if req.shard is not None and not 0 <= req.shard[0] < req.shard[1]:
        raise LLMRecError(f"--shard {req.shard[0]}/{req.shard[1]}: give K/N with 0 <= K < N, e.g. 0/2 and 1/2")


def _config(req: ProfileRequest, pset: PromptSet, model: str) -> dict:
    cfg = asdict(req)
    for transient in ("retry_failures", "dry_run", "force", "price_in", "price_out", "resume_from", "shard"):
        cfg.pop(transient)
    cfg["backend"] = {
        k: v for k, v in cfg["backend"].items() if k not in ("concurrency", "timeout", "max_retries", "threads")
    }
    cfg.update(prompt_set=pset.id, model_id=model, templates={t.id: t.sha256 for t in (pset.item, pset.user)})
    return cfg


def select_ids(corpus: Corpus, limit: int | None, seed: int) -> tuple[list[int], list[int]]:
    """All ids, or a seeded sample of ``limit`` items and ``limit`` users."""

    def pick(n: int, stream: int) -> list[int]:
        if limit is None or limit >= n:
            return list(range(n))
        return sorted(np.random.default_rng([seed, stream]).choice(n, size=limit, replace=False).tolist())

    return pick(corpus.n_items, 11), pick(corpus.n_users, 12)


# ------------------------------------------------------------------------------------------------ execution
async def _profile_all(
    corpus, pset, model, item_ids, user_ids, req, store, progress, backend
) -> dict[str, list[ProfileInput]]:
    owned = backend is None
    plans: dict[str, list[ProfileInput]] = {}
    try:
        plans["item"] = item_inputs(corpus, pset.item, item_ids, req.seed, req.max_input_tokens)
        backend = await _run_entity(backend, req, pset.item, model, in_shard(plans["item"], req.shard), store, progress)
        # a shard goes on to its users only once the other shards' items are in: every user prompt quotes them
        if req.shard is not None and await wait_for_other_shards(store, pset.item, model, plans["item"], progress):
            plans["user"] = []
            return plans
        summaries = item_summaries(store, pset.item, model, plans["item"])
        plans["user"] = user_inputs(corpus, pset.user, user_ids, summaries, req.seed, req.max_input_tokens)
        backend = await _run_entity(backend, req, pset.user, model, in_shard(plans["user"], req.shard), store, progress)
    except FatalBackendError as exc:
        raise LLMRecError(str(exc)) from None
    finally:
        if owned and backend is not None:
            await backend.aclose()
    return plans


async def wait_for_other_shards(
    store: ProfileStore, template: Template, model: str, jobs: list[ProfileInput], progress
) -> int:
    """Wait (as a progress bar) until the other shards have answered their items; give up when none has answered one
    for SHARD_STALL_S (they were stopped). Returns the items still unanswered (0: the users can be asked)."""
    label = "other shards' item"
    left = len(pending(store, template, model, jobs, False))
    if left:
        progress.start(label, left)
    last_answer = time.monotonic()
    while left and time.monotonic() - last_answer < SHARD_STALL_S:
        await asyncio.sleep(SHARD_POLL_S)
        now = len(pending(store, template, model, jobs, False))
        if now < left:
            last_answer = time.monotonic()
        for _ in range(left - now):
            progress.advance(label, True)
        left = now
    return left


def in_shard(jobs: list[ProfileInput], shard: tuple[int, int] | None) -> list[ProfileInput]:
    """The jobs of shard (k, n): entity ids equal to k modulo n (all of them without a shard)."""
    if shard is None:
        return jobs
    k, n = shard
    return [job for job in jobs if job.entity_id % n == k]


def _unfinished(
    store: ProfileStore, pset: PromptSet, model: str, plans: dict[str, list[ProfileInput]], req: ProfileRequest
) -> str:
    """Why a sharded run cannot write the outputs yet ('' when every entity is answered or failed)."""
    if req.shard is None:
        return ""
    me = f"--shard {req.shard[0]}/{req.shard[1]}"
    items = len(pending(store, pset.item, model, plans["item"], False))
    if items:
        return (
            f"{me}: its items are done; {items} items of other shards are not, and every user prompt quotes them. "
            f"None of them answered one for {SHARD_STALL_S / 60:.0f} min: "
            "rerun this command when they are done (or run "
            f"without --shard) to profile this shard's users."
        )
    users = len(pending(store, pset.user, model, plans["user"], False))
    if users:
        return (
            f"{me}: done; {users} users of other shards are not. "
            "The last shard to finish (or a rerun) writes the outputs."
        )
    return ""


def pending(
    store: ProfileStore, template: Template, model: str, jobs: list[ProfileInput], retry_failures: bool
) -> list[ProfileInput]:
    """Never-attempted inputs, plus the recorded failures when ``retry_failures``; finished ones never again."""
    done = store.finished(template.entity, template.sha256, model)
    failed = store.failed(template.entity, template.sha256, model)
    out = []
    for job in jobs:
        key = (job.entity_id, job.sha256)
        if key in done or (key in failed and not retry_failures):
            continue
        out.append(job)
    return out


async def _run_entity(backend, req, template: Template, model: str, jobs: list[ProfileInput], store, progress):
    todo = pending(store, template, model, jobs, req.retry_failures)
    progress.start(template.entity, len(todo))
    if not todo:
        return backend
    if backend is None:
        backend = backends.create(req.backend)
    queue: asyncio.Queue[ProfileInput] = asyncio.Queue()
    for job in todo:
        queue.put_nowait(job)

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            ok = await profile_one(backend, template, job, model, req, store)
            progress.advance(template.entity, ok)

    workers = [asyncio.create_task(worker()) for _ in range(min(backend.concurrency, len(todo)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
    return backend


async def profile_one(
    backend, template: Template, job: ProfileInput, model: str, req: ProfileRequest, store: ProfileStore
) -> bool:
    """Ask, validate, re-ask; record the profile or the failure durably. True on success."""
    key = Key(template.entity, job.entity_id, template.sha256, model, job.sha256)
    reason, last_answer, attempt = "", None, 0
    for attempt in range(1, req.attempts + 1):
        request = ChatRequest(
            template.messages(job.text),
            template.schema,
            template.max_output_tokens,
            _temperature(req.temperature, attempt),
            None if attempt == 1 else req.seed + attempt,
        )
        try:
            completion = await backend.complete(request)
        except BackendError as exc:  # transport retries are already spent inside the backend
            reason, last_answer = f"backend: {exc}", None
            break
        try:
            profile = validate.parse_answer(completion.text, template.schema)
        except validate.InvalidAnswer as exc:
            reason, last_answer = f"invalid answer: {exc}", completion.text
            continue
        store.record_profile(
            key, template.id, profile, completion.input_tokens or job.tokens, completion.output_tokens, attempt
        )
        return True
    store.record_failure(key, template.id, reason, attempt, last_answer)
    return False


def _temperature(base: float | None, attempt: int) -> float | None:
    if attempt == 1:
        return base
    return base if base else RETRY_TEMPERATURE


def item_summaries(store: ProfileStore, template: Template, model: str, jobs: list[ProfileInput]) -> dict[int, str]:
    """Item id -> summarization of its current profile (the 'description' of user prompts)."""
    current = {(j.entity_id, j.sha256) for j in jobs}
    df = store.profiles("item", template.sha256, model)
    return {
        i: s for i, sha, s in df.select("entity_id", "input_sha", "summarization").iter_rows() if (i, sha) in current
    }


# ------------------------------------------------------------------------------------------------ outputs
def _current(jobs: list[ProfileInput]) -> pl.DataFrame:
    return pl.DataFrame(
        {"entity_id": [j.entity_id for j in jobs], "input_sha": [j.sha256 for j in jobs]},
        schema={"entity_id": pl.Int64, "input_sha": pl.String},
    )


def compact(
    folder: Path, store: ProfileStore, pset: PromptSet, model: str, plans: dict[str, list[ProfileInput]]
) -> dict:
    """Rebuild items/users/failures.parquet from the store for exactly the current inputs."""
    counts, failures = {}, []
    for entity in ("item", "user"):
        template, wanted = pset.template(entity), _current(plans[entity])
        id_col = artifacts.entity_id(entity)
        done = store.profiles(entity, template.sha256, model).join(wanted, on=["entity_id", "input_sha"], how="semi")
        table = done.sort("entity_id").select(
            pl.col("entity_id").cast(pl.Int32).alias(id_col),
            "summarization",
            "reasoning",
            "model",
            "prompt_id",
            pl.col("input_tokens").cast(pl.Int32),
            pl.col("output_tokens").cast(pl.Int32),
        )
        artifacts.write_parquet(table, folder / f"{entity}s.parquet", artifacts.profiles_schema(entity))
        failed = store.failures(entity, template.sha256, model).join(wanted, on=["entity_id", "input_sha"], how="semi")
        failures.append(
            failed.with_columns(pl.lit(entity).alias("entity")).select(list(FAILURE_COLUMNS)).cast(FAILURE_COLUMNS)
        )
        counts[f"{entity}s"] = {
            "total": len(plans[entity]),
            "profiled": table.height,
            "failed": failed.height,
            "missing": len(plans[entity]) - table.height - failed.height,
            "trimmed_inputs": sum(j.trimmed for j in plans[entity]),
        }
    artifacts.write_parquet(pl.concat(failures).sort("entity", "entity_id"), folder / "failures.parquet")
    return counts


def every_request_failed(counts: dict) -> bool:
    """True when no entity got a profile and some failed (a run where only some failed still succeeds)."""
    parts = [c for c in counts.values() if isinstance(c, dict)]
    return sum(c["profiled"] for c in parts) == 0 and sum(c["failed"] for c in parts) > 0


def all_failed_message(folder: Path, counts: dict) -> str:
    failures = folder / "failures.parquet"
    first = pl.read_parquet(failures, columns=["entity", "entity_id", "reason"]).row(0)
    total = sum(c["failed"] for c in counts.values() if isinstance(c, dict))
    return (
        f"profile: all {total} requests failed ({counts['items']['failed']} items, {counts['users']['failed']} users); "
        f"first: {first[0]} {first[1]}: {first[2]}; every failure is recorded in {failures} (and {folder / STORE}): "
        f"fix the cause, then rerun with --retry-failures"
    )


# ------------------------------------------------------------------------------------------------ dry run
def estimate(
    corpus: Corpus, pset: PromptSet, model: str, item_ids, user_ids, req: ProfileRequest, folder: Path
) -> list[dict]:
    """Input tokens (exact, tiktoken) and output tokens (estimated) of what a run would send; calls nothing."""
    store = ProfileStore(folder / STORE) if (folder / STORE).is_file() else None
    try:
        items = item_inputs(corpus, pset.item, item_ids, req.seed, req.max_input_tokens)
        summaries = item_summaries(store, pset.item, model, items) if store else {}
        stand_in = " ".join(["profile"] * (expected_output_tokens(pset.item) // 2))
        known = {i: summaries.get(i, stand_in) for i in item_ids}
        users = user_inputs(corpus, pset.user, user_ids, known, req.seed, req.max_input_tokens)
        rows = []
        for template, jobs in ((pset.item, items), (pset.user, users)):
            todo = pending(store, template, model, jobs, req.retry_failures) if store else jobs
            rows.append(_estimate_row(template, jobs, todo, req))
    finally:
        if store:
            store.close()
    return rows


def expected_output_tokens(template: Template) -> int:
    return int(template.inputs.get("expected_output_tokens", template.max_output_tokens // 2))


def _estimate_row(template: Template, jobs: list[ProfileInput], todo: list[ProfileInput], req: ProfileRequest) -> dict:
    tokens_in = sum(j.tokens for j in todo)
    tokens_out = expected_output_tokens(template) * len(todo)
    return {
        "entity": f"{template.entity}s",
        "template": template.id,
        "entities": len(jobs),
        "to_profile": len(todo),
        "input_tokens": tokens_in,
        "mean_input_tokens": round(tokens_in / len(todo), 1) if todo else 0.0,
        "trimmed": sum(j.trimmed for j in todo),
        "output_tokens_est": tokens_out,
        "cost_est": tokens_in / 1e6 * req.price_in + tokens_out / 1e6 * req.price_out,
    }

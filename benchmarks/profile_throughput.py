"""Profile generation throughput: the HTTP backend's concurrency and the local backend's overhead.

1. Profiles per minute through the whole `profile` runner (prompt building, HTTP, JSON-schema validation, durable
   SQLite record) against a loopback OpenAI-compatible test server (tests/profile/loopback.py, in its own process)
   answering after a fixed 200 ms, at concurrency 1 and 32. Target: concurrency 32 >= 20x the sequential rate.
2. Tokens per second of the local backend (our path: asyncio -> worker thread -> llama.cpp, then validation and the
   durable record) against the runtime's own raw ``handle_chat_completions`` on the same prompts, same loaded model,
   alternating the two so that machine noise hits both alike. Target: ours / raw >= 0.9.

    python benchmarks/profile_throughput.py [--model qwen2.5-coder-0.5b] [--prompts 4] [--threads N] [--skip-local]

Network traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "profile"))  # the loopback server and tiny-data helper of the tests

from tiny_data import make_tiny_dataset  # noqa: E402

from llmrec_cli.profile import backends, prompts, runner  # noqa: E402
from llmrec_cli.profile.backends.base import ChatRequest  # noqa: E402
from llmrec_cli.profile.backends.local import LocalBackend, chat_body  # noqa: E402
from llmrec_cli.profile.inputs import Corpus, item_inputs  # noqa: E402
from llmrec_cli.profile.store import ProfileStore  # noqa: E402

LATENCY = 0.2


def http_rate(workdir: Path, url: str, concurrency: int, limit: int | None) -> tuple[int, float]:
    """(profiles, seconds) for one full runner pass with a fresh store."""
    opts = backends.BackendOptions("openai", "loop", url, None, concurrency, 30.0, 2)
    req = runner.ProfileRequest("bench", "steam", opts, limit=limit, force=True)
    folder = runner.output_folder(workdir, "bench", "steam@1")
    for leftover in folder.glob("cache.sqlite*"):
        leftover.unlink()
    start = time.perf_counter()
    result = runner.run(req, workdir)
    seconds = time.perf_counter() - start
    done = result.counts["items"]["profiled"] + result.counts["users"]["profiled"]
    return done, seconds


def bench_http(tmp: Path, sequential_limit: int) -> list[tuple]:
    workdir = tmp / "work"
    make_tiny_dataset(tmp / "raw", workdir, n_users=320, n_items=320, per_user=8, name="bench")
    rows = []
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "profile" / "loopback.py"), "--latency", str(LATENCY)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        for concurrency, limit in ((1, sequential_limit), (32, None)):
            done, seconds = http_rate(workdir, url, concurrency, limit)
            rows.append((concurrency, done, seconds, done / seconds * 60))
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    return rows


def bench_local(tmp: Path, model: str, n_prompts: int, threads: int | None) -> dict:
    workdir = tmp / "work"
    from llmrec_cli.data import prepare

    prepare.run(prepare.config_from_recipe("demo", None, {}), workdir)
    corpus = Corpus.load(workdir, "demo")
    template = prompts.resolve("demo").item
    jobs = item_inputs(corpus, template, list(range(n_prompts)), 2023)
    backend = LocalBackend(model, threads)
    store = ProfileStore(tmp / "bench.sqlite")
    req = runner.ProfileRequest("demo", attempts=1)
    backend.raw_chat(
        chat_body(ChatRequest(template.messages(jobs[0].text), template.schema, 8), backend.repeat_penalty)
    )
    totals = {"raw": [0, 0.0], "ours": [0, 0.0]}

    def raw(job) -> int:
        body = chat_body(
            ChatRequest(template.messages(job.text), template.schema, template.max_output_tokens),
            backend.repeat_penalty,
        )
        return backend.raw_chat(body)["usage"]["completion_tokens"]

    def ours(job) -> int:
        asyncio.run(runner.profile_one(backend, template, job, backend.model_id, req, store))
        done = store.profiles("item", template.sha256, backend.model_id)
        return done.filter(done["entity_id"] == job.entity_id)["output_tokens"].item()

    for n, job in enumerate(jobs):
        # llama.cpp reuses the KV cache of an identical prompt: whoever goes second on a prompt skips its prefill,
        # so the order alternates and each path goes first on half the prompts
        for name, fn in (("raw", raw), ("ours", ours)) if n % 2 == 0 else (("ours", ours), ("raw", raw)):
            start = time.perf_counter()
            totals[name][0] += fn(job)
            totals[name][1] += time.perf_counter() - start
    store.close()
    raw_tokens, raw_seconds = totals["raw"]
    ours_tokens, ours_seconds = totals["ours"]
    return {
        "model": backend.model_id,
        "prompts": len(jobs),
        "threads": threads,
        "raw_tok_s": raw_tokens / raw_seconds,
        "ours_tok_s": ours_tokens / ours_seconds,
        "raw_tokens": raw_tokens,
        "ours_tokens": ours_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential-limit", type=int, default=25, help="items and users profiled at concurrency 1")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="local model: a packaged name or a .gguf path")
    parser.add_argument("--prompts", type=int, default=4, help="demo item prompts for the local comparison")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_http(Path(tmp) / "http", args.sequential_limit)
        local = None if args.skip_local else bench_local(Path(tmp) / "local", args.model, args.prompts, args.threads)
    base = rows[0][3]
    print(
        f"\n## HTTP backend, loopback server with {LATENCY * 1000:.0f} ms latency "
        "(whole runner: build, ask, validate, record)\n"
    )
    print("| concurrency | profiles | seconds | profiles/min | vs sequential |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for concurrency, done, seconds, rate in rows:
        print(f"| {concurrency} | {done} | {seconds:.2f} | {rate:,.0f} | {rate / base:.1f}x |")
    speedup = rows[1][3] / base
    print(f"\nconcurrency 32 / sequential = {speedup:.1f}x (target >= 20x): {'PASS' if speedup >= 20 else 'FAIL'}")
    if local:
        ratio = local["ours_tok_s"] / local["raw_tok_s"]
        print(f"\n## Local backend ({local['model']}, {local['prompts']} demo item prompts, alternated)\n")
        print("| path | output tokens | tokens/s |")
        print("| --- | ---: | ---: |")
        print(f"| runtime raw handle_chat_completions | {local['raw_tokens']:.0f} | {local['raw_tok_s']:.2f} |")
        print(
            "| llmrec local backend (+ validation, durable record) "
            f"| {local['ours_tokens']:.0f} | {local['ours_tok_s']:.2f} |"
        )
        print(f"\nours / raw = {ratio:.3f} (target >= 0.9): {'PASS' if ratio >= 0.9 else 'FAIL'}")


if __name__ == "__main__":
    main()

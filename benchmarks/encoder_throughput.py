"""Encoder throughput: texts/s of every offline encoder available here, with 1 and with 2 torch threads.

Each encoder runs `llmrec embed`'s own encoding path (length-sorted batches, reordered) over the same N texts: a
seeded sample of the Amazon-book item profiles' ``summarization`` (RLMRec's profiles, when the shared data is
there), else synthetic profile-like texts. Encoders: all-MiniLM-L6-v2 (when its package is installed), and
all-mpnet-base-v2 / EmbeddingGemma-300M when they are assembled in the cache (`make setup-encoders [GEMMA=1]`);
nothing is assembled or downloaded here. The figures depend on what else runs: the table gives the date and the
1-minute load average (os.getloadavg) before and after each measurement.

    python benchmarks/encoder_throughput.py [--texts 256] [--batch-size 128] [--repeats 1] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np
import polars as pl

from llmrec_cli.embed import packaged
from llmrec_cli.embed.stage import embed_texts
from llmrec_cli.errors import LLMRecError

PROFILES = Path("/work/shared/data/amazon-book/profiles/items.parquet")


def corpus(n: int, source: Path) -> tuple[list[str], str]:
    if source.is_file():
        texts = [
            t for t in pl.read_parquet(source, columns=["summarization"])["summarization"].to_list() if t and t.strip()
        ]
        pick = np.random.default_rng(0).choice(len(texts), size=min(n, len(texts)), replace=False)
        chosen = [texts[i] for i in pick]
        about = f"{len(chosen)} Amazon-book item summarizations (seeded sample of {len(texts)}, {source})"
    else:
        rng = np.random.default_rng(0)
        words = "readers who enjoy epic fantasy romance history mystery thriller science fiction family drama".split()
        chosen = [" ".join(rng.choice(words, size=int(rng.integers(20, 90)))) for _ in range(n)]
        about = f"{n} synthetic profile-like texts ({source} not found)"
    lengths = [len(t) for t in chosen]
    return chosen, f"{about}; {np.mean(lengths):.0f} characters on average"


def available_encoders(device: str) -> list:
    from llmrec_cli.embed.local import LocalEncoder, packaged_encoder

    found = []
    try:
        found.append(LocalEncoder(device=device))
    except LLMRecError as exc:
        print(f"skipped all-minilm-l6-v2: {exc}")
    for key, spec in packaged.ENCODERS.items():
        if packaged.is_assembled(packaged.target(key)):
            found.append(packaged_encoder(key, device))
        else:
            print(f"skipped {spec.name}: not assembled in {packaged.target(key)} ({spec.setup})")
    return found


def measure(encoder, texts: list[str], batch_size: int, repeats: int) -> tuple[float, float, float]:
    """Best seconds over ``repeats`` runs, and the 1-minute load before and after."""
    embed_texts(encoder, texts[:16], batch_size)  # warm-up at this thread count
    load_before = os.getloadavg()[0]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        vectors = embed_texts(encoder, texts, batch_size)
        best = min(best, time.perf_counter() - start)
    assert vectors.shape == (len(texts), encoder.dim)
    return best, load_before, os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=128)  # the embed stage's default
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--source", type=Path, default=PROFILES)
    args = parser.parse_args()
    import torch

    texts, about = corpus(args.texts, args.source)
    encoders = available_encoders("cpu")
    started, load_start = datetime.datetime.now().astimezone(), os.getloadavg()
    rows = []
    for encoder in encoders:
        for threads in args.threads:
            torch.set_num_threads(threads)
            seconds, before, after = measure(encoder, texts, args.batch_size, args.repeats)
            rows.append((encoder.name, encoder.dim, threads, seconds, len(texts) / seconds, before, after))
            print(
                f"  {encoder.name} x{threads}: {len(texts) / seconds:.1f} texts/s (load {before:.2f} -> {after:.2f})",
                flush=True,
            )
    print(f"\n## Encoder throughput, {started:%Y-%m-%d %H:%M %Z}\n")
    print(
        f"{about}; batch {args.batch_size}, best of {args.repeats}; CPU, torch {torch.__version__}, "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}); "
        f"load average at the start {', '.join(f'{x:.2f}' for x in load_start)} (1, 5, 15 min)\n"
    )
    print("| encoder | dim | threads | seconds | texts/s | load (1 min) before -> after |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, dim, threads, seconds, rate, before, after in rows:
        print(f"| {name} | {dim} | {threads} | {seconds:.1f} | {rate:.1f} | {before:.2f} -> {after:.2f} |")


if __name__ == "__main__":
    main()

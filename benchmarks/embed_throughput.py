"""Embedding throughput: `llmrec embed`'s encoding path against a bare SentenceTransformer.encode on the same texts.

Both use the same loaded all-MiniLM-L6-v2, batch size and normalisation; ours adds length-sorted batching into
our own batches (for progress) and the reordering back to id order. Best of --repeats runs each, alternated.
Target: ours / bare >= 0.95. Texts: the shipped demo profiles' summarizations (repeated up to --texts), else
profile-like synthetic texts.

    python benchmarks/embed_throughput.py [--texts 1400] [--batch-size 128] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl

from llmrec_cli.embed.local import LocalEncoder
from llmrec_cli.embed.stage import embed_texts

SHIPPED = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "profiles" / "demo@1"


def corpus(n: int) -> tuple[list[str], str]:
    files = [SHIPPED / "items.parquet", SHIPPED / "users.parquet"]
    if all(f.is_file() for f in files):
        texts = [t for f in files for t in pl.read_parquet(f)["summarization"].to_list()]
        source = f"shipped demo summarizations ({len(texts)} distinct)"
    else:
        rng = np.random.default_rng(0)
        words = (
            "players who enjoy open world strategy story co-op puzzles indie horror racing simulation casual".split()
        )
        texts = [" ".join(rng.choice(words, size=int(rng.integers(20, 90)))) for _ in range(700)]
        source = "synthetic profile-like texts"
    return [texts[i % len(texts)] for i in range(n)], source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1400)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    texts, source = corpus(args.texts)
    encoder = LocalEncoder()
    model = encoder.model
    model.encode(texts[:64], batch_size=64)  # warm-up

    def bare():
        return model.encode(
            texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    def ours():
        return embed_texts(encoder, texts, args.batch_size)

    times = {"bare": [], "ours": []}
    results = {}
    for _ in range(args.repeats):
        for name, fn in (("bare", bare), ("ours", ours)):
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    assert np.allclose(results["bare"], results["ours"], atol=1e-5), "the two paths must give the same vectors"
    rate = {k: len(texts) / min(v) for k, v in times.items()}
    ratio = rate["ours"] / rate["bare"]
    print(
        f"\n## Embedding: {len(texts)} texts ({source}), all-MiniLM-L6-v2, "
        f"batch {args.batch_size}, best of {args.repeats}\n"
    )
    print("| path | best seconds | texts/s |")
    print("| --- | ---: | ---: |")
    print(f"| bare SentenceTransformer.encode | {min(times['bare']):.2f} | {rate['bare']:.1f} |")
    print(f"| llmrec embed (length-sorted batches, reordered) | {min(times['ours']):.2f} | {rate['ours']:.1f} |")
    print(f"\nours / bare = {ratio:.3f} (target >= 0.95): {'PASS' if ratio >= 0.95 else 'FAIL'}")


if __name__ == "__main__":
    main()

"""Time full-rank evaluation (top-k with training-item masking + metrics) and one epoch of BPR negative sampling.

Target (CPU, 2 cores): ranking all users x all items with 32-d random embeddings plus Recall/NDCG/... at k in
{5, 10, 20} in < 1 s on amazon-book (11,000 users x 9,332 items); one epoch of sampling well under 0.1 s.

    python benchmarks/eval_speed.py [--data /work/shared/data/amazon-book] [--repeats 7] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

from llmrec_cli.evaluate.metrics import evaluate_topk
from llmrec_cli.evaluate.rank import CsrRows, topk_items
from llmrec_cli.rlmrec.graph import InteractionGraph
from llmrec_cli.rlmrec.sampling import NegativeSampler

DEFAULT_DATA = Path("/work/shared/data/amazon-book")


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    frame = pl.read_parquet(path)
    return frame["user_id"].to_numpy().astype(np.int64), frame["item_id"].to_numpy().astype(np.int64)


def csr_matrix(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> torch.Tensor:
    return InteractionGraph.from_arrays(users, items, n_users, n_items).train_csr()


def time_call(fn, repeats: int) -> tuple[str, object]:
    """Wall time (median and min) and process CPU time (median) of ``repeats`` calls after one warm-up call, and
    the last result. On a shared machine trust the minimum; with --threads 1 the CPU time is the work itself."""
    result = fn()
    wall, cpu = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    summary = (
        f"{statistics.median(wall) * 1000:.1f} ms wall (min {min(wall) * 1000:.1f} ms), "
        f"{statistics.median(cpu) * 1000:.1f} ms CPU"
    )
    return summary, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train_users, train_items = load_split(args.data / "train.parquet")
    test_users, test_items = load_split(args.data / "test.parquet")
    n_users = int(max(train_users.max(), test_users.max())) + 1
    n_items = int(max(train_items.max(), test_items.max())) + 1
    train = csr_matrix(train_users, train_items, n_users, n_items)
    test = csr_matrix(test_users, test_items, n_users, n_items)

    generator = torch.Generator().manual_seed(0)
    user_emb = torch.randn(n_users, args.dim, generator=generator).to(args.device)
    item_emb = torch.randn(n_items, args.dim, generator=generator).to(args.device)
    all_users = torch.arange(n_users)
    exclusion = CsrRows(train)
    ks = (5, 10, 20)

    def rank_and_score():
        topk = topk_items(user_emb, item_emb, all_users, exclusion, max(ks), args.batch_size)
        return evaluate_topk(topk, test, ks, recall_denominator="all")

    rank_time, _ = time_call(
        lambda: topk_items(user_emb, item_emb, all_users, exclusion, max(ks), args.batch_size), args.repeats
    )
    total_time, (per_user, means) = time_call(rank_and_score, args.repeats)
    print(f"threads={torch.get_num_threads()} device={args.device} users={n_users} items={n_items} dim={args.dim}")
    print(f"rank (top-{max(ks)}, train masked, batch {args.batch_size}): {rank_time}")
    print(f"rank + metrics (k={ks}, {per_user.height} evaluated users): {total_time}")
    print(f"  random-embedding recall@20={means['recall@20']:.4f} ndcg@20={means['ndcg@20']:.4f}")

    sampler = NegativeSampler(InteractionGraph.from_arrays(train_users, train_items, n_users, n_items))
    sample_time, _ = time_call(lambda: sampler.sample(generator), args.repeats)
    epoch_time, _ = time_call(lambda: list(sampler.epoch_batches(4096, generator)), args.repeats)
    print(f"BPR negatives for {sampler.n_edges} edges: {sample_time}")
    print(f"BPR epoch (sample + shuffle + batches of 4096): {epoch_time}")


if __name__ == "__main__":
    main()

"""Seconds per training epoch for every RLMRec backbone x {none, con, gen} on Amazon-book, and full-rank
evaluation time, beside the paper's Table 4 (RTX 3090).

Con and Gen with the paper's 1536-d vectors are bound by their MLPs (and Gen's masked-node similarity matrix): the
same run times bare matrix products of exactly those shapes and prints our epoch time as a multiple of that floor.

    python benchmarks/rlmrec_speed.py --source ../shared/data/amazon-book [--dim 1536] [--backbones lightgcn] [--epochs 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from llmrec_cli.data import prepare
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.evaluate import metrics, rank
from llmrec_cli.report.paper_rlmrec import TABLE4_AMAZON_SECONDS
from llmrec_cli.rlmrec import config, semantic, train
from llmrec_cli.rlmrec.config import BACKBONES

OFFICIAL_CPU_SECONDS = {"lightgcn/none": 13.6, "lightgcn/con": 150.0, "lightgcn/gen": 75.0}  # issue #7, this machine


def make_trainer(ds: Dataset, workdir: Path, backbone: str, align: str, dim: int, seed: int = 2023) -> train.Trainer:
    hp = config.resolve(backbone, align, "amazon-book")
    embeddings = f"random:{dim}"
    req = train.TrainRequest("amazon-book", hp, embeddings, seed, "cpu", f"speed-{backbone}-{align}")
    sem = semantic.load(embeddings, workdir, "amazon-book", ds.n_users, ds.n_items, seed) if align != "none" else None
    return train.Trainer(ds, sem, req, {}, workdir / "runs" / req.run_id)


def time_epochs(trainer: train.Trainer, epochs: int) -> float:
    next(iter(trainer.sampler.epoch_batches(int(trainer.hp["batch_size"]), trainer.generator)))  # warm caches
    start = time.perf_counter()
    for _ in range(epochs):
        trainer.train_epoch()
    return (time.perf_counter() - start) / epochs


def _mm(a: int, b: int, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(a, b), torch.randn(b, c)


def _time_products(shapes: list[tuple[int, int, int]], repeats: int) -> float:
    """Seconds for ``repeats`` passes over the (m x k) @ (k x n) products listed (inputs built once)."""
    pairs = [_mm(*s) for s in shapes]
    start = time.perf_counter()
    for _ in range(repeats):
        for a, b in pairs:
            a @ b
    return time.perf_counter() - start


def matmul_floor(align: str, ds: Dataset, hp: dict, out_dim: int, dim: int, n_edges: int) -> float:
    """Bare matrix products of the alignment's shapes over one epoch (forward + the backward products)."""
    batch = int(hp["batch_size"])
    steps = -(-n_edges // batch)
    if align == "con":
        hidden = (dim + out_dim) // 2
        rows = ds.n_users + 2 * batch
        shapes = [(rows, dim, hidden), (rows, hidden, out_dim), (hidden, rows, out_dim), (rows, out_dim, hidden), (dim, rows, hidden)]
    else:
        d = int(hp.get("embedding_dim", 32))
        hidden = (dim + out_dim) // 2
        m = max(int((ds.n_users + ds.n_items) * float(hp["mask_ratio"])), 1)
        shapes = [(m, out_dim, hidden), (m, hidden, dim), (m, dim, m), (m, m, dim), (hidden, m, dim), (m, dim, hidden), (out_dim, m, hidden)]
        del d
    return _time_products(shapes, steps)


def time_full_rank(trainer: train.Trainer, ds: Dataset) -> float:
    users = torch.arange(ds.n_users)
    exclude, truth = ds.csr("train"), ds.csr("test")
    trainer.model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        u, i = trainer.model.final_embeddings()
    topk = rank.topk_items(u, i, users, exclude, 20, 1024)
    metrics.evaluate_topk(topk, truth, (5, 10, 20), "all", users=users)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="../shared/data/amazon-book")
    ap.add_argument("--backbones", default=",".join(BACKBONES))
    ap.add_argument("--aligns", default="none,con,gen")
    ap.add_argument("--dim", type=int, default=1536, help="width of the (random) semantic vectors")
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="llmrec-speed-"))
    prepare.run(prepare.config_from_recipe("amazon-book", None, {"source": args.source}), workdir)
    ds = Dataset.load(workdir, "amazon-book")
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, semantic width {args.dim}")
    table = Table(title=f"seconds per epoch, Amazon-book (ours: {torch.get_num_threads()} CPU threads; paper: RTX 3090)")
    for col in ("backbone", "align", "ours s/epoch", "paper s/epoch", "ours / paper", "align floor s", "ours / floor", "vs base"):
        table.add_column(col, justify="right")
    eval_seconds = None
    for backbone in args.backbones.split(","):
        base_time = None
        for align in args.aligns.split(","):
            trainer = make_trainer(ds, workdir, backbone, align, args.dim)
            seconds = time_epochs(trainer, args.epochs)
            floor = matmul_floor(align, ds, trainer.hp, trainer.model.out_dim, args.dim, trainer.graph.n_edges) if align != "none" else None
            if align == "none":
                base_time = seconds
                if eval_seconds is None or backbone == "lightgcn":
                    eval_seconds = time_full_rank(trainer, ds)
            paper = TABLE4_AMAZON_SECONDS[align][backbone]
            table.add_row(
                backbone, align, f"{seconds:.2f}", f"{paper:.2f}", f"{seconds / paper:.2f}x",
                f"{floor:.2f}" if floor else "", f"{seconds / floor:.2f}x" if floor else "",
                f"{seconds / base_time:.2f}x" if base_time and align != "none" else "",
            )
            console.print(f"{backbone}/{align}: {seconds:.2f} s/epoch" + (f" (official code here: {OFFICIAL_CPU_SECONDS[backbone + '/' + align]} s)" if backbone + "/" + align in OFFICIAL_CPU_SECONDS else ""))
    console.print(table)
    console.print(f"full-rank evaluation of all {ds.n_users:,} users x {ds.n_items:,} items (top-20, train masked, metrics): {eval_seconds:.3f} s (target <= 1 s; official code here ~4 s)")


if __name__ == "__main__":
    main()

"""How cost grows with the data (issue #20, item 5): LightGCN base, + Con and + Gen (random profile vectors) time per
epoch, full-rank evaluation time and peak memory on synthetic power-law interaction graphs of 10^5, 10^6 and 10^7
training edges, with the fitted growth exponents and where memory runs out.

Graphs (seeded, built vectorised): user activity and item popularity follow Zipf-Mandelbrot laws (the weight of the
k-th most active user ~ (k + 50)^-1, of the k-th most popular item ~ (k + 20)^-1), both rank orders scattered over
the ids by a random permutation; (user, item) pairs are drawn independently from the two laws, duplicates merged,
and the distinct pairs split at random 80:20 into train (exactly the size's edges) and test.

    size   training edges   users       items
    1e5    100,000          10,000      5,000
    1e6    1,000,000        100,000     50,000
    1e7    10,000,000       1,000,000   500,000

Every cell runs in a fresh process (spawn), so peak memory (VmHWM, the resident high-water mark of that process:
libraries, data set, model, optimiser and the cell's work) never mixes between cells. The cells build the data set
and the trainer exactly as `llmrec train-rlmrec` does (rlmrec.train.Trainer with LightGCN's Amazon-book settings:
32-d, batch 4096, 3 layers (Gen: 2), edge drop 0.8), and time:

- train/<align>: one epoch. With ``--batches N`` (default 5): the epoch's sampling (one negative per edge, shuffle),
  one untimed warm-up step, then N timed ``Trainer.step`` calls; the epoch is sampling + steps_per_epoch x the mean
  step ("N of S batches, scaled"). ``--batches 0`` times a whole ``Trainer.train_epoch`` instead ("full epoch").
- evaluate: one full-rank evaluation of the test users as the trainer runs it (propagation of the full graph, top-20
  with the training items masked, batches of eval_batch_size users, Recall/NDCG/... at 5, 10, 20). With more test
  users than ``--eval-users`` (default 10,000), a fixed seeded sample of them is ranked and that part is scaled
  linearly ("N of U users, scaled"); the propagation and the exclusion/ground-truth indexes are timed once.

Both wall and CPU seconds are recorded (CPU: the cell process's user + system time; with ``--threads 1`` it is the
work itself, little disturbed by other jobs on a shared machine, while the wall time is not). Growth exponents b
(time ~ edges^b) are least-squares fits of log time on log edges over the sizes measured; memory growth is fitted on
the peak above the process's footprint after imports and extrapolated with an exponent of at least 1 (Gen on a GPU:
plus its logit blocks, quadratic in the edges up to 1 GiB each, linear beyond) to where the peak would reach the
machine's memory.

Gen's masked-node similarity is M x M with M = 15% of users + items (2.0 GB per matrix at 10^6 edges, 200 GB at
10^7). Its loss walks that matrix in blocks of rows (alignments/gen.py, ``row_block``): 8 MB blocks on the CPU, so its
memory grows like M; on a GPU the whole matrix while it is at most 1 GiB, 1 GiB blocks beyond. There a cell whose
predicted need (``GEN_MATRICES`` such blocks) exceeds ``--memory-cap-gib`` is not started. Every cell process runs
with that address-space limit and oom_score_adj 1000, so running out of memory ends the cell, never another job on
the machine.

    nice -n 19 python benchmarks/scale.py --out results/scale [--sizes 1e5,1e6,1e7] [--aligns none,con,gen]
        [--batches 5] [--eval-users 10000] [--threads 1] [--dim 384] [--device cpu] [--full-epoch-check]
        [--merge earlier/scale.csv ...]

``--merge`` adds the rows of earlier runs (say 1e5 and 1e6 measured one day, 1e7 another) to the tables, fits and plot;
``--sizes '' --merge A.csv B.csv`` only refits and redraws.

Writes DIR/scale.csv (one row per size x cell, ``CSV_COLUMNS``), DIR/scale_fit.csv (exponents and memory limits) and
DIR/scale.png (log-log time and memory against edges; skipped, with a message, when matplotlib is missing).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import math
import os
import resource
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import polars as pl
import torch
from rich.console import Console
from rich.table import Table

from llmrec_cli import artifacts

SIZES = {  # name: (training edges, users, items)
    "1e5": (100_000, 10_000, 5_000),
    "1e6": (1_000_000, 100_000, 50_000),
    "1e7": (10_000_000, 1_000_000, 500_000),
}
ALIGNS = ("none", "con", "gen")
USER_OFFSET, ITEM_OFFSET, ZIPF_EXPONENT = 50.0, 20.0, 1.0
TEST_SHARE = 0.2
GEN_MATRICES = 3  # Gen's logit blocks (M x M or less) its peak may hold before a cell is started (2.2 measured at 1e6)
DATASET = "amazon-book"  # whose hyperparameters the trainer resolves
CSV_SCHEMA = {
    "date": pl.String,
    "size": pl.String,
    "edges": pl.Int64,
    "users": pl.Int64,
    "items": pl.Int64,
    "cell": pl.String,
    "dim": pl.Int64,
    "method": pl.String,
    "timed_units": pl.Int64,
    "total_units": pl.Int64,
    "wall_seconds": pl.Float64,
    "cpu_seconds": pl.Float64,
    "setup_wall_seconds": pl.Float64,
    "peak_rss_bytes": pl.Int64,
    "baseline_rss_bytes": pl.Int64,
    "threads": pl.Int64,
    "device": pl.String,
    "load_average": pl.Float64,
    "status": pl.String,
}
CSV_COLUMNS = tuple(CSV_SCHEMA)
FIT_SCHEMA = {
    "cell": pl.String,
    "sizes": pl.String,
    "wall_exponent": pl.Float64,
    "cpu_exponent": pl.Float64,
    "cpu_seconds_at_1e7": pl.Float64,
    "memory_exponent": pl.Float64,
    "gen_matrices": pl.Float64,
    "edges_at_memory_limit": pl.Float64,
    "memory_limit_bytes": pl.Int64,
}


# ------------------------------------------------------------------------------------------------ the graphs
def zipf_ranks(rng: np.random.Generator, n_ids: int, offset: float, size: int) -> np.ndarray:
    """``size`` draws of ranks 0..n_ids-1 with P(k) ~ (k + 1 + offset)^-ZIPF_EXPONENT."""
    weights = (np.arange(1, n_ids + 1, dtype=np.float64) + offset) ** -ZIPF_EXPONENT
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size)), n_ids - 1)


def power_law_pairs(n_edges: int, n_users: int, n_items: int, seed: int) -> dict[str, np.ndarray]:
    """Train (exactly ``n_edges`` distinct pairs) and test (TEST_SHARE of all) user/item arrays, int64."""
    total = math.ceil(n_edges / (1 - TEST_SHARE))
    if total > n_users * n_items // 4:
        raise ValueError(f"{total:,} pairs is too dense for {n_users:,} x {n_items:,}")
    rng = np.random.default_rng(seed)
    user_of_rank, item_of_rank = rng.permutation(n_users), rng.permutation(n_items)
    keys = np.empty(0, dtype=np.int64)
    while keys.size < total:  # duplicates are merged: draw again for the shortfall (a few rounds, not per edge)
        draw = int((total - keys.size) * 1.25) + 1000
        users = user_of_rank[zipf_ranks(rng, n_users, USER_OFFSET, draw)]
        items = item_of_rank[zipf_ranks(rng, n_items, ITEM_OFFSET, draw)]
        keys = np.unique(np.concatenate([keys, users.astype(np.int64) * n_items + items]))
    keys = rng.permutation(keys)[:total]
    train, test = np.sort(keys[:n_edges]), np.sort(keys[n_edges:])
    return {
        "train_users": train // n_items,
        "train_items": train % n_items,
        "test_users": test // n_items,
        "test_items": test % n_items,
    }


def write_graph(size: str, seed: int, folder: Path) -> tuple[Path, float]:
    """The size's graph as an .npz in ``folder``; returns its path and the generation seconds."""
    n_edges, n_users, n_items = SIZES[size]
    start = time.perf_counter()
    arrays = power_law_pairs(n_edges, n_users, n_items, seed)
    seconds = time.perf_counter() - start
    path = folder / f"graph-{size}.npz"
    np.savez(path, **arrays)
    return path, seconds


def load_dataset(path: Path, size: str):
    """The graph as a prepared data set (in memory; valid is empty: nothing here reads it)."""
    from llmrec_cli.data.dataset import Dataset

    _, n_users, n_items = SIZES[size]
    with np.load(path) as arrays:
        train = pl.DataFrame({"user_id": arrays["train_users"], "item_id": arrays["train_items"]})
        test = pl.DataFrame({"user_id": arrays["test_users"], "item_id": arrays["test_items"]})
    splits = {"train": train, "valid": train.clear(), "test": test}
    return Dataset(f"scale-{size}", path.parent, n_users, n_items, splits, "")


# ------------------------------------------------------------------------------------------------ cells (child)
def _limit_child(cap_bytes: int | None, threads: int | None) -> None:
    """In each cell process: die first when memory runs short, never allocate past the cap, fixed thread count."""
    try:
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass
    if cap_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
    if threads:
        torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)


def _status_bytes(field: str) -> int:
    """VmRSS / VmHWM of this process, bytes (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 if field == "VmHWM" else 0


class Clock:
    """Wall and CPU (this process: user + system, all threads) seconds since start."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def make_trainer(ds, folder: Path, align: str, dim: int, device: str, seed: int):
    """The trainer `llmrec train-rlmrec --backbone lightgcn --align <align> --embeddings random:<dim>` builds."""
    from llmrec_cli.rlmrec import config, semantic, train

    hp = config.resolve("lightgcn", align, DATASET)
    embeddings = f"random:{dim}" if align != "none" else None
    req = train.TrainRequest(
        dataset=ds.name, hp=hp, embeddings=embeddings, seed=seed, device=device, run_id=f"scale-{align}"
    )
    sem = semantic.load(embeddings, folder, ds.name, ds.n_users, ds.n_items, seed) if embeddings else None
    return train.Trainer(ds, sem, req, {}, folder / "runs" / req.run_id)


def run_cell(spec: dict) -> dict:
    """One cell in this (fresh) process; the timing fields of its CSV row."""
    baseline = _status_bytes("VmRSS")
    try:
        fields = _train_cell(spec) if spec["cell"] != "evaluate" else _evaluate_cell(spec)
        status = "ok"
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "alloc" not in str(exc).lower() and "memory" not in str(exc).lower():
            raise
        fields, status = {}, f"out of memory under the {spec['cap_bytes'] / 2**30:.1f} GiB cap"
    return {
        **fields,
        "peak_rss_bytes": _status_bytes("VmHWM"),
        "baseline_rss_bytes": baseline,
        "threads": torch.get_num_threads(),
        "status": status,
    }


def _train_cell(spec: dict) -> dict:
    clock = Clock()
    ds = load_dataset(Path(spec["graph"]), spec["size"])
    trainer = make_trainer(ds, Path(spec["graph"]).parent, spec["align"], spec["dim"], spec["device"], spec["seed"])
    setup = clock.read()[0]
    batch_size = int(trainer.hp["batch_size"])
    steps = -(-trainer.graph.n_edges // batch_size)
    load = os.getloadavg()[0]
    if spec["batches"] == 0 or spec["batches"] + 1 >= steps:
        next(iter(trainer.sampler.epoch_batches(batch_size, trainer.generator)))  # warm caches, as rlmrec_speed
        clock = Clock()
        trainer.train_epoch()
        wall, cpu = clock.read()
        return _timing("full epoch", steps, steps, wall, cpu, setup, load)
    trainer.model.train()
    clock = Clock()
    batches = trainer.sampler.epoch_batches(batch_size, trainer.generator, trainer.device)
    first = next(batches)  # the whole epoch's negatives and shuffle happen here
    sample_wall, sample_cpu = clock.read()
    trainer.step(first)  # warm-up, untimed
    clock = Clock()
    for _ in range(spec["batches"]):
        trainer.step(next(batches))
    wall, cpu = clock.read()
    n = spec["batches"]
    method = f"{n} of {steps} batches, scaled"
    return _timing(method, n, steps, sample_wall + wall / n * steps, sample_cpu + cpu / n * steps, setup, load)


def _evaluate_cell(spec: dict) -> dict:
    from llmrec_cli.evaluate import metrics, rank

    clock = Clock()
    ds = load_dataset(Path(spec["graph"]), spec["size"])
    trainer = make_trainer(ds, Path(spec["graph"]).parent, "none", spec["dim"], spec["device"], spec["seed"])
    truth_csr = ds.csr("test")
    setup = clock.read()[0]
    load = os.getloadavg()[0]
    clock = Clock()  # the fixed part: propagation, exclusion rows, ground truth
    trainer.model.eval()
    user_emb, item_emb = trainer.final_embeddings()
    exclusion = rank.CsrRows(trainer.valid_exclude)
    truth = metrics.GroundTruth.from_any(truth_csr)
    users = torch.from_numpy(np.flatnonzero(truth.counts > 0))
    fixed_wall, fixed_cpu = clock.read()
    sample = users
    if users.numel() > spec["eval_users"]:
        gen = torch.Generator().manual_seed(spec["seed"])
        sample = users[torch.randperm(users.numel(), generator=gen)[: spec["eval_users"]]].sort().values
    ks = tuple(trainer.hp["ks"])
    clock = Clock()
    topk = rank.topk_items(user_emb, item_emb, sample, exclusion, max(ks), int(trainer.hp["eval_batch_size"]))
    metrics.evaluate_topk(topk, truth, ks, "all", users=sample)
    wall, cpu = clock.read()
    scale = users.numel() / max(sample.numel(), 1)
    method = "all users" if sample.numel() == users.numel() else f"{sample.numel()} of {users.numel()} users, scaled"
    return _timing(
        method, sample.numel(), users.numel(), fixed_wall + wall * scale, fixed_cpu + cpu * scale, setup, load
    )


def _timing(method: str, timed: int, total: int, wall: float, cpu: float, setup: float, load: float) -> dict:
    return {
        "method": method,
        "timed_units": timed,
        "total_units": total,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "setup_wall_seconds": setup,
        "load_average": load,
    }


# ------------------------------------------------------------------------------------------------ cells (parent)
def gen_masked_nodes(n_users: int, n_items: int) -> int:
    """M, the nodes Gen masks per step: max(int((I + J) mask_ratio), 1) with Amazon-book's mask_ratio (0.15)."""
    from llmrec_cli.rlmrec import config

    return max(int((n_users + n_items) * float(config.resolve("lightgcn", "gen", DATASET)["mask_ratio"])), 1)


def in_child(spec: dict, cap_bytes: int | None, threads: int | None) -> dict:
    """run_cell in a fresh spawned process; a process killed from outside reads as out of memory."""
    context = get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, context, _limit_child, (cap_bytes, threads)) as pool:
        try:
            return pool.submit(run_cell, {**spec, "cap_bytes": cap_bytes or 0}).result()
        except BrokenProcessPool:
            return {"status": "killed (out of memory?)"}


def measure_size(size: str, args, folder: Path, console: Console) -> list[dict]:
    graph, gen_seconds = write_graph(size, args.seed, folder)
    n_edges, n_users, n_items = SIZES[size]
    console.print(f"{size}: {n_edges:,} training edges, {n_users:,} users x {n_items:,} items in {gen_seconds:.1f} s")
    cells = [f"train/{a}" for a in args.aligns] + (["evaluate"] if args.evaluate else [])
    rows = []
    for cell in cells:
        row = {
            **dict.fromkeys(CSV_COLUMNS),
            "date": args.date,
            "size": size,
            "edges": n_edges,
            "users": n_users,
            "items": n_items,
            "cell": cell,
            "dim": args.dim if cell in ("train/con", "train/gen") else None,
            "device": args.device,
        }
        spec = {
            "graph": str(graph),
            "size": size,
            "cell": cell,
            "align": cell.split("/")[-1] if cell != "evaluate" else "none",
            "dim": args.dim,
            "device": args.device,
            "seed": args.seed,
            "batches": args.batches,
            "eval_users": args.eval_users,
        }
        need = gen_matrices_bytes(n_users, n_items) if cell == "train/gen" and args.device != "cpu" else 0
        if args.cap_bytes and need > args.cap_bytes:
            row["status"] = f"not run: Gen needs ~{need / 2**30:,.1f} GiB ({GEN_MATRICES} logit blocks) > cap"
        else:
            row.update(in_child(spec, args.cap_bytes, args.threads))
        rows.append(row)
        console.print(f"  {cell}: {_cell_summary(row)}")
        if cell == "train/none" and args.full_epoch_check and row["status"] == "ok" and args.batches:
            full = {**row, **in_child({**spec, "batches": 0}, args.cap_bytes, args.threads), "cell": "train/none"}
            rows.append(full)
            console.print(f"  {cell} (full epoch, check of the scaling): {_cell_summary(full)}")
    graph.unlink()
    return rows


def _cell_summary(row: dict) -> str:
    if row["status"] != "ok":
        return row["status"]
    return (
        f"{row['wall_seconds']:.2f} s wall, {row['cpu_seconds']:.2f} s CPU ({row['method']}), "
        f"peak {row['peak_rss_bytes'] / 2**30:.2f} GiB, load {row['load_average']:.1f}"
    )


# ------------------------------------------------------------------------------------------------ fits
def slope(x: list[float], y: list[float]) -> float | None:
    """Least-squares slope of log y on log x (None with fewer than two distinct points)."""
    if len(set(x)) < 2:
        return None
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def gen_block_elements(m: int) -> int:
    """Elements of one of Gen's logit blocks off the CPU: the whole M x M while it fits the accelerator budget,
    else that budget's worth of rows (``row_block``)."""
    from llmrec_cli.rlmrec.backbones.base import row_block

    return row_block(m, m, torch.device("cuda")) * m  # only the device type is read


def gen_matrices_bytes(n_users: int, n_items: int) -> int:
    """What Gen's logit blocks need on a GPU (``GEN_MATRICES`` of them, fp32)."""
    return GEN_MATRICES * 4 * gen_block_elements(gen_masked_nodes(n_users, n_items))


def fits(rows: list[dict], memory_bytes: int) -> list[dict]:
    """Per cell: time exponents and the CPU time they predict at 10^7 edges; memory exponent (peak above the
    after-import footprint) and the edges at which the extrapolated peak reaches ``memory_bytes``.

    Memory is extrapolated from the largest size measured with the fitted exponent but at least 1 (every cell holds
    per-edge arrays; a smaller fit reflects fixed overheads at the small sizes). Off the CPU, Gen's peak is modelled
    as the base cell's plus c fp32 logit blocks (``gen_block_elements`` of M masked nodes, a fixed share of users +
    items, so M grows like the edges), c measured at that size; on the CPU its 8 MB blocks are left to the fit."""
    out: dict[str, dict] = {}
    need_of: dict[str, object] = {}
    for cell in dict.fromkeys(r["cell"] for r in rows):
        ok = _one_per_size([r for r in rows if r["cell"] == cell and r["status"] == "ok"])
        if len(ok) < 2:
            continue
        edges = [r["edges"] for r in ok]
        extra = [max(r["peak_rss_bytes"] - r["baseline_rss_bytes"], 1) for r in ok]
        cpu_b = slope(edges, [r["cpu_seconds"] for r in ok])
        last, mem_b = ok[-1], slope(edges, extra)
        need_of[cell] = _power_need(last["baseline_rss_bytes"], last["edges"], extra[-1], max(mem_b or 1.0, 1.0))
        fit = {
            "cell": cell,
            "sizes": ",".join(r["size"] for r in ok),
            "wall_exponent": slope(edges, [r["wall_seconds"] for r in ok]),
            "cpu_exponent": cpu_b,
            "cpu_seconds_at_1e7": last["cpu_seconds"] * (SIZES["1e7"][0] / last["edges"]) ** cpu_b,
            "memory_exponent": mem_b,
            "gen_matrices": None,
            "memory_limit_bytes": memory_bytes,
        }
        base = next((r for r in rows if r["cell"] == "train/none" and r["edges"] == last["edges"]), None)
        off_cpu = last["device"] != "cpu"
        if cell == "train/gen" and off_cpu and base is not None and base["status"] == "ok" and "train/none" in need_of:
            m = gen_masked_nodes(last["users"], last["items"])
            fit["gen_matrices"] = max(last["peak_rss_bytes"] - base["peak_rss_bytes"], 0) / (4 * gen_block_elements(m))
            need_of[cell] = _gen_need(need_of["train/none"], fit["gen_matrices"], m, last["edges"])
        fit["edges_at_memory_limit"] = _edges_reaching(need_of[cell], memory_bytes)
        out[cell] = fit
    return list(out.values())


def _power_need(baseline: int, edges: int, extra: int, exponent: float):
    return lambda e: baseline + extra * (e / edges) ** exponent


def _gen_need(base_need, matrices: float, m: int, edges: int):
    return lambda e: base_need(e) + matrices * 4 * gen_block_elements(max(int(m * e / edges), 1))


def _edges_reaching(need, limit: float, low: float = 1e3, high: float = 1e12) -> float | None:
    """The edges at which the increasing ``need`` reaches ``limit`` (bisection on log edges); None past 10^12."""
    if need(high) < limit:
        return None
    if need(low) >= limit:
        return low
    for _ in range(60):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if need(mid) < limit else (low, mid)
    return high


def _one_per_size(rows: list[dict]) -> list[dict]:
    """The first row of each size (the scaled one when --full-epoch-check added a second), by edges."""
    seen: dict[int, dict] = {}
    for r in rows:
        seen.setdefault(r["edges"], r)
    return [seen[e] for e in sorted(seen)]


# ------------------------------------------------------------------------------------------------ output
def results_table(rows: list[dict], args) -> Table:
    table = Table(
        title=f"cost growth, LightGCN (ours), {_values(rows, 'date')}: {_values(rows, 'threads')} threads, "
        f"device {_values(rows, 'device')}, Con/Gen with random:{_values(rows, 'dim')}"
    )
    for col in ("edges", "users x items", "cell", "how", "wall s", "CPU s", "peak RSS GiB", "load", "status"):
        table.add_column(col, justify="right")
    for r in rows:
        ok = r["status"] == "ok"
        table.add_row(
            f"{r['edges']:,}",
            f"{r['users']:,} x {r['items']:,}",
            r["cell"],
            r["method"] or "",
            f"{r['wall_seconds']:.2f}" if ok else "",
            f"{r['cpu_seconds']:.2f}" if ok else "",
            f"{r['peak_rss_bytes'] / 2**30:.2f}" if ok else "",
            f"{r['load_average']:.1f}" if ok else "",
            r["status"],
        )
    return table


def _values(rows: list[dict], key: str) -> str:
    """The distinct values of one column, as text (several runs can be merged)."""
    return "/".join(str(v) for v in dict.fromkeys(r[key] for r in rows if r[key] is not None)) or "-"


def fit_table(fit_rows: list[dict]) -> Table:
    limit = fit_rows[0]["memory_limit_bytes"] if fit_rows else 0
    table = Table(title=f"growth exponents b (cost ~ edges^b) and where the peak reaches {limit / 2**30:.1f} GiB")
    for col in ("cell", "sizes", "b wall", "b CPU", "CPU s at 1e7 (fit)", "b memory", "Gen blocks", "memory out at"):
        table.add_column(col, justify="right")
    for f in fit_rows:
        table.add_row(
            f["cell"],
            f["sizes"],
            _fmt(f["wall_exponent"], "{:.2f}"),
            _fmt(f["cpu_exponent"], "{:.2f}"),
            _fmt(f["cpu_seconds_at_1e7"], "{:,.0f}"),
            _fmt(f["memory_exponent"], "{:.2f}"),
            _fmt(f["gen_matrices"], "{:.1f}"),
            _fmt(f["edges_at_memory_limit"], "{:.1e} edges"),
        )
    return table


def _fmt(value: float | None, pattern: str) -> str:
    return "" if value is None else pattern.format(value)


def write_plot(rows: list[dict], path: Path, title: str) -> bool:
    """Log-log CPU seconds and peak RSS against training edges, one line per cell; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(11, 4.5))
    for cell in dict.fromkeys(r["cell"] for r in rows):
        ok = _one_per_size([r for r in rows if r["cell"] == cell and r["status"] == "ok"])
        if not ok:
            continue
        edges = [r["edges"] for r in ok]
        cpu, wall = [r["cpu_seconds"] for r in ok], [r["wall_seconds"] for r in ok]
        (line,) = ax_time.plot(edges, cpu, "o-", label=f"{cell}, b = {_fmt(slope(edges, cpu), '{:.2f}')}")
        ax_time.plot(edges, wall, "x--", color=line.get_color(), alpha=0.5)
        ax_mem.plot(edges, [r["peak_rss_bytes"] / 2**30 for r in ok], "o-", label=cell)
    time_label = "seconds per epoch / evaluation (CPU: solid, wall: dashed)"
    for ax, label in ((ax_time, time_label), (ax_mem, "peak RSS, GiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training edges")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_lines():
            ax.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with artifacts.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return True


def merged_rows(paths: list[Path], rows: list[dict]) -> list[dict]:
    """Rows of earlier scale.csv files for the sizes not in ``rows``, then ``rows``; ordered by edges."""
    measured = {r["size"] for r in rows}
    earlier = [
        r
        for path in paths
        for r in pl.read_csv(path, schema=CSV_SCHEMA).to_dicts()
        if r["size"] not in measured and r["status"] is not None
    ]
    return sorted(earlier + rows, key=lambda r: r["edges"])


def _names(value: str, known: tuple[str, ...], option: str, ap: argparse.ArgumentParser) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        ap.error(f"{option} {value!r}: choose from {', '.join(known)} (comma-separated)")
    return names


def _available_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder for scale.csv, scale_fit.csv and scale.png")
    ap.add_argument(
        "--sizes", default=",".join(SIZES), help="comma-separated subset of 1e5,1e6,1e7 ('' with --merge: none)"
    )
    ap.add_argument(
        "--merge",
        type=Path,
        nargs="*",
        default=[],
        help="scale.csv files of earlier runs: their rows join the tables, fits and plot (sizes measured now win)",
    )
    ap.add_argument("--aligns", default=",".join(ALIGNS), help="comma-separated subset of none,con,gen")
    ap.add_argument("--no-evaluate", dest="evaluate", action="store_false", help="skip the evaluation cells")
    ap.add_argument("--dim", type=int, default=384, help="width of the random profile vectors (Con/Gen)")
    ap.add_argument("--batches", type=int, default=5, help="timed steps per epoch, scaled up (0: whole epoch)")
    ap.add_argument("--eval-users", type=int, default=10_000, help="test users ranked, scaled up to all of them")
    ap.add_argument("--threads", type=int, default=None, help="torch threads in every cell (default: torch's)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--seed", type=int, default=2023)
    ap.add_argument(
        "--memory-cap-gib",
        type=float,
        default=None,
        help="address-space limit of every cell process (default: memory available at start; 0: none)",
    )
    ap.add_argument(
        "--full-epoch-check",
        action="store_true",
        help="also time base LightGCN's whole epoch at each size, to check the batch scaling",
    )
    args = ap.parse_args(argv)
    args.sizes = _names(args.sizes, tuple(SIZES), "--sizes", ap) if args.sizes or not args.merge else []
    args.aligns = _names(args.aligns, ALIGNS, "--aligns", ap)
    if args.batches < 0 or args.eval_users < 1:
        ap.error("--batches must be >= 0 and --eval-users >= 1")
    cap = _available_bytes() / 2**30 if args.memory_cap_gib is None else args.memory_cap_gib
    args.cap_bytes = int(cap * 2**30) if cap > 0 else None
    args.date = datetime.date.today().isoformat()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(
        f"{args.date}: torch {torch.__version__}, threads {args.threads or torch.get_num_threads()}, "
        f"device {args.device}, load average {os.getloadavg()[0]:.1f}, nice {os.nice(0)}, cap "
        f"{(args.cap_bytes or 0) / 2**30:.1f} GiB, {args.batches or 'all'} batches, {args.eval_users:,} eval users"
    )
    folder = Path(tempfile.mkdtemp(prefix="llmrec-scale-"))
    rows: list[dict] = []
    try:
        for size in args.sizes:
            rows.extend(measure_size(size, args, folder, console))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = merged_rows(args.merge, rows)
    total_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    fit_rows = fits(rows, total_memory)
    console.print(results_table(rows, args))
    if fit_rows:
        console.print(fit_table(fit_rows))
    artifacts.write_csv_rows(rows, args.out / "scale.csv", CSV_SCHEMA)
    artifacts.write_csv_rows(fit_rows, args.out / "scale_fit.csv", FIT_SCHEMA)
    title = f"LightGCN cost growth, {_values(rows, 'date')}, {_values(rows, 'threads')} threads, random:{args.dim}"
    plotted = write_plot(rows, args.out / "scale.png", title)
    console.print(
        f"wrote {args.out / 'scale.csv'}, {args.out / 'scale_fit.csv'}"
        + (f", {args.out / 'scale.png'}" if plotted else " (no plot: matplotlib is not installed)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

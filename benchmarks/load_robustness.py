"""LightGCN base / Con / Gen epochs and one full-rank evaluation on Amazon-book (1536-d vectors), with the machine
otherwise idle and with one competing CPU-bound process, for each torch thread count asked: how much of our speed
survives a shared machine (issue #20 item 2).

The official code cannot run here, so its side is the idle figures of 2026-12-02 (``rlmrec_speed.OFFICIAL``): a
competitor can only slow it down, so official-idle / ours-loaded is a lower bound on our lead under load.

    python benchmarks/load_robustness.py --source ../shared/data/amazon-book [--threads 1,2] [--reps 2] [--csv F]

The competitor is one ``python -c "while True: pass"`` process, started before each loaded cell and stopped after
it; idle and loaded cells alternate (which goes first swaps every repetition). Run it with nothing else on the
machine: the load average before each cell is printed and written.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import torch
from rich.console import Console
from rich.table import Table

from llmrec_cli import artifacts
from llmrec_cli.data import prepare
from llmrec_cli.data.dataset import Dataset

sys.path.insert(0, str(Path(__file__).parent))
from rlmrec_speed import OFFICIAL, make_trainer, time_epochs, time_full_rank  # noqa: E402

CELLS = ("none", "con", "gen", "evaluate")
CSV_SCHEMA = {
    "cell": pl.Utf8,
    "threads": pl.Int32,
    "condition": pl.Utf8,
    "repetition": pl.Int32,
    "seconds": pl.Float64,
    "load_average": pl.Float64,
}


@contextmanager
def competitor(on: bool):
    """One busy CPU-bound process for the duration, or nothing."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        if proc is not None:
            time.sleep(1.0)  # let the scheduler see it
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def time_cell(ds: Dataset, workdir: Path, cell: str, dim: int) -> float:
    trainer = make_trainer(ds, workdir, "lightgcn", "none" if cell == "evaluate" else cell, dim)
    if cell == "evaluate":
        time_full_rank(trainer, ds)  # warm
        return time_full_rank(trainer, ds)
    return time_epochs(trainer, 1)


def measure(ds: Dataset, workdir: Path, args, console: Console) -> list[dict]:
    rows = []
    for rep in range(args.reps):
        order = ("idle", "loaded") if rep % 2 == 0 else ("loaded", "idle")
        for threads in args.threads:
            torch.set_num_threads(threads)
            for cell in CELLS:
                for condition in order:
                    load = os.getloadavg()[0]
                    with competitor(condition == "loaded"):
                        seconds = time_cell(ds, workdir, cell, args.dim)
                    rows.append(
                        dict(
                            cell=cell,
                            threads=threads,
                            condition=condition,
                            repetition=rep,
                            seconds=seconds,
                            load_average=load,
                        )
                    )
                    console.print(
                        f"rep {rep} threads {threads} {cell:>8} {condition:>6}: {seconds:7.2f} s (load {load:.1f})"
                    )
    return rows


def _median(rows: list[dict], cell: str, threads: int, condition: str) -> float:
    return statistics.median(
        r["seconds"] for r in rows if (r["cell"], r["threads"], r["condition"]) == (cell, threads, condition)
    )


def summary(rows: list[dict]) -> list[dict]:
    """Per (cell, threads): median idle and loaded seconds, loaded/idle, and our lead over the official idle
    figures (idle: the lead; loaded: its lower bound)."""
    out = []
    for cell in CELLS:
        for threads in sorted({r["threads"] for r in rows}):
            times = {c: _median(rows, cell, threads, c) for c in ("idle", "loaded")}
            official = statistics.mean(OFFICIAL["evaluate" if cell == "evaluate" else f"lightgcn/{cell}"])
            out.append(
                dict(
                    cell=cell,
                    threads=threads,
                    idle=times["idle"],
                    loaded=times["loaded"],
                    slowdown=times["loaded"] / times["idle"],
                    official=official,
                    lead_idle=official / times["idle"],
                    lead_loaded_at_least=official / times["loaded"],
                )
            )
    return out


def summary_table(lines: list[dict], dim: int) -> Table:
    table = Table(title=f"LightGCN on Amazon-book, {dim}-d: ours idle vs one competing process (medians)")
    for h in (
        "cell",
        "threads",
        "idle s",
        "loaded s",
        "loaded / idle",
        "official idle s",
        "lead idle",
        "lead loaded (at least)",
    ):
        table.add_column(h, justify="left" if h == "cell" else "right")
    for x in lines:
        table.add_row(
            x["cell"],
            str(x["threads"]),
            f"{x['idle']:.2f}",
            f"{x['loaded']:.2f}",
            f"{x['slowdown']:.2f}x",
            f"{x['official']:.2f}",
            f"{x['lead_idle']:.2f}x",
            f"{x['lead_loaded_at_least']:.2f}x",
        )
    return table


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="../shared/data/amazon-book")
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    ap.add_argument("--reps", type=int, default=2, help="repetitions of every (cell, threads, condition)")
    ap.add_argument("--dim", type=int, default=1536, help="width of the (random) semantic vectors")
    ap.add_argument("--csv", type=Path, default=None, help="also write every timing to this CSV file")
    args = ap.parse_args()
    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if args.reps < 1 or not args.threads or min(args.threads) < 1:
        ap.error("--reps and every --threads value must be >= 1")
    return args


def main() -> None:
    args = parse_args()
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="llmrec-load-"))
    try:
        prepare.run(prepare.config_from_recipe("amazon-book", None, {"source": args.source}), workdir)
        ds = Dataset.load(workdir, "amazon-book")
        console.print(
            f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
        )
        rows = measure(ds, workdir, args, console)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    console.print(summary_table(summary(rows), args.dim))
    if args.csv:
        artifacts.write_csv_rows(rows, args.csv, CSV_SCHEMA)
        console.print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()

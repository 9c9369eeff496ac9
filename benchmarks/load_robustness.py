"""LightGCN base / Con / Gen epochs and one full-rank evaluation on Amazon-book (1536-d vectors), with the machine
otherwise idle and with one competing CPU-bound process, for each torch thread count asked: how much of our speed
survives a shared machine (issue #20 item 2).

With ``--official`` (a checkout of HKUDS/RLMRec) every cell also runs the official code in a child process
(``official_rlmrec.py``: its own train_epoch and test evaluation, same split, same seeded vectors, same thread
count), under the same condition, the two codes alternating; the table then gives our real lead idle and loaded.
Without it the official side is the idle figures of 2026-12-02 (``rlmrec_speed.OFFICIAL``): a competitor can only
slow it down, so official-idle / ours-loaded is then a lower bound on our lead under load.

    python benchmarks/load_robustness.py --source ../shared/data/amazon-book [--official PATH/TO/RLMRec]
        [--threads 1,2] [--cells none,con,gen,evaluate] [--conditions idle,loaded] [--reps 2] [--csv F]

The competitor is one ``python -c "while True: pass"`` process, started before each loaded cell and stopped after
it; idle and loaded cells alternate (which goes first swaps every repetition). Run it with nothing else on the
machine: the load average before each cell is printed and written. Besides the lead from each side's median, the
table gives the per-repetition leads (official / ours of the two runs made back to back), median and range: on a
shared host whose speed drifts by 10-25 % from minute to minute these are the comparison to quote.
"""

from __future__ import annotations

import argparse
import json
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
from official_rlmrec import checkout_problem  # noqa: E402
from rlmrec_speed import OFFICIAL, fmt, make_trainer, ratio, time_epochs, time_full_rank  # noqa: E402

CELLS = ("none", "con", "gen", "evaluate")
CODES = ("ours", "official")
CONDITIONS = ("idle", "loaded")
CSV_SCHEMA = {
    "code": pl.Utf8,
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


def time_official(args, cell: str, threads: int) -> float:
    """One official cell in a child process (official_rlmrec.py): an epoch, or for "evaluate" one test evaluation."""
    command = [sys.executable, str(Path(__file__).with_name("official_rlmrec.py")), "--official", str(args.official)]
    command += ["--source", str(args.source), "--threads", str(threads), "--dim", str(args.dim)]
    command += ["--align", "none", "--evaluate"] if cell == "evaluate" else ["--align", cell]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"official code failed on {cell} ({' '.join(command)}):\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["evaluate_seconds"] if cell == "evaluate" else result["epoch_seconds"][-1]


def measure(ds: Dataset, workdir: Path, args, console: Console) -> list[dict]:
    """Every (threads, cell) idle and loaded, ours and (with --official) the official code's, for each repetition;
    which condition and which code go first swaps every repetition."""
    codes = CODES if args.official else CODES[:1]
    rows = []
    for rep in range(args.reps):
        conditions = args.conditions if rep % 2 == 0 else args.conditions[::-1]
        order = codes if rep % 2 == 0 else codes[::-1]
        for threads in args.threads:
            torch.set_num_threads(threads)
            for cell in args.cells:
                for condition in conditions:
                    for code in order:
                        load = os.getloadavg()[0]
                        with competitor(condition == "loaded"):
                            if code == "ours":
                                seconds = time_cell(ds, workdir, cell, args.dim)
                            else:
                                seconds = time_official(args, cell, threads)
                        rows.append(
                            dict(
                                code=code,
                                cell=cell,
                                threads=threads,
                                condition=condition,
                                repetition=rep,
                                seconds=seconds,
                                load_average=load,
                            )
                        )
                        console.print(
                            f"rep {rep} threads {threads} {cell:>8} {condition:>6} {code:>8}: {seconds:7.2f} s "
                            f"(load {load:.1f})"
                        )
    return rows


def _median(rows: list[dict], code: str, cell: str, threads: int, condition: str) -> float | None:
    key = (code, cell, threads, condition)
    times = [r["seconds"] for r in rows if (r["code"], r["cell"], r["threads"], r["condition"]) == key]
    return statistics.median(times) if times else None


def paired_leads(rows: list[dict], cell: str, threads: int, condition: str) -> list[float]:
    """official / ours of each repetition that timed both codes in this cell and condition: the two ran back to
    back, so each ratio saw the same machine, where the medians of each side may come from different moments."""
    seconds = {
        (r["code"], r["repetition"]): r["seconds"]
        for r in rows
        if (r["cell"], r["threads"], r["condition"]) == (cell, threads, condition)
    }
    reps = sorted({rep for code, rep in seconds if code == "ours"})
    return [seconds[("official", rep)] / seconds[("ours", rep)] for rep in reps if ("official", rep) in seconds]


def summary(rows: list[dict]) -> list[dict]:
    """Per (cell, threads): medians idle and loaded (None where that condition was not run), ours and the official
    code's, our lead (official / ours) from the medians and the per-repetition leads (``paired_leads``).
    Without official rows the official side is its 2026-12-02 idle figure, and the loaded lead a lower bound."""
    out = []
    for cell in dict.fromkeys(r["cell"] for r in rows):
        for threads in sorted({r["threads"] for r in rows}):
            ours = {c: _median(rows, "ours", cell, threads, c) for c in ("idle", "loaded")}
            official = {c: _median(rows, "official", cell, threads, c) for c in ("idle", "loaded")}
            measured = any(v is not None for v in official.values())
            if not measured:
                idle = statistics.mean(OFFICIAL["evaluate" if cell == "evaluate" else f"lightgcn/{cell}"])
                official = {"idle": idle, "loaded": idle}
            out.append(
                dict(
                    cell=cell,
                    threads=threads,
                    idle=ours["idle"],
                    loaded=ours["loaded"],
                    slowdown=ratio(ours["loaded"], ours["idle"]),
                    official_idle=official["idle"],
                    official_loaded=official["loaded"] if measured else None,
                    official_slowdown=ratio(official["loaded"], official["idle"]) if measured else None,
                    lead_idle=ratio(official["idle"], ours["idle"]),
                    lead_loaded=ratio(official["loaded"], ours["loaded"]),
                    lead_loaded_measured=measured,
                    paired_idle=paired_leads(rows, cell, threads, "idle"),
                    paired_loaded=paired_leads(rows, cell, threads, "loaded"),
                )
            )
    return out


def _per_rep(leads: list[float]) -> str:
    """'median (min-max, n)' of the per-repetition leads, '-' without any."""
    if not leads:
        return "-"
    return f"{statistics.median(leads):.2f}x ({min(leads):.2f}-{max(leads):.2f}, {len(leads)})"


def summary_table(lines: list[dict], dim: int) -> Table:
    table = Table(title=f"LightGCN on Amazon-book, {dim}-d: idle vs one competing process (medians)")
    headers = ("cell", "threads", "ours idle s", "ours loaded s", "ours loaded / idle", "official idle s")
    headers += ("official loaded s", "official loaded / idle", "our lead idle", "our lead loaded")
    headers += ("per-rep lead idle", "per-rep lead loaded")
    for h in headers:
        table.add_column(h, justify="left" if h == "cell" else "right")
    for x in lines:
        fixed = "" if x["lead_loaded_measured"] else " (2026-12-02)"
        table.add_row(
            x["cell"],
            str(x["threads"]),
            fmt(x["idle"], "{:.2f}", "-"),
            fmt(x["loaded"], "{:.2f}", "-"),
            fmt(x["slowdown"], "{:.2f}x", "-"),
            fmt(x["official_idle"], "{:.2f}" + fixed, "-"),
            fmt(x["official_loaded"], "{:.2f}", "-"),
            fmt(x["official_slowdown"], "{:.2f}x", "-"),
            fmt(x["lead_idle"], "{:.2f}x", "-"),
            fmt(x["lead_loaded"], "{:.2f}x" + ("" if x["lead_loaded_measured"] else " at least"), "-"),
            _per_rep(x["paired_idle"]),
            _per_rep(x["paired_loaded"]),
        )
    return table


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=Path("../shared/data/amazon-book"))
    ap.add_argument(
        "--official", type=Path, default=None, help="a checkout of HKUDS/RLMRec: time its code beside ours, alternating"
    )
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    ap.add_argument("--cells", default=",".join(CELLS), help=f"comma-separated cells among {', '.join(CELLS)}")
    ap.add_argument("--reps", type=int, default=2, help="repetitions of every (cell, threads, condition)")
    ap.add_argument(
        "--conditions",
        default="idle,loaded",
        help="comma-separated among idle (nothing else running) and loaded (one competing CPU-bound process)",
    )
    ap.add_argument("--dim", type=int, default=1536, help="width of the (random) semantic vectors")
    ap.add_argument("--csv", type=Path, default=None, help="also write every timing to this CSV file")
    args = ap.parse_args()
    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    args.cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    args.conditions = tuple(dict.fromkeys(c.strip() for c in args.conditions.split(",") if c.strip()))
    if not args.conditions or set(args.conditions) - set(CONDITIONS):
        ap.error(f"--conditions: expected a comma-separated list among {', '.join(CONDITIONS)}")
    if not args.cells or set(args.cells) - set(CELLS):
        ap.error(f"--cells: expected a comma-separated list among {', '.join(CELLS)}")
    if args.official is not None and (problem := checkout_problem(args.official)):
        ap.error(problem)
    if args.reps < 1 or not args.threads or min(args.threads) < 1:
        ap.error("--reps and every --threads value must be >= 1")
    return args


def main() -> None:
    args = parse_args()
    console = Console() if sys.stdout.isatty() else Console(width=200)  # the table is wide
    workdir = Path(tempfile.mkdtemp(prefix="llmrec-load-"))
    try:
        prepare.run(prepare.config_from_recipe("amazon-book", None, {"source": str(args.source)}), workdir)
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

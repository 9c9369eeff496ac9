"""Forward + backward of RLMRec-Gen's loss, the direct lift (M x d_s) against the trainer's path
(GenAlignment.alignment_loss: products at the hidden width, the written-out M x M and norm gradients, the pooled
profile vectors normalised once), at the paper's Amazon-book shapes: M = 15 % of 20,332 nodes =
3,049 masked nodes, d = 32, d_s = 1536 (hidden 784).

The two run alternately in one process (which goes first swaps every repetition), on the same module and inputs;
the table gives each repetition's wall and CPU seconds and new / old, the medians, the median of the per-repetition
ratios, and the load average before and after. On a shared machine compare the medians of one run, and prefer
--threads 1 (CPU seconds are then the work).

    python benchmarks/gen_loss.py [--reps 7] [--threads 1] [--precision fp32] [--masked 3049] [--dim 32] \
[--sem-dim 1536]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from llmrec_cli.rlmrec.alignments.base import Semantic
from llmrec_cli.rlmrec.alignments.gen import GenAlignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "rlmrec"))  # the direct reference of the tests
from gen_reference import direct_gen_loss  # noqa: E402

N_USERS, N_ITEMS = 11_000, 9_332  # Amazon-book
HP = {"mask_ratio": 0.15, "recon_weight": 0.1, "re_temperature": 0.5}  # LightGCN + Gen on Amazon-book


def make_case(args) -> tuple[GenAlignment, list[torch.Tensor], torch.Tensor]:
    """The module, (final, sem_users, sem_items) and the masked indices; the semantic tables need no gradient."""
    torch.manual_seed(0)
    gen = GenAlignment(args.dim, args.dim, args.sem_dim, {**HP, "align_precision": args.precision})
    final = torch.randn(N_USERS + N_ITEMS, args.dim, requires_grad=True)
    sem = [torch.randn(N_USERS, args.sem_dim), torch.randn(N_ITEMS, args.sem_dim)]
    idx = torch.randperm(N_USERS + N_ITEMS)[: args.masked]
    return gen, [final, *sem], idx


def step(loss_fn, gen: GenAlignment, inputs: list[torch.Tensor], idx: torch.Tensor) -> tuple[float, float, float]:
    """(wall s, CPU s, loss) of one forward + backward, gradients cleared first."""
    gen.zero_grad(set_to_none=True)
    inputs[0].grad = None
    wall, cpu = time.perf_counter(), time.process_time()
    loss = loss_fn(inputs[0], idx, *inputs[1:])
    loss.backward()
    return time.perf_counter() - wall, time.process_time() - cpu, float(loss.detach())


def run(args) -> list[dict]:
    gen, inputs, idx = make_case(args)
    sem = Semantic(*inputs[1:])
    sem.unit_pool  # made once, as the trainer's Semantic does
    fns = {
        "old": lambda *a: direct_gen_loss(gen, *a),
        "new": lambda final, i, *_: gen.alignment_loss(final, None, i, sem),
    }
    for fn in fns.values():
        step(fn, gen, inputs, idx)  # warm-up
    rows = []
    for rep in range(args.reps):
        order = ("old", "new") if rep % 2 == 0 else ("new", "old")
        row = {"rep": rep + 1, "first": order[0]}
        for name in order:
            row[f"{name}_wall"], row[f"{name}_cpu"], row[f"{name}_loss"] = step(fns[name], gen, inputs, idx)
        rows.append(row)
    return rows


def results_table(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    for col in (
        "rep",
        "first",
        "old wall s",
        "new wall s",
        "new / old wall",
        "old CPU s",
        "new CPU s",
        "new / old CPU",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["rep"]), r["first"], *_cells(r["old_wall"], r["new_wall"]), *_cells(r["old_cpu"], r["new_cpu"])
        )
    med = {k: statistics.median(r[k] for r in rows) for k in ("old_wall", "new_wall", "old_cpu", "new_cpu")}
    table.add_row("median", "", *_cells(med["old_wall"], med["new_wall"]), *_cells(med["old_cpu"], med["new_cpu"]))
    paired = [statistics.median(r[f"new_{k}"] / r[f"old_{k}"] for r in rows) for k in ("wall", "cpu")]
    table.add_row("median of the ratios", "", "", "", f"{paired[0]:.2f}x", "", "", f"{paired[1]:.2f}x")
    return table


def _cells(old: float, new: float) -> tuple[str, str, str]:
    return f"{old:.3f}", f"{new:.3f}", f"{new / old:.2f}x"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--masked", type=int, default=int((N_USERS + N_ITEMS) * HP["mask_ratio"]))
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--sem-dim", type=int, default=1536)
    args = ap.parse_args()
    if args.reps < 1 or args.masked < 1:
        ap.error("--reps and --masked must be >= 1")
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    console = Console()
    load_before = os.getloadavg()
    rows = run(args)
    load_after = os.getloadavg()
    title = (
        f"Gen loss forward + backward, M={args.masked:,} d={args.dim} d_s={args.sem_dim} {args.precision}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs"
    )
    console.print(results_table(rows, title))
    gap = max(abs(r["new_loss"] - r["old_loss"]) / abs(r["old_loss"]) for r in rows)
    console.print(
        f"loss {rows[-1]['old_loss']:.6f} (old) vs {rows[-1]['new_loss']:.6f} (new), largest relative gap {gap:.1e}"
    )
    console.print(
        "load average (1, 5, 15 min): before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )


if __name__ == "__main__":
    main()

"""Scale benchmark for `prepare`: a synthetic 10-million-review Amazon-2018-format dump -> 5-core, 3:1:1 split.

Targets: prepare in < 60 s wall time and < 4 GB peak RSS on 2 cores. The dump is generated (seeded) into a temporary
folder, deleted afterwards unless --keep. User and item popularity follow Zipf-Mandelbrot laws (weight of the k-th
most popular ~ (k + q)^-1), ratings follow Amazon's skew towards 5 stars, and some (user, item) pairs repeat, as in
the real dumps. Prepare runs in a fresh child process so its peak RSS excludes the generator's memory.

    python benchmarks/prepare_scale.py [--rows 10000000] [--gzip] [--keep] [--cores 2]
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

TARGET_SECONDS = 60.0
TARGET_RSS_BYTES = 4 * 10**9
RATING_SHARES = {1: 0.08, 2: 0.05, 3: 0.09, 4: 0.18, 5: 0.60}
FIRST_DAY, LAST_DAY = 946_684_800, 1_538_352_000  # 2000-01-01 .. 2018-10-01, the 2018 release's span
RECIPE = """name = "prepare-scale"
[source]
format = "amazon"
path = "{dump}"
[filters]
kcore = 5
[split]
method = "ratio"
ratios = [3, 1, 1]
seed = 2023
"""


# ------------------------------------------------------------------------------------------------ generation
def zipf_ranks(rng: np.random.Generator, n_ids: int, offset: float, size: int) -> np.ndarray:
    """``size`` draws of popularity ranks 0..n_ids-1 with P(k) ~ (k + 1 + offset)^-1."""
    weights = (np.arange(1, n_ids + 1, dtype=np.float64) + offset) ** -1.0
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(size)).astype(np.uint64)


def scrambled_ids(ranks: np.ndarray, prefix: str, digits: int, multiplier: int) -> pl.Expr:
    """Rank -> an id string like Amazon's (A2SUAM1J3GNN3B, B000FA64PK), in no relation to popularity.

    ``multiplier`` is coprime with 10**digits, so distinct ranks get distinct ids.
    """
    codes = (ranks * np.uint64(multiplier) + np.uint64(12_345)) % np.uint64(10**digits)
    return pl.lit(prefix) + pl.Series(codes).cast(pl.String).str.zfill(digits)


def dump_lines(rows: int, seed: int) -> pl.DataFrame:
    """One column of JSON lines with the 2018 release's field names, built with vectorised string ops."""
    rng = np.random.default_rng(seed)
    n_users, n_items = max(10, rows * 3 // 20), max(10, rows // 25)  # 1.5M users, 400k items for 10M rows
    users = zipf_ranks(rng, n_users, 50.0, rows)
    items = zipf_ranks(rng, n_items, 20.0, rows)
    ratings = rng.choice(np.array(list(RATING_SHARES)), p=list(RATING_SHARES.values()), size=rows)
    times = rng.integers(FIRST_DAY, LAST_DAY, size=rows)
    line = pl.concat_str(
        pl.lit('{"reviewerID": "'),
        scrambled_ids(users, "A", 13, 2_654_435_761),
        pl.lit('", "asin": "'),
        scrambled_ids(items, "B", 9, 48_271),
        pl.lit('", "overall": '),
        pl.Series(ratings).cast(pl.String),
        pl.lit('.0, "unixReviewTime": '),
        pl.Series(times).cast(pl.String),
        pl.lit("}"),
    )
    return pl.select(line.alias("line"))


def write_dump(lines: pl.DataFrame, path: Path) -> None:
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=1) as fh:
            lines.write_csv(fh, include_header=False, quote_style="never")
    else:
        lines.write_csv(path, include_header=False, quote_style="never")


# ------------------------------------------------------------------------------------------------ prepare
def run_prepare(recipe: str, workdir: str, cores: int) -> dict:
    """In a fresh process: the real prepare stage on the dump; its wall time and this process's peak RSS."""
    if hasattr(os, "sched_setaffinity") and cores < len(os.sched_getaffinity(0)):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    from llmrec_cli.data import prepare

    start = time.perf_counter()
    cfg = prepare.config_from_recipe(None, Path(recipe), {})
    result = prepare.run(cfg, Path(workdir), force=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {"seconds": seconds, "peak_rss": peak, "stats": result.stats, "threads": pl.thread_pool_size()}


def prepare_in_child(recipe: Path, workdir: Path, cores: int) -> dict:
    os.environ["POLARS_MAX_THREADS"] = str(cores)  # read by the child's polars at import
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(run_prepare, (str(recipe), str(workdir), cores))


# ------------------------------------------------------------------------------------------------ report
def verdict(ok: bool) -> str:
    return "[green]pass[/green]" if ok else "[red]FAIL[/red]"


def report(rows: int, dump: Path, gen_seconds: float, out: dict, cores: int) -> tuple[Table, bool]:
    stats = out["stats"]
    fast, lean = out["seconds"] < TARGET_SECONDS, out["peak_rss"] < TARGET_RSS_BYTES
    table = Table(
        title=f"prepare at scale: {rows:,} Amazon-2018 reviews, 5-core, "
        f"3:1:1 ({cores} cores, {out['threads']} polars threads)"
    )
    for column in ("", "value", "target", ""):
        table.add_column(column, justify="right" if column else "left")
    table.add_row("rows generated", f"{rows:,}", "", "")
    table.add_row("dump size", f"{dump.stat().st_size / 1e6:,.0f} MB ({dump.name})", "", "")
    table.add_row("generation time", f"{gen_seconds:.1f} s", "", "")
    table.add_row("prepare wall time", f"{out['seconds']:.1f} s", f"< {TARGET_SECONDS:.0f} s", verdict(fast))
    table.add_row(
        "prepare peak RSS", f"{out['peak_rss'] / 1e9:.2f} GB", f"< {TARGET_RSS_BYTES / 1e9:.0f} GB", verdict(lean)
    )
    for step in stats["filters"]:
        table.add_row(
            f"after {step['filter']}",
            f"{step['rows']:,} rows, {step['users']:,} users, {step['items']:,} items",
            "",
            "",
        )
    table.add_row("users x items", f"{stats['users']:,} x {stats['items']:,}", "", "")
    for split in ("train", "valid", "test"):
        table.add_row(f"{split} interactions", f"{stats[f'{split}_interactions']:,}", "", "")
    return table, fast and lean


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="reviews to generate (default 10,000,000)")
    parser.add_argument("--gzip", action="store_true", help="write the dump gzipped (reviews.json.gz)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (dump, recipe, output)")
    parser.add_argument("--cores", type=int, default=2, help="cores (and polars threads) for prepare (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 120)
    folder = Path(tempfile.mkdtemp(prefix="llmrec-prepare-scale-"))
    try:
        dump = folder / ("reviews.json.gz" if args.gzip else "reviews.json")
        start = time.perf_counter()
        write_dump(dump_lines(args.rows, args.seed), dump)
        gen_seconds = time.perf_counter() - start
        console.print(f"generated {dump} in {gen_seconds:.1f} s; preparing ...")
        recipe = folder / "recipe.toml"
        recipe.write_text(RECIPE.format(dump=dump.name))
        out = prepare_in_child(recipe, folder / "work", args.cores)
        table, ok = report(args.rows, dump, gen_seconds, out, args.cores)
        console.print(table)
    finally:
        if args.keep:
            console.print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

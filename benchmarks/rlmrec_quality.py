"""Train RLMRec backbones (base, or an alignment) to early stop on the Amazon-book exact split and print
Recall/NDCG@5/10/20 beside the paper's Table 1 with the relative difference.

    python benchmarks/rlmrec_quality.py --source ../shared/data/amazon-book [--backbones lightgcn,sgl] [--seeds 2023]

Runs land in --workdir (default ./llmrec-work) as ordinary runs: an interrupted benchmark resumes its runs, and a
finished run is not retrained.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from llmrec_cli.commands.progress import epoch_progress
from llmrec_cli.data import prepare
from llmrec_cli.report.paper_rlmrec import METRICS, table1_amazon
from llmrec_cli.rlmrec import config, registry, train


def train_one(
    workdir: Path, backbone: str, align: str, seed: int, embeddings: str | None, device: str, console: Console
) -> dict:
    hp = config.resolve(backbone, align, "amazon-book")
    run_id = f"quality-amazon-book-{backbone}-{align}-s{seed}"
    ckpt = workdir / "runs" / run_id / train.CHECKPOINT
    req = train.TrainRequest(
        dataset="amazon-book",
        hp=hp,
        embeddings=embeddings,
        seed=seed,
        device=device,
        run_id=run_id,
        resume=ckpt.exists(),
    )
    start = time.perf_counter()
    console.print(f"{run_id}: training to early stop (a finished run is read back, an interrupted one resumes)")
    with epoch_progress(console, int(hp["max_epochs"])) as on_epoch:  # a bar, or a line per validation in a log
        result = train.run(req, workdir, on_epoch)
    return {
        **result.metrics,
        "_seconds": time.perf_counter() - start,
        "_epochs": result.epochs_run,
        "_best": result.best_epoch,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="../shared/data/amazon-book")
    ap.add_argument("--workdir", default="llmrec-work")
    ap.add_argument("--backbones", default=",".join(registry.backbones()))
    ap.add_argument("--align", default="none", choices=["none", "con", "gen"])
    ap.add_argument(
        "--embeddings", default=None, help="for con/gen: an embed folder (Amazon-book has no public profiles)"
    )
    ap.add_argument("--seeds", default="2023")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    console = Console()
    workdir = Path(args.workdir)
    prepare.run(prepare.config_from_recipe("amazon-book", None, {"source": args.source}), workdir)
    seeds = [int(s) for s in args.seeds.split(",")]
    table = Table(title=f"RLMRec Table 1 (Amazon-book, {args.align}): ours (mean over seeds {args.seeds}) vs paper")
    for col in ("backbone", "metric", "paper", "ours", "rel. diff", "epochs (best)", "train s"):
        table.add_column(col, justify="right")
    for backbone in args.backbones.split(","):
        runs = [train_one(workdir, backbone, args.align, s, args.embeddings, args.device, console) for s in seeds]
        paper = table1_amazon(backbone, args.align)
        for i, metric in enumerate(METRICS):
            ours = statistics.mean(r[metric] for r in runs)
            sd = statistics.stdev(r[metric] for r in runs) if len(runs) > 1 else 0.0
            rel = ours / paper[metric] - 1
            style = "green" if abs(rel) <= 0.03 or rel > 0 else "red"
            extra = (f"{runs[0]['_epochs']} ({runs[0]['_best']})", f"{runs[0]['_seconds']:.0f}") if i == 0 else ("", "")
            table.add_row(
                backbone if i == 0 else "",
                metric,
                f"{paper[metric]:.4f}",
                f"{ours:.4f}" + (f" ± {sd:.4f}" if sd else ""),
                f"[{style}]{rel:+.1%}[/{style}]",
                *extra,
            )
        console.print(table) if backbone == args.backbones.split(",")[-1] else None
        console.print(f"{backbone}: done ({runs[0]['_seconds']:.0f} s)")


if __name__ == "__main__":
    main()

"""The closing summary of `make demo`: what ran, where the artifacts and the report are, base vs Con vs Gen vs
semantic-only over seeds with a verdict against the seed noise, and the next commands to try.

    python -m llmrec_cli.report.demo_summary --workdir W [--embeddings DIR] [--report DIR] RUN [RUN ...]

Only the runs named are summarised (pipelines/demo.sh passes the ones it trained), so other runs in the workdir
never enter the table. The verdict is the report's (sections.verdict): a gap to base counts only beyond two
combined seed standard deviations.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from llmrec_cli import artifacts, experiments
from llmrec_cli.report import collect, sections
from llmrec_cli.report import markdown as md
from llmrec_cli.workdir import Workdir

METRICS = ("recall@20", "ndcg@20", "recall@10", "ndcg@10")
ORDER = ("base", "con", "gen", "semantic-only")
LABELS = {
    "base": "base (BPR only)",
    "con": "RLMRec-Con",
    "gen": "RLMRec-Gen",
    "semantic-only": "semantic-only (no training)",
}


def demo_runs(workdir: Path, run_ids: list[str]) -> pl.DataFrame:
    """The evaluated runs among ``run_ids`` (collect.read_runs rows);
    a named run missing from the workdir is an error."""
    runs = collect.read_runs(workdir).filter(pl.col("run").is_in(run_ids))
    missing = sorted(set(run_ids) - set(runs["run"].to_list()))
    if missing:
        raise SystemExit(f"error: no evaluated run {', '.join(missing)} in {workdir}/runs; rerun `make demo`")
    return runs


def summary_rows(runs: pl.DataFrame) -> list[dict]:
    """One row per variant (its configuration with the most seeds): metrics mean and std, epochs, gap to base."""
    epochs = runs.group_by("variant").agg(pl.col("best_epoch").mean(), pl.col("epochs_run").mean())
    agg = sections.aggregate(runs, ["model", "variant"], METRICS).join(epochs, on="variant", how="left")
    rows = {}
    for row in agg.sort("n").iter_rows(named=True):
        rows[row["variant"]] = row
    ordered = sorted(rows.values(), key=lambda r: ORDER.index(r["variant"]) if r["variant"] in ORDER else len(ORDER))
    base = rows.get("base")
    for row in ordered:
        other = base is not None and row is not base
        row["vs_base"] = row["recall@20"] / base["recall@20"] - 1 if other else None
        row["verdict"] = sections.verdict(row, base) if other else None
    return ordered


def table(rows: list[dict]) -> str:
    view = pl.DataFrame(
        [
            {
                "variant": LABELS.get(r["variant"], r["variant"]),
                "seeds": r["n"],
                "R@20": md.mean_std(r["recall@20"], r["recall@20_std"], r["n"]),
                "Δ R@20 vs base": md.percent(r["vs_base"]),
                "N@20": md.mean_std(r["ndcg@20"], r["ndcg@20_std"], r["n"]),
                "best epoch": _epochs(r),
                "vs base, against the seed noise": r["verdict"] or "-",
            }
            for r in rows
        ]
    )
    return md.table(view)


def _epochs(row: dict) -> str:
    if row["variant"] == "semantic-only" or row["best_epoch"] is None:
        return "-"
    return f"{row['best_epoch']:.0f} of {row['epochs_run']:.0f}"


def findings(rows: list[dict]) -> list[str]:
    """One sentence per variant against base."""
    return [
        f"- {LABELS.get(r['variant'], r['variant'])} vs base: R@20 {md.percent(r['vs_base'])}, {r['verdict']}."
        for r in rows
        if r["verdict"]
    ]


DESCRIBE = {
    "base": "base (BPR only)",
    "con": "RLMRec-Con (BPR + contrastive alignment to the profile embeddings)",
    "gen": "RLMRec-Gen (BPR + generative alignment: masked embeddings reconstruct the profile embeddings)",
    "semantic-only": "semantic-only (the profile embeddings alone, "
    "ranked by cosine: no training, the same for every seed)",
}


def what_ran(workdir: Path, runs: pl.DataFrame) -> str:
    dataset = runs["dataset"][0]
    counts = (artifacts.read_manifest(Workdir.of(workdir).data(dataset)) or {}).get("counts", {})
    seeds = " ".join(str(s) for s in sorted(set(runs.filter(pl.col("variant") != "semantic-only")["seed"].to_list())))
    encoder = next((e for e in runs["embeddings"].to_list() if e), "-")
    variants = [
        DESCRIBE.get(v, v)
        for v in ORDER + tuple(sorted(set(runs["variant"]) - set(ORDER)))
        if v in set(runs["variant"])
    ]
    return (
        f"What ran, on '{dataset}' ({counts.get('users', '?')} users x {counts.get('items', '?')} items; profiles "
        f"written by a local LLM, embedded by {encoder}): {'; '.join(variants)}. The trained ones are LightGCN, seeds "
        f"{seeds or '-'}. "
        "Test split, every item ranked, training items masked; mean ± sample std over seeds."
    )


def where(workdir: Path, runs: pl.DataFrame, report: Path | None) -> list[str]:
    lines = [
        f"Runs ({runs.height}): {workdir / 'runs'}/<run>/ with metrics.json, history.parquet, per_user_test.parquet, "
        f"manifest.json: {', '.join(sorted(runs['run'].to_list()))}"
    ]
    if report is not None:
        lines.append(f"Report: {report.resolve() / 'report.md'} (this experiment's evaluated runs, with CSVs)")
    return lines


def next_steps(workdir: Path, runs: pl.DataFrame, embeddings: str | None, report: Path | None) -> list[str]:
    llmrec = f"llmrec --workdir {workdir}"
    base = runs.filter(pl.col("variant") == "base")["run"].sort().to_list()
    steps = []
    if report is None:
        steps.append(f"{llmrec} report --name demo      # the full report of the workdir")
    if base:
        steps.append(f"{llmrec} evaluate {base[0]} --split valid --k 10 --k 50   # other cut-offs, kept per split")
    if embeddings:
        steps.append(
            f"{llmrec} --seed 1 train-rlmrec --dataset demo --backbone gccf --align gen --embeddings {embeddings}"
        )
    steps += [
        f"make reproduce-quick WORKDIR={workdir}   # the papers' experiments, reduced set (README: Reproducing)",
        "llmrec --help   # every stage; `llmrec COMMAND --help` for its options",
    ]
    return steps


def render(workdir: Path, run_ids: list[str], embeddings: str | None = None, report: Path | None = None) -> str:
    runs = demo_runs(workdir, run_ids)
    rows = summary_rows(runs)
    parts = [
        "== demo: summary ==",
        "",
        what_ran(workdir, runs),
        "",
        table(rows),
        "",
        "A difference counts only beyond two combined seed standard deviations (2σ) of the two rows.",
        *findings(rows),
        "",
        *where(workdir, runs, report),
        "",
        "Next:",
        *(f"  {s}" for s in next_steps(workdir, runs, embeddings, report)),
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m llmrec_cli.report.demo_summary", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--embeddings", help="the embeddings folder the runs aligned with (for the next commands)")
    parser.add_argument("--report", type=Path, help="the report folder written for these runs")
    parser.add_argument("--experiment", help="summarise this experiment's runs of --dataset instead of named runs")
    parser.add_argument("--dataset", default="demo", help="with --experiment: the dataset whose runs to summarise")
    parser.add_argument("runs", nargs="*", help="run ids under <workdir>/runs")
    args = parser.parse_args(argv)
    runs = args.runs
    if args.experiment:
        listed = experiments.runs(args.workdir, args.experiment)
        runs += collect.read_runs(args.workdir, listed).filter(pl.col("dataset") == args.dataset)["run"].to_list()
    if not runs:
        parser.error("name the runs, or give --experiment (with runs of --dataset)")
    print(render(args.workdir.resolve(), runs, args.embeddings, args.report))


if __name__ == "__main__":
    main()

"""The report's sections, each built from the runs table (collect.read_runs) and, for efficiency, the speed CSV.

A section never invents a number: where nothing was run it says so and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from llmrec_cli.report import markdown as md
from llmrec_cli.report import paper_rlmrec, plots

PAPER_DATASETS = {"amazon-book": "Amazon-book", "yelp": "Yelp", "steam": "Steam"}
VARIANT_ORDER = ("base", "con", "gen", "con+shuffled", "gen+shuffled", "con+w0", "gen+w0", "kar", "semantic-only")
CLLM4REC_MODELS = {"cllm4rec": "CLLM4Rec", "multivae": "Multi-VAE", "most-popular": "most-popular"}
NOT_RUN = {
    "amazon-book": "not run in this workdir (`pipelines/amazon-book.sh`)",
    "yelp": "no Yelp data in ../shared/data (the Yelp Open Dataset cannot be downloaded here; "
    "`llmrec prepare --dataset yelp --source <your copy>` runs it)",
    "steam": "the public copy of RLMRec's Steam split has no training part (../shared/data/SOURCES.md); "
    "the real-profiles section uses its real interactions and item text instead (steam-text)",
}
IMPORT_HINT = {
    "amazon-book": "no profile runs yet: import RLMRec's own GPT-3.5 profiles (`llmrec profile --dataset amazon-book "
    "--import ../shared/data/amazon-book/profiles`), embed them and train Con/Gen "
    "(`pipelines/amazon-book-profiles.sh`)",
}


@dataclass
class Section:
    title: str
    body: str
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)  # written as <name>.csv
    plots: list[str] = field(default_factory=list)  # file names written into the report folder


def _clean(runs: pl.DataFrame) -> pl.DataFrame:
    """Runs on un-noised data."""
    return runs.filter(pl.col("noise") == 0)


def _metric_cols(runs: pl.DataFrame, metrics) -> list[str]:
    return [m for m in metrics if m in runs.columns]


def aggregate(runs: pl.DataFrame, by: list[str], metrics) -> pl.DataFrame:
    """Mean and sample std over seeds of each metric, with the number of runs, per ``by`` group.

    Runs are only averaged when their configurations agree apart from seed and dataset copy
    (collect.experiment_key) and they aligned with the same encoder's vectors: two differently configured runs of
    one model, or one model aligned with two encoders, stay two rows, each named by a run.
    """
    cols = _metric_cols(runs, metrics)
    aggs = [pl.len().alias("n"), pl.col("run").sort().first().alias("run")]
    for m in cols:
        aggs += [pl.col(m).mean().alias(m), pl.col(m).std().alias(f"{m}_std")]
    keys = [*by, "config_key"] + (["embeddings"] if "embeddings" in runs.columns and "embeddings" not in by else [])
    return runs.group_by(keys, maintain_order=True).agg(aggs)


def _variant_rank(variant: str) -> int:
    return VARIANT_ORDER.index(variant) if variant in VARIANT_ORDER else len(VARIANT_ORDER)


# ------------------------------------------------------------------------------------------------------ demo
def demo(runs: pl.DataFrame) -> Section:
    metrics = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
    sub = runs.filter(pl.col("dataset") == "demo")
    if sub.is_empty():
        return Section("Demo, end to end", "Not run in this workdir (`pipelines/demo.sh`).")
    view = sub.select("run", "model", "variant", "seed", *_metric_cols(sub, metrics), "epochs_run").sort(
        "model", "variant"
    )
    body = (
        "400 real Steam users x 299 games (`datasets/demo`), profiles written by the local LLM and shipped in the "
        "repo, embedded with all-MiniLM-L6-v2, then trained and evaluated through the CLI.\n\n" + md.table(view)
    )
    return Section("Demo, end to end", body, {"demo": view})


# ---------------------------------------------------------------------------------------------------- table 1
def table1(runs: pl.DataFrame) -> Section:
    rl = _clean(runs).filter(~pl.col("random_vectors") & (pl.col("stage") == "train-rlmrec"))
    real = rl.filter(~pl.col("shuffled"))
    parts, tables = [], {}
    for dataset, label in PAPER_DATASETS.items():
        sub = real.filter(pl.col("base_dataset") == dataset)
        if sub.is_empty():
            parts.append(f"**{label}**: no runs; {NOT_RUN[dataset]}.")
            continue
        frame = _table1_rows(dataset, aggregate(sub, ["model", "variant"], paper_rlmrec.METRICS))
        tables[f"table1-{dataset}"] = frame
        parts.append(
            f"**{label}** (mean ± sample std over seeds; Δ paper = ours / paper - 1; gain = the row over its "
            "own base, ours over our base mean and the paper's over its base)\n\n" + md.table(_table1_view(frame))
        )
        with_profiles = sub.filter(pl.col("embeddings").is_not_null())
        if with_profiles.is_empty() and dataset in IMPORT_HINT:
            parts.append(f"{label}: {IMPORT_HINT[dataset]}.")
        controls = rl.filter((pl.col("base_dataset") == dataset) & pl.col("variant").str.contains(r"\+"))
        if not controls.is_empty():
            seed_table = _seed_table(rl.filter(pl.col("base_dataset") == dataset))
            tables[f"controls-{dataset}"] = seed_table
            parts += [
                f"{label}, with the controls (`+shuffled`: the same vectors permuted among users and among items; "
                "`+w0`: the variant's own settings with its alignment weight at 0):",
                md.table(_seed_view(seed_table)),
                _findings(seed_table),
            ]
    intro = (
        "Paper Table 1 beside ours, on the papers' own splits. Only rows we ran have numbers; the others say why. "
        "The verdict compares each Con/Gen row with our base of the same backbone: a gain or a loss counts only "
        "beyond two combined seed standard deviations."
    )
    return Section("Table 1: base vs Con vs Gen on the papers' datasets", "\n\n".join([intro, *parts]), tables)


def _table1_rows(dataset: str, ours: pl.DataFrame) -> pl.DataFrame:
    """One row per paper row and configuration we ran for it (a row with n = 0 where we ran none)."""
    rows = []
    for (backbone, variant), values in paper_rlmrec.TABLE1[dataset].items():
        label = "semantic-only" if backbone == "semantic" else ("base" if variant == "none" else variant)
        hits = ours.filter((pl.col("model") == backbone) & (pl.col("variant") == label))
        base = _our_base(ours, backbone)
        paper_base = paper_rlmrec.table1(dataset, backbone, "none") if backbone != "semantic" else None
        for hit in hits.sort("n", descending=True).iter_rows(named=True) if hits.height else [None]:
            row = {
                "backbone": backbone,
                "variant": label,
                "encoder": hit.get("embeddings") if hit else None,
                "n": hit["n"] if hit else 0,
                "run": hit["run"] if hit else "(not run)",
            }
            for metric, paper in zip(paper_rlmrec.METRICS, values):
                mine = hit.get(metric) if hit else None
                row[f"{metric}_paper"] = paper
                row[f"{metric}_ours"] = mine
                row[f"{metric}_std"] = hit.get(f"{metric}_std") if hit else None
                row[f"{metric}_diff"] = None if mine is None else mine / paper - 1
            row["recall@20_gain_paper"] = (
                None if paper_base is None or label == "base" else values[2] / paper_base["recall@20"] - 1
            )
            row["recall@20_gain_ours"] = (
                None if hit is None or base is None or label == "base" else hit["recall@20"] / base["recall@20"] - 1
            )
            row["verdict"] = verdict(hit, base) if label not in ("base", "semantic-only") else None
            rows.append(row)
    return pl.DataFrame(
        rows, schema_overrides={"run": pl.String, "encoder": pl.String, "verdict": pl.String}, infer_schema_length=None
    )


def _our_base(ours: pl.DataFrame, backbone: str) -> dict | None:
    """Our base row of ``backbone`` with the most seeds."""
    base = ours.filter((pl.col("model") == backbone) & (pl.col("variant") == "base")).sort("n", descending=True)
    return base.row(0, named=True) if base.height else None


def verdict(row: dict | None, base: dict | None, metric: str = "recall@20") -> str | None:
    """Whether ``row`` differs from ``base`` beyond the seed noise: the gap against two combined sample std. A side
    with one seed borrows the other side's std (the same training noise); with one seed on both, no verdict."""
    if row is None or base is None:
        return None
    stds = [r[f"{metric}_std"] if r["n"] >= 2 else None for r in (row, base)]
    known = [s for s in stds if s is not None]
    if not known:
        return "one seed each: no spread to judge"
    spread = sum((s if s is not None else known[0]) ** 2 for s in stds) ** 0.5
    gap = row[metric] - base[metric]
    if abs(gap) <= 2 * spread:
        return f"within seed noise ({gap:+.4f}, 2σ {2 * spread:.4f})"
    return f"{'gain' if gap > 0 else 'loss'} beyond seed noise ({gap:+.4f}, 2σ {2 * spread:.4f})"


def _table1_view(frame: pl.DataFrame) -> pl.DataFrame:
    def ms(metric: str) -> pl.Expr:
        return pl.struct(f"{metric}_ours", f"{metric}_std", "n").map_elements(
            lambda r: md.mean_std(r[f"{metric}_ours"], r[f"{metric}_std"], r["n"]), return_dtype=pl.String
        )

    def pct(col: str) -> pl.Expr:
        return pl.col(col).map_elements(md.percent, return_dtype=pl.String)

    return frame.select(
        "backbone",
        "variant",
        pl.col("encoder").fill_null("-"),
        pl.col("n").alias("seeds"),
        "run",
        pl.col("recall@20_paper").alias("R@20 paper"),
        ms("recall@20").alias("R@20 ours"),
        pct("recall@20_diff").alias("Δ paper"),
        pct("recall@20_gain_paper").alias("gain paper"),
        pct("recall@20_gain_ours").alias("gain ours"),
        pl.col("verdict").fill_null("-"),
        pl.col("ndcg@20_paper").alias("N@20 paper"),
        ms("ndcg@20").alias("N@20 ours"),
    )


# ----------------------------------------------------------------------------------------------- real profiles
def real_profiles(runs: pl.DataFrame) -> Section:
    """Base vs Con vs Gen vs shuffled profiles over seeds, on every dataset with real profile embeddings."""
    rl = _clean(runs).filter((pl.col("stage") == "train-rlmrec") & ~pl.col("random_vectors"))
    with_text = rl.filter(pl.col("embeddings").is_not_null())["base_dataset"].unique().sort().to_list()
    with_text = [d for d in with_text if d not in PAPER_DATASETS]
    if not with_text:
        return Section(
            "RLMRec with real profiles",
            "No runs with real profile embeddings in this workdir (`pipelines/real-profiles.sh`).",
        )
    parts, tables = [], {}
    for dataset in with_text:
        frame = _seed_table(rl.filter(pl.col("base_dataset") == dataset))
        tables[f"profiles-{dataset}"] = frame
        parts += [f"**{dataset}**", md.table(_seed_view(frame)), _findings(frame)]
    intro = (
        "Profiles written by the local LLM (qwen2.5-coder-0.5b-instruct, Q4_K_M) from each dataset's training split "
        "only, embedded with all-MiniLM-L6-v2 (384-d), where the paper used gpt-3.5-turbo and text-embedding-ada-002 "
        "(1536-d). `+shuffled` = the same vectors permuted across users and across items (the paper's RQ2 control); "
        "`+w0` = the variant's own settings (weight decay, layers, graph) with its alignment weight set to 0, so what "
        "the variant gives without the profiles. Mean ± sample std over seeds; Δ = relative to the same backbone's "
        "base mean."
    )
    return Section(
        "RLMRec with real profiles (and the shuffled-profile ablation)", "\n\n".join([intro, *parts]), tables
    )


def _seed_table(rl: pl.DataFrame) -> pl.DataFrame:
    metrics = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
    agg = aggregate(rl, ["model", "variant"], metrics)
    base = (
        agg.filter(pl.col("variant") == "base")
        .sort("n", descending=True)
        .unique("model", keep="first")
        .select("model", pl.col("recall@20").alias("_b_r"), pl.col("ndcg@20").alias("_b_n"))
    )
    agg = (
        agg.join(base, on="model", how="left")
        .with_columns(
            (pl.col("recall@20") / pl.col("_b_r") - 1).alias("recall@20_vs_base"),
            (pl.col("ndcg@20") / pl.col("_b_n") - 1).alias("ndcg@20_vs_base"),
        )
        .drop("_b_r", "_b_n")
    )
    return agg.sort(pl.col("model"), pl.col("variant").map_elements(_variant_rank, return_dtype=pl.Int64))


def _seed_view(frame: pl.DataFrame) -> pl.DataFrame:
    def ms(metric: str) -> pl.Expr:
        return pl.struct(metric, f"{metric}_std", "n").map_elements(
            lambda r: md.mean_std(r[metric], r[f"{metric}_std"], r["n"]), return_dtype=pl.String
        )

    return frame.select(
        "model",
        "variant",
        pl.col("embeddings").fill_null("-").alias("vectors"),
        pl.col("n").alias("seeds"),
        "run",
        ms("recall@20").alias("R@20"),
        pl.col("recall@20_vs_base").map_elements(md.percent, return_dtype=pl.String).alias("Δ R@20"),
        ms("ndcg@20").alias("N@20"),
        pl.col("ndcg@20_vs_base").map_elements(md.percent, return_dtype=pl.String).alias("Δ N@20"),
        ms("recall@10").alias("R@10"),
        ms("ndcg@10").alias("N@10"),
    )


def _findings(frame: pl.DataFrame) -> str:
    """One sentence per (backbone, alignment, vectors): the change against base and whether it exceeds the seed
    noise, and against its controls when they were run with the same vectors' encoder; then one per run with
    non-default settings (con+kd_temperature=0.5, con+align_precision=bf16) against the same variant and vectors
    with the official settings."""
    lines = []
    for model in frame["model"].unique(maintain_order=True).to_list():
        # per variant and vectors, the configuration with the most seeds
        rows = frame.filter(pl.col("model") == model).sort("n")
        sub = {(r["variant"], r.get("embeddings")): r for r in rows.iter_rows(named=True)}
        base = sub.get(("base", None))
        for (variant, vectors), row in sub.items():
            if variant not in ("con", "gen") or base is None:
                continue
            label = f"{model}+{variant}" + (f" ({vectors})" if vectors else "")
            lines.append(
                f"- {label}: R@20 {md.percent(row['recall@20'] / base['recall@20'] - 1)} vs base "
                f"({_significance(row, base)})"
                + _control_note(sub.get((f"{variant}+shuffled", f"{vectors}-shuffled")), row, "shuffled profiles")
                + _control_note(sub.get((f"{variant}+w0", vectors)), row, "no alignment term")
            )
        lines += _settings_findings(model, sub)
    return "\n".join(lines) if lines else "_(no base run to compare with)_"


def _settings_findings(model: str, sub: dict) -> list[str]:
    """Each settings variant (a label with "=") against its variant's official settings, same vectors."""
    lines = []
    for (variant, vectors), row in sub.items():
        parent, _, settings = variant.partition("+")
        default = sub.get((parent, vectors))
        if "=" not in settings or default is None:
            continue
        label = f"{model}+{variant}" + (f" ({vectors})" if vectors else "")
        lines.append(
            f"- {label}: R@20 {md.percent(row['recall@20'] / default['recall@20'] - 1)} vs {parent} with the official "
            f"settings ({_significance(row, default)})"
        )
    return lines


def _significance(row: dict, base: dict) -> str:
    if row["n"] < 2 or base["n"] < 2:
        return "one seed: no spread to compare with"
    spread = (row["recall@20_std"] ** 2 + base["recall@20_std"] ** 2) ** 0.5
    gap = abs(row["recall@20"] - base["recall@20"])
    verdict = "larger than" if gap > 2 * spread else "within"
    return f"the gap {gap:.4f} is {verdict} two combined seed std ({2 * spread:.4f}), {row['n']} and {base['n']} seeds"


def _control_note(control: dict | None, row: dict, label: str) -> str:
    if control is None:
        return ""
    return (
        f"; {label}: R@20 {md.percent(control['recall@20'] / row['recall@20'] - 1)} vs real "
        f"({_significance(control, row)})"
    )


# ------------------------------------------------------------------------------------------------------ noise
def noise(runs: pl.DataFrame, out: Path) -> Section:
    rl = runs.filter((pl.col("stage") == "train-rlmrec") & ~pl.col("shuffled") & ~pl.col("random_vectors"))
    noisy = rl.filter(pl.col("noise") > 0)
    if noisy.is_empty():
        return Section("Noise robustness", "No runs on noised training data in this workdir (`pipelines/noise.sh`).")
    parts, tables, pngs = [], {}, []
    for dataset in noisy["base_dataset"].unique().sort().to_list():
        sub = rl.filter(pl.col("base_dataset") == dataset)
        # the configurations run on noised data (same settings and vectors), at every level including the clean one
        same = ["model", "variant", "config_key", "embeddings"]
        noised = noisy.filter(pl.col("base_dataset") == dataset).select(same).unique()
        frame = _noise_table(sub.join(noised, on=same, how="semi", nulls_equal=True))
        tables[f"noise-{dataset}"] = frame
        png = f"noise-{dataset}.png"
        plots.noise(frame, out / png, dataset)
        pngs.append(png)
        parts += [
            f"**{dataset}** (R@20, mean over seeds; drop = 1 - R@20 / R@20 at 0 %)",
            md.table(_noise_view(frame)),
            f"![noise robustness on {dataset}]({png})",
        ]
        versus = noise_verdicts(frame)
        if not versus.is_empty():
            tables[f"noise-verdicts-{dataset}"] = versus
            parts += [f"{dataset}, each variant beside its backbone's base at the same noise level:", md.table(versus)]
    intro = (
        "Fake (user, item) pairs that occur in no split are added to the training split only "
        "(`llmrec prepare --noise`), at 5-25 % of its size; validation and test are untouched. The paper (RQ3, "
        "Fig. 5, Amazon-book, LightGCN) gives values only in a figure: both variants beat Base at every level and "
        "Con degrades least."
    )
    return Section("Noise robustness", "\n\n".join([intro, *parts]), tables, pngs)


def _noise_table(sub: pl.DataFrame) -> pl.DataFrame:
    agg = aggregate(sub, ["model", "variant", "noise"], ("recall@20", "ndcg@20"))
    clean = agg.filter(pl.col("noise") == 0).select(
        "model", "variant", "config_key", pl.col("recall@20").alias("_clean")
    )
    return (
        agg.join(clean, on=["model", "variant", "config_key"], how="left")
        .with_columns((1 - pl.col("recall@20") / pl.col("_clean")).alias("relative_drop"))
        .drop("_clean")
        .sort("model", pl.col("variant").map_elements(_variant_rank, return_dtype=pl.Int64), "noise")
    )


def noise_verdicts(frame: pl.DataFrame) -> pl.DataFrame:
    """Every variant beside the same backbone's base at each level both were run at: seeds, R@20, the relative
    difference and the verdict against the seed noise (:func:`verdict`)."""
    rows = []
    for r in frame.filter(pl.col("variant") != "base").iter_rows(named=True):
        bases = frame.filter(
            (pl.col("model") == r["model"]) & (pl.col("variant") == "base") & (pl.col("noise") == r["noise"])
        )
        if bases.is_empty():
            continue
        b = bases.sort("n", descending=True).row(0, named=True)
        rows.append(
            {
                "model": r["model"],
                "variant": r["variant"],
                "noise": f"{round(100 * r['noise'])}%",
                "seeds": f"{r['n']} / {b['n']}",
                "R@20": md.mean_std(r["recall@20"], r["recall@20_std"], r["n"]),
                "base R@20": md.mean_std(b["recall@20"], b["recall@20_std"], b["n"]),
                "vs base": md.percent(r["recall@20"] / b["recall@20"] - 1 if b["recall@20"] else None),
                "verdict": verdict(r, b) or "-",
            }
        )
    return pl.DataFrame(rows, schema=dict.fromkeys(NOISE_VERDICT_COLUMNS, pl.String))


NOISE_VERDICT_COLUMNS = ("model", "variant", "noise", "seeds", "R@20", "base R@20", "vs base", "verdict")


def _noise_view(frame: pl.DataFrame) -> pl.DataFrame:
    index = ["model", "variant", "config_key"]
    r20 = frame.with_columns((pl.col("noise") * 100).round(0).cast(pl.Int64).cast(pl.String).alias("level"))
    wide = r20.pivot(on="level", index=index, values="recall@20", aggregate_function="first", maintain_order=True)
    drop = r20.filter(pl.col("noise") > 0).pivot(
        on="level", index=index, values="relative_drop", aggregate_function="first", maintain_order=True
    )
    drop = drop.select(
        *index,
        *[
            pl.col(c).map_elements(md.percent, return_dtype=pl.String).alias(f"drop {c}%")
            for c in drop.columns[len(index) :]
        ],
    )
    wide = wide.rename({c: f"{c}%" for c in wide.columns[len(index) :]})
    return wide.join(drop, on=index, how="left").drop("config_key")


# ------------------------------------------------------------------------------------------------ efficiency
def efficiency(runs: pl.DataFrame, speed_csv: Path) -> Section:
    parts, tables = [], {}
    if speed_csv.is_file():
        speed = pl.read_csv(speed_csv)
        tables["efficiency"] = speed
        parts.append(_speed_text(speed))
    else:
        parts.append(f"No speed benchmark in this workdir ({speed_csv} is missing; `pipelines/efficiency.sh`).")
    timed = runs.filter((pl.col("stage") == "train-rlmrec") & pl.col("seconds_per_epoch").is_not_null())
    if not timed.is_empty():
        per_run = (
            timed.group_by("dataset", "model", "variant", maintain_order=True)
            .agg(
                pl.len().alias("runs"),
                (1000 * pl.col("seconds_per_epoch").mean()).alias("ms/epoch (with validation)"),
                pl.col("epochs_run").mean().alias("epochs"),
            )
            .sort("dataset", "model", "variant")
        )
        tables["training-times"] = per_run
        parts.append(
            "Time per epoch of the training runs in this report (validation included, so above the "
            "benchmark's pure epoch time; small datasets take milliseconds):\n\n" + md.table(per_run, digits=0)
        )
    return Section("Efficiency: seconds per epoch beside the paper's Table 4", "\n\n".join(parts), tables)


def _speed_text(speed: pl.DataFrame) -> str:
    train = speed.filter(pl.col("backbone") != "evaluate")
    evaluate = speed.filter(pl.col("backbone") == "evaluate")
    cols = [
        c
        for c in (
            "backbone",
            "align",
            "dim",
            "seconds_per_epoch",
            "paper_seconds",
            "ratio_to_paper",
            "ratio_to_floor",
            "threads",
            "device",
        )
        if c in train.columns
    ]
    text = (
        "`benchmarks/rlmrec_speed.py` on Amazon-book: our seconds per training epoch on this machine beside the "
        "paper's Table 4 (Xeon Silver 4314 + RTX 3090); `ratio_to_floor` = our Con/Gen epoch over bare matrix "
        "products of the same shapes.\n\n" + md.table(train.select(cols), digits=2)
    )
    if not evaluate.is_empty():
        text += f"\n\nFull-rank evaluation of every user: {evaluate['seconds_per_epoch'][0]:.2f} s."
    return text


# ---------------------------------------------------------------------------------------------------- cllm4rec
def cllm4rec(runs: pl.DataFrame) -> Section:
    metrics = ("recall@20", "recall@40", "ndcg@100")
    sub = runs.filter(pl.col("model").is_in(list(CLLM4REC_MODELS)) & (pl.col("noise") == 0))
    if sub.is_empty():
        return Section(
            "CLLM4Rec vs Multi-VAE vs most-popular", "Not run in this workdir (`pipelines/cllm4rec-beauty.sh`)."
        )
    parts, tables = [], {}
    for dataset in sub["base_dataset"].unique().sort().to_list():
        agg = aggregate(sub.filter(pl.col("base_dataset") == dataset), ["model"], metrics)
        rows = [
            {
                "model": CLLM4REC_MODELS[r["model"]],
                "source": "ours",
                "n": r["n"],
                "run": r["run"],
                **{k: r.get(k) for k in metrics},
            }
            for r in agg.iter_rows(named=True)
        ]
        rows += [
            {"model": label, "source": "paper", "n": None, "run": None, **{k: None for k in metrics}}
            for label in ("Multi-VAE", "CLLM4Rec")
        ]
        frame = pl.DataFrame(
            rows, schema_overrides={k: pl.Float64 for k in metrics} | {"n": pl.Int64, "run": pl.String}
        )
        tables[f"cllm4rec-{dataset}"] = frame
        view = frame.with_columns(
            pl.when(pl.col("source") == "paper")
            .then(pl.lit("n/a (paper)"))
            .otherwise(pl.col(k).map_elements(md.number, return_dtype=pl.String))
            .alias(k)
            for k in metrics
        )
        parts += [f"**{dataset}** (test split, training items masked, Recall@k = hits / min(k, |T_u|))", md.table(view)]
    intro = (
        "The paper's Table 1 numbers could not be retrieved (cllm4rec.md §9), so its rows read n/a (paper). "
        "Our CLLM4Rec runs use the CPU recipe of docs/results.md (a small randomly initialised GPT-2, a reduced "
        "budget, item tags in place of reviews), not the published GPT-2 setting."
    )
    return Section("CLLM4Rec vs Multi-VAE vs most-popular", "\n\n".join([intro, *parts]), tables)

"""`llmrec report`: runs are read from their manifests, averaged over seeds only, and set beside the paper."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from llmrec_cli.errors import LLMRecError
from llmrec_cli.report import build, collect, sections
from llmrec_cli.rlmrec import config


# ------------------------------------------------------------------------------------------- a hand-made workdir
def _write(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def add_dataset(work: Path, name: str, source: str, noise: float = 0.0) -> None:
    """A prepare manifest as `prepare --name NAME [--noise F]` writes it: the name, not the recipe, is the dataset."""
    config = {"dataset": name, "source": source, "kcore": 5, "seed": 2023, "noise": noise}
    _write(
        work / "data" / name / "manifest.json",
        {"stage": "prepare", "config": config, "recipe": name.split("-noise")[0]},
    )


def add_embeddings(work: Path, dataset: str, name: str, shuffle: bool) -> Path:
    folder = work / "embeddings" / dataset / name
    _write(folder / "manifest.json", {"stage": "embed", "config": {"shuffle": shuffle}})
    return folder


def official_settings(backbone: str, align: str, dataset: str) -> dict:
    """What train-rlmrec records for this variant with the configs' settings (runs with other settings are +custom)."""
    try:
        return config.resolve(backbone, align, dataset)
    except LLMRecError:  # not an RLMRec backbone/variant (cllm4rec, multivae, ...)
        return {"layers": 3}


def add_run(
    work: Path,
    run: str,
    dataset: str,
    backbone: str,
    align: str,
    seed: int,
    recall20: float,
    ndcg20: float | None = None,
    embeddings: str | None = None,
    extra: dict | None = None,
    split: str = "test",
    seconds_per_epoch: float = 0.5,
) -> None:
    config = {
        **official_settings(backbone, align, dataset.split("-noise")[0]),  # a noised copy takes its recipe's settings
        "dataset": dataset,
        "seed": seed,
        "backbone": backbone,
        "align": align,
        "embeddings": embeddings,
        **(extra or {}),
    }
    _write(
        work / "runs" / run / "manifest.json",
        {
            "stage": "train-rlmrec",
            "config": config,
            "counts": {"epochs_run": 10, "best_epoch": 7},
            "wall_seconds": 5.0,
            "seconds_per_epoch": seconds_per_epoch,
        },
    )
    metrics = {
        "recall@10": recall20 / 2,
        "recall@20": recall20,
        "ndcg@10": (ndcg20 or recall20 / 2) / 2,
        "ndcg@20": ndcg20 if ndcg20 is not None else recall20 / 2,
    }
    _write(work / "runs" / run / "metrics.json", {"split": split, "recall_denominator": "all", "metrics": metrics})


@pytest.fixture
def work(tmp_path) -> Path:
    work = tmp_path / "work"
    add_dataset(work, "toy", "toy")
    real = add_embeddings(work, "toy", "minilm", shuffle=False)
    shuf = add_embeddings(work, "toy", "minilm-shuffled", shuffle=True)
    for seed, (b, c, s) in enumerate([(0.10, 0.12, 0.09), (0.11, 0.13, 0.10), (0.12, 0.14, 0.08)], start=1):
        add_run(work, f"base-s{seed}", "toy", "lightgcn", "none", seed, b)
        add_run(
            work, f"con-s{seed}", "toy", "lightgcn", "con", seed, c, embeddings=str(real), extra={"kd_weight": 0.01}
        )
        add_run(
            work, f"shuf-s{seed}", "toy", "lightgcn", "con", seed, s, embeddings=str(shuf), extra={"kd_weight": 0.01}
        )
    return work


# --------------------------------------------------------------------------------------------------- collect
def test_runs_are_labelled_from_their_manifests(work):
    add_run(work, "speed", "toy", "lightgcn", "gen", 1, 0.05, embeddings="random:1536")
    add_run(work, "valid-only", "toy", "lightgcn", "none", 9, 0.5, split="valid")
    (work / "runs" / "unfinished").mkdir()
    runs = collect.read_runs(work)
    assert runs.height == 10  # the valid-only and unfinished folders are not test results
    variants = dict(zip(runs["run"], runs["variant"]))
    assert variants["base-s1"] == "base" and variants["con-s1"] == "con"
    assert variants["shuf-s1"] == "con+shuffled" and variants["speed"] == "gen+random"


def test_seeds_share_an_experiment_key_but_configurations_do_not(work):
    runs = collect.read_runs(work)
    keys = dict(zip(runs["run"], runs["config_key"]))
    assert keys["base-s1"] == keys["base-s2"] == keys["base-s3"]
    assert keys["con-s1"] == keys["shuf-s1"]  # same experiment, the vectors differ (the variant says so)
    assert keys["base-s1"] != keys["con-s1"]


def test_a_noised_copy_is_traced_to_its_clean_dataset_by_configuration(work):
    add_dataset(work, "toy-noise10", "toy", noise=0.1)
    add_dataset(work, "other-noise10", "other", noise=0.1)  # no clean twin prepared: it stands alone
    add_run(work, "noisy", "toy-noise10", "lightgcn", "none", 1, 0.08)
    add_run(work, "lonely", "other-noise10", "lightgcn", "none", 1, 0.08)
    runs = collect.read_runs(work)
    noisy = runs.filter(pl.col("run") == "noisy").row(0, named=True)
    assert noisy["base_dataset"] == "toy" and noisy["noise"] == pytest.approx(0.1)
    lonely = runs.filter(pl.col("run") == "lonely").row(0, named=True)
    assert lonely["base_dataset"] == "other-noise10"


# -------------------------------------------------------------------------------------------------- sections
def test_aggregate_is_mean_and_sample_std_over_seeds(work):
    runs = collect.read_runs(work).filter(pl.col("variant") == "base")
    agg = sections.aggregate(runs, ["model", "variant"], ("recall@20",))
    assert agg.height == 1 and agg["n"][0] == 3
    assert agg["recall@20"][0] == pytest.approx(0.11)
    assert agg["recall@20_std"][0] == pytest.approx(0.01)  # sqrt(((-.01)^2 + 0 + .01^2) / 2)


def test_different_configurations_are_never_averaged(work):
    add_run(work, "base-2layers", "toy", "lightgcn", "none", 1, 0.50, extra={"layers": 2})
    runs = collect.read_runs(work).filter(pl.col("variant").str.starts_with("base"))
    agg = sections.aggregate(runs, ["model"], ("recall@20",))
    assert sorted(agg["n"].to_list()) == [1, 3]


def test_a_run_with_other_settings_than_the_configs_is_named_by_them_and_not_the_papers_row(work):
    add_run(work, "con-kd0.1", "amazon-book", "lightgcn", "con", 1, 0.05, embeddings="emb", extra={"kd_weight": 0.1})
    add_run(work, "con-official", "amazon-book", "lightgcn", "con", 1, 0.14, embeddings="emb")
    many = {"kd_weight": 0.1, "kd_temperature": 0.5, "lr": 0.01, "batch_size": 512}
    add_run(work, "con-many", "amazon-book", "lightgcn", "con", 1, 0.05, embeddings="emb", extra=many)
    runs = collect.read_runs(work)
    variants = dict(zip(runs["run"], runs["variant"]))
    assert variants["con-kd0.1"] == "con+kd_weight=0.1" and variants["con-official"] == "con"
    assert variants["con-many"] == "con+custom"  # the list is too long to be a label
    table = sections.table1(runs).tables["table1-amazon-book"]
    row = table.filter((pl.col("backbone") == "lightgcn") & (pl.col("variant") == "con")).row(0, named=True)
    assert row["run"] == "con-official"


def test_real_profiles_section_compares_with_base_and_shuffled(work):
    section = sections.real_profiles(collect.read_runs(work))
    frame = section.tables["profiles-toy"]
    con = frame.filter(pl.col("variant") == "con").row(0, named=True)
    assert con["recall@20"] == pytest.approx(0.13)
    assert con["recall@20_vs_base"] == pytest.approx(0.13 / 0.11 - 1)
    # 0.02 apart, combined std sqrt(2) * 0.01 = 0.0141: the gap is within two combined std
    assert "lightgcn+con (minilm): R@20 +18.2% vs base" in section.body
    assert "within two combined seed std" in section.body
    # 0.09 / 0.13 - 1; 0.04 apart against 2 * sqrt(2) * 0.01 = 0.0283: beyond the seed noise
    assert (
        "shuffled profiles: R@20 -30.8% vs real (the gap 0.0400 is larger than two combined seed std (0.0283), "
        "3 and 3 seeds)"
    ) in section.body


def test_a_zero_alignment_weight_is_the_no_alignment_control(work):
    for seed, r in enumerate([0.12, 0.12, 0.12], start=1):  # the profiles add 0.01 over the variant's settings alone
        add_run(
            work,
            f"w0-s{seed}",
            "toy",
            "lightgcn",
            "con",
            seed,
            r,
            embeddings=str(work / "embeddings" / "toy" / "minilm"),
            extra={"kd_weight": 0},
        )
    runs = collect.read_runs(work)
    assert set(runs.filter(pl.col("run").str.starts_with("w0"))["variant"]) == {"con+w0"}
    section = sections.real_profiles(runs)
    assert "con+w0" in section.tables["profiles-toy"]["variant"].to_list()
    # 0.12 / 0.13 - 1; 0.01 apart against 2 * sqrt(0.01^2 + 0) = 0.02: within the seed noise
    assert (
        "no alignment term: R@20 -7.7% vs real (the gap 0.0100 is within two combined seed std (0.0200), 3 and 3 seeds)"
    ) in section.body


def test_a_settings_variant_is_judged_against_its_variant_with_the_official_settings(work):
    for seed, r in enumerate([0.13, 0.14, 0.15], start=1):
        extra = {"kd_weight": 0.01, "align_precision": "bf16"}
        add_run(
            work,
            f"bf16-s{seed}",
            "toy",
            "lightgcn",
            "con",
            seed,
            r,
            embeddings=str(work / "embeddings" / "toy" / "minilm"),
            extra=extra,
        )
    section = sections.real_profiles(collect.read_runs(work))
    # 0.14 / 0.13 - 1; 0.01 apart against 2 * sqrt(0.01^2 + 0.01^2) = 0.0283: within the seed noise
    assert (
        "- lightgcn+con+align_precision=bf16 (minilm): R@20 +7.7% vs con with the official settings (the gap 0.0100 "
        "is within two combined seed std (0.0283), 3 and 3 seeds)"
    ) in section.body


def test_table1_sets_ours_beside_the_paper_and_says_why_rows_are_empty(tmp_path):
    work = tmp_path / "w"
    add_dataset(work, "amazon-book", "shared/amazon-book")
    add_run(work, "lgcn", "amazon-book", "lightgcn", "none", 2023, 0.1411 * 1.1, ndcg20=0.0856 * 0.9)
    section = sections.table1(collect.read_runs(work))
    frame = section.tables["table1-amazon-book"]
    row = frame.filter((pl.col("backbone") == "lightgcn") & (pl.col("variant") == "base")).row(0, named=True)
    assert row["recall@20_paper"] == 0.1411
    assert row["recall@20_diff"] == pytest.approx(0.1)
    assert row["ndcg@20_diff"] == pytest.approx(-0.1)
    con = frame.filter((pl.col("backbone") == "lightgcn") & (pl.col("variant") == "con")).row(0, named=True)
    assert con["recall@20_ours"] is None and con["run"] == "(not run)"
    assert "no profile runs yet: import RLMRec's own GPT-3.5 profiles" in section.body
    assert "**Yelp**: no runs; no Yelp data" in section.body


def test_table1_profile_rows_carry_encoder_gains_and_verdicts(tmp_path):
    work = tmp_path / "w"
    add_dataset(work, "amazon-book", "shared/amazon-book")
    mini = str(add_embeddings(work, "amazon-book", "all-minilm-l6-v2", shuffle=False))
    mpnet = str(add_embeddings(work, "amazon-book", "all-mpnet-base-v2", shuffle=False))
    for seed, (b, c, g) in enumerate([(0.140, 0.150, 0.141), (0.141, 0.151, 0.139), (0.142, 0.152, 0.143)], start=1):
        add_run(work, f"b{seed}", "amazon-book", "lightgcn", "none", seed, b)
        add_run(work, f"c{seed}", "amazon-book", "lightgcn", "con", seed, c, embeddings=mini, extra={"kd_weight": 0.01})
        add_run(
            work, f"g{seed}", "amazon-book", "lightgcn", "gen", seed, g, embeddings=mini, extra={"recon_weight": 0.1}
        )
    add_run(work, "c-mpnet", "amazon-book", "lightgcn", "con", 1, 0.120, embeddings=mpnet, extra={"kd_weight": 0.01})
    section = sections.table1(collect.read_runs(work))
    frame = section.tables["table1-amazon-book"]
    con = frame.filter((pl.col("variant") == "con") & (pl.col("backbone") == "lightgcn"))
    assert sorted(con["encoder"].to_list()) == ["all-minilm-l6-v2", "all-mpnet-base-v2"]  # never averaged together
    mini_row = con.filter(pl.col("encoder") == "all-minilm-l6-v2").row(0, named=True)
    assert mini_row["n"] == 3 and mini_row["recall@20_ours"] == pytest.approx(0.151)
    assert mini_row["recall@20_gain_ours"] == pytest.approx(0.151 / 0.141 - 1)
    assert mini_row["recall@20_gain_paper"] == pytest.approx(0.1483 / 0.1411 - 1)
    # gap 0.010 against 2 * sqrt(0.001^2 + 0.001^2) = 0.0028
    assert mini_row["verdict"] == "gain beyond seed noise (+0.0100, 2σ 0.0028)"
    gen = frame.filter((pl.col("variant") == "gen") & (pl.col("backbone") == "lightgcn")).row(0, named=True)
    # gap 0.000 (std 0.002) within 2 * sqrt(0.002^2 + 0.001^2) = 0.0045
    assert gen["verdict"] == "within seed noise (+0.0000, 2σ 0.0045)"
    one_seed = con.filter(pl.col("encoder") == "all-mpnet-base-v2").row(0, named=True)
    # one seed: borrows base's std 0.001, 2 * sqrt(2) * 0.001 = 0.0028
    assert one_seed["verdict"] == "loss beyond seed noise (-0.0210, 2σ 0.0028)"
    assert "no profile runs yet" not in section.body


def test_noise_section_gives_the_relative_drop_and_a_plot(work, tmp_path):
    for pct, (b, c) in {5: (0.099, 0.13), 25: (0.088, 0.117)}.items():
        add_dataset(work, f"toy-noise{pct}", "toy", noise=pct / 100)
        real = str(work / "embeddings" / "toy" / "minilm")
        for seed in (1, 2, 3):
            add_run(work, f"n{pct}-base-s{seed}", f"toy-noise{pct}", "lightgcn", "none", seed, b)
            add_run(
                work,
                f"n{pct}-con-s{seed}",
                f"toy-noise{pct}",
                "lightgcn",
                "con",
                seed,
                c,
                embeddings=real,
                extra={"kd_weight": 0.01},
            )
    other = str(work / "embeddings" / "toy" / "mpnet")  # a clean configuration never run on noised data
    add_run(work, "clean-con-mpnet", "toy", "lightgcn", "con", 1, 0.2, embeddings=other, extra={"kd_weight": 0.01})
    out = tmp_path / "out"
    out.mkdir()
    section = sections.noise(collect.read_runs(work), out)
    frame = section.tables["noise-toy"]
    assert "clean-con-mpnet" not in frame["run"].to_list()
    drop = dict(zip(zip(frame["variant"], frame["noise"]), frame["relative_drop"]))
    assert drop[("base", 0.25)] == pytest.approx(1 - 0.088 / 0.11)
    assert drop[("con", 0.05)] == pytest.approx(0.0)
    assert drop[("base", 0.0)] == pytest.approx(0.0)
    assert (out / "noise-toy.png").stat().st_size > 1000
    versus = {(r["variant"], r["noise"]): r for r in section.tables["noise-verdicts-toy"].iter_rows(named=True)}
    at25 = versus[("con", "25%")]
    assert at25["seeds"] == "3 / 3" and at25["vs base"] == "+33.0%"  # 0.117 / 0.088 - 1
    assert at25["verdict"].startswith("gain beyond seed noise (+0.0290")  # every seed equal: std 0
    assert ("con", "0%") in versus and ("base", "25%") not in versus
    assert section.tables["noise-verdicts-toy"].height == 3  # con at 0, 5 and 25 %: one row each


def test_efficiency_reads_the_speed_benchmark(work, tmp_path):
    csv = tmp_path / "speed.csv"
    pl.DataFrame(
        {
            "backbone": ["lightgcn", "evaluate"],
            "align": ["none", None],
            "dim": [None, None],
            "seconds_per_epoch": [0.8, 0.4],
            "paper_seconds": [1.01, None],
            "ratio_to_paper": [0.79, None],
        }
    ).write_csv(csv)
    section = sections.efficiency(collect.read_runs(work), csv)
    assert "Full-rank evaluation of every user: 0.40 s" in section.body
    assert "| lightgcn | none | - | 0.80 | 1.01 | 0.79 |" in section.body
    missing = sections.efficiency(collect.read_runs(work), tmp_path / "none.csv")
    assert "No speed benchmark" in missing.body


# ----------------------------------------------------------------------------------------------------- build
def test_report_folder_is_complete_and_a_rerun_is_a_no_op(work, tmp_path):
    out = tmp_path / "reports" / "t"
    result = build.build(work, out, "t")
    assert not result.up_to_date and result.runs == 9
    text = (out / "report.md").read_text()
    assert text.startswith("# llmrec report: t") and "## 3. RLMRec with real profiles" in text
    assert {"report.md", "runs.csv", "profiles-toy.csv", "manifest.json"} <= {p.name for p in out.iterdir()}
    assert build.build(work, out, "t").up_to_date
    add_run(work, "base-s4", "toy", "lightgcn", "none", 4, 0.2)
    assert not build.build(work, out, "t").up_to_date


def test_report_command_on_a_workdir_without_runs_is_one_line(cli, tmp_path):
    result = cli("report", "--out", tmp_path / "r")
    assert result.code == 2
    assert "no runs to report" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "r").exists()


def test_report_command_writes_the_report(cli, work, tmp_path):
    result = cli("report", "--name", "x", "--out", tmp_path / "r", workdir=work)
    assert result.code == 0, result.err
    assert "wrote" in result.out and (tmp_path / "r" / "report.md").is_file()

"""The closing summary of `make demo`, on hand-made runs: only the runs named, the gap to base against the seed
noise, where things are and what to run next."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_report import add_embeddings, add_run  # noqa: E402

from llmrec_cli.report import demo_summary  # noqa: E402

R20 = {"none": (0.10, 0.11, 0.12), "con": (0.14, 0.15, 0.16), "gen": (0.105, 0.115, 0.125)}


@pytest.fixture
def demo_work(tmp_path) -> tuple[Path, list[str]]:
    work = tmp_path / "work"
    (work / "data" / "demo").mkdir(parents=True)
    (work / "data" / "demo" / "manifest.json").write_text(
        json.dumps({"stage": "prepare", "config": {"dataset": "demo"}, "counts": {"users": 400, "items": 299}})
    )
    emb = str(add_embeddings(work, "demo", "all-minilm-l6-v2", shuffle=False))
    runs = []
    for align, values in R20.items():
        for seed, r20 in enumerate(values, start=1):
            runs.append(f"demo-lightgcn-{align}-s{seed}")
            add_run(work, runs[-1], "demo", "lightgcn", align, seed, r20, embeddings=None if align == "none" else emb)
    runs.append("demo-semantic-s1")
    add_run(work, runs[-1], "demo", "semantic", "none", 1, 0.08, embeddings=emb)
    add_run(work, "trial-7-epochs", "demo", "lightgcn", "none", 2023, 0.5)  # another run in the same workdir
    return work, runs


def test_each_variant_against_base_with_the_seed_noise(demo_work):
    work, runs = demo_work
    rows = {r["variant"]: r for r in demo_summary.summary_rows(demo_summary.demo_runs(work, runs))}
    assert list(rows) == ["base", "con", "gen", "semantic-only"]
    assert rows["base"]["n"] == 3 and rows["base"]["recall@20"] == pytest.approx(0.11)  # the trial run is not in it
    assert rows["con"]["verdict"] == "gain beyond seed noise (+0.0400, 2σ 0.0283)"
    assert rows["gen"]["verdict"] == "within seed noise (+0.0050, 2σ 0.0283)"
    assert rows["semantic-only"]["verdict"] == "loss beyond seed noise (-0.0300, 2σ 0.0283)"  # one run: base's std
    assert rows["con"]["vs_base"] == pytest.approx(0.15 / 0.11 - 1)


def test_the_printed_summary_says_what_where_and_next(demo_work, capsys):
    work, runs = demo_work
    demo_summary.main(["--workdir", str(work), "--embeddings", "datasets/demo/embeddings/x", *runs])
    text = capsys.readouterr().out
    assert "'demo' (400 users x 299 items" in text and "seeds 1 2 3" in text
    assert "| RLMRec-Con | 3 | 0.1500 ± 0.0100 | +36.4% |" in text
    assert "- RLMRec-Gen vs base: R@20 +4.5%, within seed noise" in text
    assert "trial-7-epochs" not in text and f"{work / 'runs'}" in text
    assert f"llmrec --workdir {work} report --name demo" in text  # no report written: how to write one
    assert "--embeddings datasets/demo/embeddings/x" in text and "make reproduce-quick" in text
    demo_summary.main(["--workdir", str(work), "--report", str(work / "rep"), *runs])
    text = capsys.readouterr().out
    assert f"Report: {work / 'rep' / 'report.md'}" in text and "report --name demo" not in text


def test_a_named_run_that_is_not_there_is_an_error(demo_work):
    work, runs = demo_work
    with pytest.raises(SystemExit, match="no evaluated run demo-lightgcn-gen-s9"):
        demo_summary.demo_runs(work, [*runs, "demo-lightgcn-gen-s9"])

"""Every benchmark script still imports against the package (a renamed module or constant breaks it silently
otherwise: the benchmarks run by hand, not in CI)."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_imports_and_has_an_entry_point(path, monkeypatch):
    assert callable(getattr(load_benchmark(path.stem, monkeypatch), "main", None))


def load_benchmark(name: str, monkeypatch):
    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    monkeypatch.syspath_prepend(str(path.parent))  # as `python benchmarks/NAME.py` sees its folder
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_official_data_is_our_split_and_our_seeded_vectors(tmp_path, monkeypatch):
    import pickle

    import polars as pl

    from llmrec_cli.rlmrec import semantic

    official = load_benchmark("official_rlmrec", monkeypatch)
    source = tmp_path / "split"
    source.mkdir()
    pairs = {"train": [(0, 1), (2, 0), (2, 2)], "valid": [(1, 1)], "test": [(0, 2), (1, 0)]}
    for split, rows in pairs.items():
        pl.DataFrame(rows, schema=["user_id", "item_id"], orient="row").write_parquet(source / f"{split}.parquet")
    for entity, n in (("user", 3), ("item", 3)):
        pl.DataFrame({"internal_id": range(n), "original_id": [f"{entity}{i}" for i in range(n)]}).write_parquet(
            source / f"{entity}_map.parquet"
        )
    official.write_official_data(source, tmp_path / "data" / "amazon", 4)
    with open(tmp_path / "data" / "amazon" / "trn_mat.pkl", "rb") as f:  # our own file, written just above
        train = pickle.load(f)
    assert train.shape == (3, 3)
    assert sorted(zip(train.row.tolist(), train.col.tolist())) == pairs["train"]
    assert train.data.tolist() == [1.0, 1.0, 1.0]
    with open(tmp_path / "data" / "amazon" / "itm_emb_np.pkl", "rb") as f:
        items = pickle.load(f)
    expected = semantic.load("random:4", tmp_path, "amazon", 3, 3, official.SEMANTIC_SEED).items.numpy()
    assert (items == expected).all()


def test_load_summary_gives_the_measured_lead_or_a_bound(monkeypatch):
    load = load_benchmark("load_robustness", monkeypatch)
    rows = [
        dict(code=code, cell="gen", threads=1, condition=condition, repetition=rep, seconds=seconds, load_average=0.0)
        for code, condition, rep, seconds in (
            ("ours", "idle", 0, 8.0),
            ("ours", "idle", 1, 10.0),
            ("ours", "loaded", 0, 12.0),
            ("official", "idle", 0, 13.5),
            ("official", "loaded", 0, 30.0),
        )
    ]
    (line,) = load.summary(rows)
    assert line["idle"] == 9.0 and line["official_idle"] == 13.5
    assert line["lead_idle"] == 1.5 and line["lead_loaded"] == 2.5 and line["lead_loaded_measured"]
    assert line["official_slowdown"] == 30.0 / 13.5
    (bound,) = load.summary([r for r in rows if r["code"] == "ours"])
    official_idle = sum(load.OFFICIAL["lightgcn/gen"]) / 2
    assert not bound["lead_loaded_measured"] and bound["official_loaded"] is None
    assert bound["lead_loaded"] == official_idle / 12.0


def test_load_summary_pairs_each_repetition_and_allows_idle_only(monkeypatch):
    load = load_benchmark("load_robustness", monkeypatch)
    rows = [
        dict(code=code, cell="gen", threads=2, condition="idle", repetition=rep, seconds=seconds, load_average=0.0)
        for code, rep, seconds in (
            ("ours", 0, 8.0),
            ("official", 0, 12.0),
            ("ours", 1, 10.0),
            ("official", 1, 12.0),
            ("ours", 2, 9.0),  # its official run is missing: no pair
        )
    ]
    (line,) = load.summary(rows)
    assert line["paired_idle"] == [1.5, 1.2] and line["paired_loaded"] == []
    assert line["loaded"] is None and line["slowdown"] is None and line["lead_loaded"] is None
    assert line["lead_idle"] == 12.0 / 9.0
    assert load._per_rep(line["paired_idle"]) == "1.35x (1.20-1.50, 2)"


def test_scale_gen_memory_off_the_cpu_is_one_block_then_bounded_blocks(monkeypatch):
    scale = load_benchmark("scale", monkeypatch)
    assert scale.gen_block_elements(3_049) == 3_049**2  # Amazon-book: the whole M x M, one block
    m = 225_000  # 10^7 edges: M x M would be 200 GB
    assert scale.gen_block_elements(m) == (2**28 // m) * m <= 2**28
    need = scale._gen_need(lambda e: 0.0, 2.0, 3_049, 10**5)  # two blocks measured at 10^5 edges
    assert need(10**5) == 2.0 * 4 * 3_049**2
    assert need(10**8) <= 2.0 * 4 * 2**28  # grows no further than two 1 GiB blocks


def test_device_check_refuses_an_unknown_section_and_names_the_known_ones(tmp_path):
    import subprocess

    script = Path(__file__).parents[1] / "benchmarks" / "device_check.sh"
    done = subprocess.run(
        ["bash", str(script), "no-such-section"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "OUT": str(tmp_path / "out"), "DEVICE": "cpu"},
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown section 'no-such-section' (sections: env tests cli rlmrec-speed scale-1e5 scale-1e6)" in done.stderr
    assert not (tmp_path / "out" / "device_check.log").exists()  # nothing ran

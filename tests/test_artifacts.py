import json
import os

import polars as pl
import pytest

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError


def split_frame():
    return pl.DataFrame({"user_id": [0, 1], "item_id": [1, 0]}, schema={"user_id": pl.Int32, "item_id": pl.Int32})


def test_write_then_read_roundtrip(tmp_path):
    path = artifacts.write_parquet(split_frame(), tmp_path / "train.parquet", artifacts.SPLIT)
    assert artifacts.read_parquet(path, artifacts.SPLIT).equals(split_frame())
    assert not list(tmp_path.glob(".*tmp*"))


def test_validate_names_file_and_missing_column(tmp_path):
    with pytest.raises(LLMRecError, match=r"train.parquet: missing column 'item_id' \(int32\)"):
        artifacts.validate(split_frame().drop("item_id"), artifacts.SPLIT, tmp_path / "train.parquet")


def test_validate_names_wrong_type():
    df = split_frame().with_columns(pl.col("user_id").cast(pl.Int64))
    with pytest.raises(LLMRecError, match=r"column 'user_id' has type int64, expected int32"):
        artifacts.validate(df, artifacts.SPLIT, "x.parquet")


def test_vector_schema_accepts_fixed_size_float32_lists():
    df = pl.DataFrame(
        {
            "item_id": pl.Series([0, 1], dtype=pl.Int32),
            "vector": pl.Series([[1.0, 2.0], [3.0, 4.0]], dtype=pl.Array(pl.Float32, 2)),
        }
    )
    artifacts.validate(df, artifacts.vectors_schema("item"), "v.parquet")
    with pytest.raises(LLMRecError, match="fixed-size list<float32>"):
        artifacts.validate(
            df.with_columns(pl.col("vector").cast(pl.Array(pl.Float64, 2))),
            artifacts.vectors_schema("item"),
            "v.parquet",
        )


def test_read_rejects_truncated_and_empty_parquet(tmp_path):
    path = artifacts.write_parquet(split_frame(), tmp_path / "a.parquet")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(LLMRecError, match="truncated or corrupt"):
        artifacts.read_parquet(path)
    (tmp_path / "b.parquet").write_bytes(b"")
    with pytest.raises(LLMRecError, match="empty"):
        artifacts.read_parquet(tmp_path / "b.parquet")


def test_atomic_path_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "m.json"
    artifacts.write_json({"a": 1}, target)
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_staged_dir_swaps_in_only_on_success(tmp_path):
    final = tmp_path / "out"
    with artifacts.staged_dir(final) as tmp:
        (tmp / "x").write_text("1")
        (tmp / artifacts.MANIFEST).write_text("{}")  # what a stage writes: its folder may be replaced
    assert (final / "x").read_text() == "1"
    with pytest.raises(ValueError):
        with artifacts.staged_dir(final) as tmp:
            (tmp / "x").write_text("2")
            raise ValueError
    assert (final / "x").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_up_to_date_tracks_config_inputs_and_outputs(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("data")
    out = tmp_path / "stage"
    out.mkdir()
    (out / "a.parquet").write_text("x")
    manifest = artifacts.Manifest("prepare", {"k": 1}, artifacts.describe_inputs([src]), ["a.parquet"])
    artifacts.write_json(manifest.to_dict(), out / artifacts.MANIFEST)
    assert artifacts.up_to_date(out, "prepare", {"k": 1}, [src])
    assert not artifacts.up_to_date(out, "prepare", {"k": 2}, [src])
    assert not artifacts.up_to_date(out, "other", {"k": 1}, [src])
    src.write_text("changed")
    assert not artifacts.up_to_date(out, "prepare", {"k": 1}, [src])
    src.write_text("data")
    os.utime(src, ns=(1, 1))  # same content, new mtime: re-hashed and still up to date
    assert artifacts.up_to_date(out, "prepare", {"k": 1}, [src])
    (out / "a.parquet").unlink()
    assert not artifacts.up_to_date(out, "prepare", {"k": 1}, [src])


def test_manifest_records_versions_and_hashes(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("abc")
    d = artifacts.Manifest(
        "prepare", {"k": 1}, artifacts.describe_inputs([src]), [], counts={"n": 3}, wall_seconds=1.23456
    ).to_dict()
    assert d["package_version"] and d["schema_version"] == artifacts.SCHEMA_VERSION
    assert (
        d["inputs"][str(src.resolve())]["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert d["counts"] == {"n": 3} and d["wall_seconds"] == 1.235

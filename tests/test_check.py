"""`llmrec check` on folders written by the real stages: a good workdir passes, each kind of damage is exit 2."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent / "profile"))  # the loopback LLM and the tiny dataset

from loopback import LoopbackLLM  # noqa: E402
from tiny_data import make_tiny_dataset  # noqa: E402

RUN = "runs/tiny-con"
N_ITEMS = 110
FOLDERS = ("data/tiny", "profiles/tiny/steam@1", "embeddings/tiny/loop-embed", RUN, "runs/tiny-most-popular")


def llmrec(workdir: Path, *args: str) -> None:
    """Run one `llmrec` command in-process; errors propagate (the fixture must build cleanly)."""
    from llmrec_cli import cli

    cli.app(["--workdir", str(workdir), *args], standalone_mode=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A workdir with every kind of artifact folder, written by the stages themselves (LLM and encoder on loopback)."""
    root = tmp_path_factory.mktemp("check")
    work = root / "work"
    make_tiny_dataset(root / "raw", work, n_users=30, n_items=N_ITEMS, per_user=40)
    with LoopbackLLM(dim=12) as server:
        remote = (
            "--backend",
            "openai",
            "--base-url",
            server.url,
            "--model",
            "loop",
            "--api-key-env",
            "NO_SUCH_KEY_VAR",
        )
        llmrec(work, "profile", "--dataset", "tiny", "--prompt", "steam", *remote)
        llmrec(
            work,
            "embed",
            "--dataset",
            "tiny",
            "--encoder",
            "openai",
            "--base-url",
            server.url,
            "--model",
            "loop-embed",
            "--api-key-env",
            "NO_SUCH_KEY_VAR",
        )
    llmrec(
        work,
        "train-rlmrec",
        "--dataset",
        "tiny",
        "--align",
        "con",
        "--embeddings",
        "loop-embed",
        "--epochs",
        "2",
        "--run-id",
        "tiny-con",
    )
    llmrec(work, "train-baseline", "--dataset", "tiny", "--model", "most-popular")
    llmrec(work, "evaluate", "tiny-con")
    return work


@pytest.fixture
def work(built, tmp_path) -> Path:
    """A private copy of the built workdir, free to damage."""
    return Path(shutil.copytree(built, tmp_path / "copy"))


def test_good_folders_pass_with_one_line_each(cli, built):
    result = cli("check", *FOLDERS, workdir=built)
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert len(lines) == len(FOLDERS) and all(line.startswith("ok ") for line in lines)
    assert "(prepare): train" in lines[0] and f"users 30, items {N_ITEMS}" in lines[0]
    assert f"(profile): items {N_ITEMS}, users 30, failures 0" in lines[1]
    assert "(train-rlmrec)" in lines[3] and "per_user_test" in lines[3] and "metrics 15" in lines[3]


def test_all_finds_every_folder_under_the_workdir(cli, built):
    result = cli("check", "--all", workdir=built)
    assert result.code == 0, result.err
    assert len(result.out.strip().splitlines()) == len(FOLDERS)


def test_a_parquet_column_of_the_wrong_type_names_file_and_column(cli, work):
    path = work / "data" / "tiny" / "valid.parquet"
    pl.read_parquet(path).with_columns(pl.col("item_id").cast(pl.Int64)).write_parquet(path)
    result = cli("check", "data/tiny", workdir=work)
    assert result.code == 2
    assert "valid.parquet" in result.err and "'item_id' has type int64, expected int32" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_missing_file_is_named(cli, work):
    (work / "embeddings" / "tiny" / "loop-embed" / "users.parquet").unlink()
    result = cli("check", "embeddings/tiny/loop-embed", workdir=work)
    assert result.code == 2 and "users.parquet: missing" in result.err


def test_a_missing_manifest_is_named(cli, work):
    (work / RUN / "manifest.json").unlink()
    result = cli("check", "tiny-con", workdir=work)  # a bare run id resolves under <workdir>/runs
    assert result.code == 2 and "tiny-con/manifest.json: missing" in result.err


def test_a_bad_folder_does_not_stop_the_check_of_the_others(cli, work):
    (work / "profiles" / "tiny" / "steam@1" / "failures.parquet").write_bytes(b"not parquet")
    result = cli("check", "data/tiny", "profiles/tiny/steam@1", RUN, workdir=work)
    assert result.code == 2 and "failures.parquet: not a readable Parquet file" in result.err
    assert result.out.count("ok ") == 2 and RUN in result.out  # the run after the bad folder was checked too
    assert len(result.err.strip().splitlines()) == 1


def test_all_reports_every_failure_at_the_end(cli, work):
    (work / "profiles" / "tiny" / "steam@1" / "failures.parquet").write_bytes(b"not parquet")
    (work / RUN / "manifest.json").unlink()
    result = cli("check", "--all", "runs/nope", workdir=work)
    assert result.code == 2
    assert result.out.count("ok ") == len(FOLDERS) - 2
    err = result.err.strip().splitlines()  # one line per failure, in the order checked, then the count
    assert len(err) == 4 and "3 of 6 checks failed" in err[3]
    assert "runs/nope: no such folder" in err[0] and "failures.parquet: not a readable Parquet file" in err[1]
    assert "tiny-con/manifest.json: missing" in err[2]


def test_split_metrics_must_be_finite_numbers(cli, work):
    path = work / RUN / "metrics.json"
    doc = json.loads(path.read_text())
    assert doc["splits"]["test"]["ks"] == [5, 10, 20]  # written by evaluate
    doc["splits"]["valid"] = {"ks": [10], "metrics": {"recall@10": float("inf")}}
    path.write_text(json.dumps(doc))
    result = cli("check", RUN, workdir=work)
    assert result.code == 2 and "splits.valid.metrics['recall@10'] is inf" in result.err


def test_metrics_must_be_finite_numbers(cli, work):
    path = work / RUN / "metrics.json"
    doc = json.loads(path.read_text())
    doc["metrics"]["recall@20"] = float("nan")
    path.write_text(json.dumps(doc))
    result = cli("check", RUN, workdir=work)
    assert result.code == 2 and "metrics.json: metrics['recall@20'] is nan" in result.err


def test_vectors_must_be_finite_and_match_the_manifest(cli, work):
    path = work / RUN / "items.parquet"
    df = pl.read_parquet(path)
    vectors = df["vector"].to_numpy().copy()
    vectors[3, 0] = np.inf
    df.with_columns(pl.Series("vector", vectors).cast(df.schema["vector"])).write_parquet(path)
    result = cli("check", RUN, workdir=work)
    assert result.code == 2 and "items.parquet: column 'vector' holds NaN or infinite values" in result.err
    df.head(10).write_parquet(path)
    result = cli("check", RUN, workdir=work)
    assert result.code == 2 and f"items.parquet: 10 rows but the manifest recorded {N_ITEMS}" in result.err


def test_split_ids_must_index_the_entity_tables(cli, work):
    path = work / "data" / "tiny" / "test.parquet"
    pl.read_parquet(path).with_columns(pl.lit(99, dtype=pl.Int32).alias("user_id")).write_parquet(path)
    result = cli("check", "data/tiny", workdir=work)
    assert result.code == 2 and "test.parquet: user_id outside 0..29" in result.err


def test_no_folder_given_and_unknown_folder_are_one_line_errors(cli, work):
    assert cli("check", workdir=work).code == 2
    result = cli("check", "runs/nope", workdir=work)
    assert result.code == 2 and "runs/nope: no such folder" in result.err


def test_a_changed_input_makes_the_folders_made_from_it_stale(cli, work):
    path = work / "profiles" / "tiny" / "steam@1" / "items.parquet"
    df = pl.read_parquet(path)
    df.with_columns(pl.lit("rewritten").alias("summarization")).write_parquet(path)
    result = cli("check", "embeddings/tiny/loop-embed", workdir=work)
    assert result.code == 2 and f"made from another version of {path}" in result.err  # the copy's file, not built's
    trained = cli("train-rlmrec", "--dataset", "tiny", "--align", "con", "--embeddings", "loop-embed", workdir=work)
    assert trained.code == 2 and f"embedded from another version of {path}" in trained.err
    assert "llmrec embed --dataset tiny" in trained.err and len(trained.err.strip().splitlines()) == 1
    vectors = work / "embeddings" / "tiny" / "loop-embed" / "users.parquet"
    vectors.write_bytes(vectors.read_bytes())  # same bytes, new mtime: re-hashed, still the same
    assert cli("check", RUN, workdir=work).code == 0

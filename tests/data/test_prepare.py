"""The prepare stage end to end through the CLI: shipped demo, published splits, and the bad-input catalogue."""

import gzip
import pickle

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from llmrec_cli import artifacts


def write_split_parquet(folder, train, valid, test):
    folder.mkdir(parents=True, exist_ok=True)
    for name, pairs in (("train", train), ("valid", valid), ("test", test)):
        pl.DataFrame(pairs, schema={"user_id": pl.Int32, "item_id": pl.Int32}, orient="row").write_parquet(
            folder / f"{name}.parquet"
        )
    return folder


def assert_clean_failure(result, workdir, *fragments):
    """Exit 2, one line on stderr naming what is wrong, no traceback, no output folder, no temp files."""
    assert result.code == 2, result
    lines = [line for line in result.err.strip().splitlines() if line]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in " ".join(result.err.split()), result.err
    data = workdir / "data"
    assert not data.exists() or not any(
        p.name.startswith(".") or (p / "manifest.json").exists() for p in data.iterdir()
    )


def test_demo_needs_no_argument_and_rerun_is_up_to_date(cli, tmp_path):
    first = cli("prepare", "--dataset", "demo")
    assert first.code == 0, first.err
    folder = tmp_path / "work" / "data" / "demo"
    manifest = artifacts.read_json(folder / "manifest.json")
    assert manifest["stage"] == "prepare" and manifest["counts"]["users"] == 400
    train = artifacts.read_parquet(folder / "train.parquet", artifacts.SPLIT)
    items = artifacts.read_parquet(folder / "items.parquet", artifacts.ITEMS)
    assert {"title", "genres", "tags"} <= set(items.columns) and items["title"].null_count() == 0
    assert train["item_id"].max() < items.height
    again = cli("prepare", "--dataset", "demo")
    assert again.code == 0 and "up to date" in again.out
    forced = cli("prepare", "--dataset", "demo", "--force")
    assert forced.code == 0 and "up to date" not in forced.out


def test_ids_are_dense_and_pairs_in_one_split_only(cli, tmp_path):
    assert cli("prepare", "--dataset", "demo").code == 0
    folder = tmp_path / "work" / "data" / "demo"
    parts = [artifacts.read_parquet(folder / f"{s}.parquet", artifacts.SPLIT) for s in ("train", "valid", "test")]
    union = pl.concat(parts)
    assert union.unique(["user_id", "item_id"]).height == union.height
    users = artifacts.read_parquet(folder / "users.parquet", artifacts.USERS)
    assert users["user_id"].to_list() == list(range(users.height))
    assert set(union["user_id"].unique()) == set(range(users.height))


def test_changing_an_option_reruns(cli):
    assert cli("prepare", "--dataset", "demo").code == 0
    result = cli("prepare", "--dataset", "demo", "--ratios", "8:1:1")
    assert result.code == 0 and "up to date" not in result.out


def test_published_parquet_split_with_maps(cli, tmp_path):
    src = write_split_parquet(tmp_path / "src", [(0, 0), (0, 1), (1, 2)], [(0, 2)], [(1, 0)])
    pl.DataFrame({"internal_id": pl.Series([0, 1], dtype=pl.Int32), "original_id": ["A", "B"]}).write_parquet(
        src / "user_map.parquet"
    )
    result = cli("prepare", "--dataset", "amazon-book", "--source", src, "--name", "tiny")
    assert result.code == 0, result.err
    users = pl.read_parquet(tmp_path / "work/data/tiny/users.parquet")
    assert users["raw_id"].to_list() == ["A", "B"]
    assert pl.read_parquet(tmp_path / "work/data/tiny/items.parquet").height == 3


def test_pickled_scipy_matrices_like_rlmrec(cli, tmp_path):
    src = tmp_path / "rlmrec"
    src.mkdir()
    for name, pairs in (
        ("trn_mat.pkl", [(0, 0), (1, 1), (1, 1)]),
        ("val_mat.pkl", [(0, 1)]),
        ("tst_mat.pkl", [(1, 2)]),
    ):
        r, c = zip(*pairs)
        with open(src / name, "wb") as fh:
            pickle.dump(sp.coo_matrix((np.ones(len(r)), (r, c)), shape=(2, 4)), fh)
    result = cli("prepare", "--dataset", "amazon-book", "--source", src, "--name", "pkl")
    assert result.code == 0, result.err
    train = pl.read_parquet(tmp_path / "work/data/pkl/train.parquet")
    assert train.rows() == [(0, 0), (1, 1)]  # duplicate entry summed by scipy, binarised here
    assert pl.read_parquet(tmp_path / "work/data/pkl/items.parquet").height == 4  # id space from the matrix shape


def test_noise_adds_fake_pairs_outside_every_split(cli, tmp_path):
    assert cli("prepare", "--dataset", "demo", "--name", "clean").code == 0
    assert cli("prepare", "--dataset", "demo", "--name", "noisy", "--noise", "0.1").code == 0
    clean = pl.read_parquet(tmp_path / "work/data/clean/train.parquet")
    noisy = pl.read_parquet(tmp_path / "work/data/noisy/train.parquet")
    assert noisy.height == clean.height + round(0.1 * clean.height)
    fake = noisy.join(clean, on=["user_id", "item_id"], how="anti")
    held = pl.concat([pl.read_parquet(tmp_path / f"work/data/clean/{s}.parquet") for s in ("valid", "test")])
    assert fake.height == round(0.1 * clean.height) and fake.join(held, on=["user_id", "item_id"]).height == 0


def test_a_renamed_noised_copy_keeps_its_recipe_and_trains_with_the_recipes_hyperparameters(cli, tmp_path):
    import json

    assert cli("prepare", "--dataset", "demo", "--name", "noisy", "--noise", "0.1").code == 0
    manifest = json.loads((tmp_path / "work/data/noisy/manifest.json").read_text())
    assert manifest["recipe"] == "demo" and manifest["config"]["dataset"] == "noisy"
    assert cli("train-rlmrec", "--dataset", "noisy", "--epochs", "1", "--run-id", "r").code == 0
    run = json.loads((tmp_path / "work/runs/r/manifest.json").read_text())
    assert run["config"]["config_family"] == "demo" and run["config"]["dataset"] == "noisy"


# ------------------------------------------------------------------------------------------- bad input catalogue
def test_unknown_dataset_lists_known_ones(cli, tmp_path):
    assert_clean_failure(
        cli("prepare", "--dataset", "nope"), tmp_path / "work", "--dataset nope", "known datasets:", "demo"
    )


def test_missing_column(cli, tmp_path):
    src = tmp_path / "x.csv"
    src.write_text("u,i\n1,2\n")
    result = cli("prepare", "--dataset", "custom", "--source", src, "--name", "x")
    assert_clean_failure(result, tmp_path / "work", "x.csv", "no column 'user'", "--user-col")


def test_wrong_type_in_split_file(cli, tmp_path):
    src = tmp_path / "src"
    write_split_parquet(src, [(0, 0)], [(0, 1)], [(0, 2)])
    pl.DataFrame({"user_id": ["a"], "item_id": [0]}).write_parquet(src / "train.parquet")
    assert_clean_failure(
        cli("prepare", "--dataset", "amazon-book", "--source", src),
        tmp_path / "work",
        "train.parquet",
        "'user_id'",
        "expected integer",
    )


def test_empty_file(cli, tmp_path):
    src = tmp_path / "empty.csv"
    src.write_text("")
    assert_clean_failure(
        cli("prepare", "--dataset", "custom", "--source", src), tmp_path / "work", "empty.csv", "empty"
    )


def test_header_only_csv(cli, tmp_path):
    src = tmp_path / "header.csv"
    src.write_text("user,item\n")
    assert_clean_failure(
        cli("prepare", "--dataset", "custom", "--source", src), tmp_path / "work", "header.csv", "no rows"
    )


def test_truncated_parquet(cli, tmp_path):
    src = write_split_parquet(tmp_path / "src", [(0, 0)], [(0, 1)], [(0, 2)])
    data = (src / "valid.parquet").read_bytes()
    (src / "valid.parquet").write_bytes(data[: len(data) // 2])
    assert_clean_failure(
        cli("prepare", "--dataset", "amazon-book", "--source", src),
        tmp_path / "work",
        "valid.parquet",
        "truncated or corrupt",
    )


def test_gz_that_is_not_gzip(cli, tmp_path):
    src = tmp_path / "x.csv.gz"
    src.write_text("user,item\na,b\n")
    assert_clean_failure(
        cli("prepare", "--dataset", "custom", "--source", src), tmp_path / "work", "x.csv.gz", "not gzip"
    )


def test_truncated_gzip(cli, tmp_path):
    src = tmp_path / "x.csv.gz"
    src.write_bytes(gzip.compress(b"user,item\n" + b"a,b\n" * 1000)[:40])
    assert_clean_failure(cli("prepare", "--dataset", "custom", "--source", src), tmp_path / "work", "x.csv.gz", "gzip")


def test_ids_out_of_range_in_split_matrix(cli, tmp_path):
    src = tmp_path / "npz"
    src.mkdir()
    for name, (r, c) in (
        ("train_matrix.npz", ([0], [0])),
        ("val_matrix.npz", ([0], [1])),
        ("test_matrix.npz", ([1], [5])),
    ):
        sp.save_npz(src / name, sp.csr_matrix((np.ones(1), (r, c)), shape=(2, 6)))
    with open(src / "meta.pkl", "wb") as fh:
        pickle.dump({"num_users": 2, "num_items": 6}, fh)
    assert cli("prepare", "--dataset", "beauty", "--source", src, "--name", "ok").code == 0
    with open(src / "meta.pkl", "wb") as fh:
        pickle.dump({"num_users": 2, "num_items": 4}, fh)
    assert_clean_failure(
        cli("prepare", "--dataset", "beauty", "--source", src, "--name", "bad"),
        tmp_path / "work" / "x",
        "meta.pkl",
        "2 x 6",
    )


def test_ids_out_of_range_in_parquet_split(cli, tmp_path):
    src = write_split_parquet(tmp_path / "src", [(0, 0)], [(0, 1)], [(0, 5)])
    with open(src / "meta.pkl", "wb") as fh:
        pickle.dump({"num_users": 1, "num_items": 3}, fh)
    assert_clean_failure(
        cli("prepare", "--dataset", "amazon-book", "--source", src),
        tmp_path / "work",
        "test.parquet",
        "item id 5 is out of range 0..2",
    )


def test_map_id_out_of_range(cli, tmp_path):
    src = write_split_parquet(tmp_path / "src", [(0, 0)], [(0, 1)], [(0, 2)])
    pl.DataFrame({"internal_id": pl.Series([0, 7], dtype=pl.Int32), "original_id": ["a", "b"]}).write_parquet(
        src / "user_map.parquet"
    )
    assert_clean_failure(
        cli("prepare", "--dataset", "amazon-book", "--source", src), tmp_path / "work", "user_map.parquet", "outside"
    )


def test_matrix_shapes_disagree(cli, tmp_path):
    src = tmp_path / "pkl"
    src.mkdir()
    for name, shape in (("trn_mat.pkl", (2, 3)), ("val_mat.pkl", (2, 3)), ("tst_mat.pkl", (2, 4))):
        with open(src / name, "wb") as fh:
            pickle.dump(
                sp.coo_matrix(
                    (np.ones(1), ([0], [0 if name == "trn_mat.pkl" else 1 if name == "val_mat.pkl" else 2])),
                    shape=shape,
                ),
                fh,
            )
    assert_clean_failure(
        cli("prepare", "--dataset", "amazon-book", "--source", src), tmp_path / "work", "tst_mat.pkl", "shape"
    )


def test_same_pair_in_two_splits(cli, tmp_path):
    src = write_split_parquet(tmp_path / "src", [(0, 0), (0, 1)], [(0, 1)], [(0, 2)])
    assert_clean_failure(
        cli("prepare", "--dataset", "amazon-book", "--source", src),
        tmp_path / "work",
        "(user 0, item 1)",
        "train",
        "valid",
    )


def test_nan_ratings(cli, tmp_path):
    src = tmp_path / "r.csv"
    src.write_text("user,item,rating\na,x,5\na,y,\nb,x,NaN\n")
    result = cli("prepare", "--dataset", "custom", "--source", src, "--rating-col", "rating")
    assert_clean_failure(result, tmp_path / "work", "column 'rating': 2 of 3 rows have a rating that is", "row 1:")


def test_k_core_that_leaves_nothing(cli, tmp_path):
    src = tmp_path / "r.csv"
    src.write_text("user,item\na,x\nb,y\nc,z\n")
    assert_clean_failure(
        cli("prepare", "--dataset", "custom", "--source", src, "--kcore", "2"), tmp_path / "work", "--kcore", "empty"
    )


def test_missing_source_for_a_recipe_that_needs_one(cli, tmp_path):
    assert_clean_failure(cli("prepare", "--dataset", "amazon-book"), tmp_path / "work", "needs --source")


def test_bad_option_values(cli, tmp_path):
    assert_clean_failure(cli("prepare", "--dataset", "demo", "--ratios", "1:2"), tmp_path / "work", "--ratios")
    assert_clean_failure(cli("prepare", "--dataset", "demo", "--split", "magic"), tmp_path / "work", "--split 'magic'")
    assert_clean_failure(cli("prepare", "--dataset", "demo", "--noise", "1.5"), tmp_path / "work", "--noise")


# ------------------------------------------------------------------------------------------------ hostile input
def test_option_values_out_of_range(cli, tmp_path):
    for ratios in ("1:0:0", "3:-1:1", "nan:1:1", "inf:1:1"):
        assert_clean_failure(cli("prepare", "--dataset", "demo", "--ratios", ratios), tmp_path / "work", "--ratios")
    for size in ("0", "-2", "1.5", "nan"):
        assert_clean_failure(
            cli("prepare", "--dataset", "demo", "--user-sample", size), tmp_path / "work", "--user-sample"
        )
    assert_clean_failure(cli("prepare", "--dataset", "demo", "--noise", "nan"), tmp_path / "work", "--noise")
    for option in ("--kcore", "--user-k", "--item-k", "--min-eval"):
        result = cli("prepare", "--dataset", "demo", option, "-1")
        assert result.code == 2 and not (tmp_path / "work" / "data").exists(), option


@pytest.mark.parametrize("name", ["../x", "SENTINEL", "a/b", "..", ""])
def test_output_names_outside_the_data_folder_touch_nothing(cli, tmp_path, name):
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("keep")
    name = str(sentinel) if name == "SENTINEL" else name
    before = sorted(tmp_path.rglob("*"))
    assert_clean_failure(cli("prepare", "--dataset", "demo", "--name", name, "--force"), tmp_path / "work", "--name")
    assert sorted(tmp_path.rglob("*")) == before


def test_a_recipe_name_outside_the_data_folder_is_refused(cli, tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('name = "../../escaped"\n[source]\nformat = "table"\npath = "r.csv"\n')
    (tmp_path / "r.csv").write_text("user,item\na,x\n")
    assert_clean_failure(cli("prepare", "--recipe", recipe), tmp_path / "work", "--name")
    assert not (tmp_path / "escaped").exists()


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.mark.parametrize("victim", ["trn_mat.pkl", "meta.pkl"])
def test_a_crafted_pickle_runs_nothing(cli, tmp_path, victim):
    src = tmp_path / "rlmrec"
    src.mkdir()
    for name, pairs in (("trn_mat.pkl", [(0, 0), (1, 1)]), ("val_mat.pkl", [(0, 1)]), ("tst_mat.pkl", [(1, 2)])):
        r, c = zip(*pairs)
        with open(src / name, "wb") as fh:
            pickle.dump(sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(2, 4)), fh)
    with open(src / "meta.pkl", "wb") as fh:
        pickle.dump({"num_users": np.int64(2), "num_items": 4}, fh)
    assert cli("prepare", "--dataset", "amazon-book", "--source", src, "--name", "ok").code == 0  # csr + numpy ints
    marker = tmp_path / "ran"
    with open(src / victim, "wb") as fh:
        pickle.dump({"num_users": 2, "num_items": 4, "x": _Payload(marker)}, fh)
    assert_clean_failure(
        cli("prepare", "--dataset", "amazon-book", "--source", src, "--name", "bad"),
        tmp_path / "work" / "x",
        victim,
        "refused",
    )
    assert not marker.exists() and not (tmp_path / "work" / "data" / "bad").exists()

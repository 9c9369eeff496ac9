"""No code runs from a data file (issue 17): a crafted pickle or checkpoint whose unpickling would create a file is
refused, naming it, and the file is never created. Elsewhere: prepare of a published split with a crafted
trn_mat.pkl or meta.pkl in tests/data/test_prepare.py; load_torch and prepare_run_dir (API) in tests/test_runs.py;
profile --import of usr_prf.pkl (API) in tests/profile/test_profile_import.py."""

from __future__ import annotations

import pickle

import polars as pl
import pytest
import torch
from hostile_checks import one_line_error


class Payload:
    """Unpickling this calls open(marker, 'w'): the marker file exists iff the pickle's code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.parametrize("victim", ["usr_prf.pkl", "itm_prf.pkl"])
def test_profile_import_of_a_crafted_pickle_runs_nothing(cli, work, tmp_path, victim):
    source = tmp_path / "rlmrec-profiles"
    source.mkdir()
    marker = tmp_path / "ran"
    plain = {i: {"profile": f"profile {i}", "reasoning": "r"} for i in range(400)}
    (source / "usr_prf.pkl").write_bytes(pickle.dumps(plain))
    (source / "itm_prf.pkl").write_bytes(pickle.dumps({i: {"profile": f"item {i}"} for i in range(299)}))
    (source / victim).write_bytes(pickle.dumps({0: {"profile": "x", "reasoning": Payload(marker)}}))
    one_line_error(cli("profile", "-d", "demo", "--import", source), victim, "refused", "nothing from it was run")
    assert not marker.exists() and not (work / "profiles" / "demo" / "imported").exists()


def crafted_checkpoint(path, marker, as_torch=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    if as_torch:
        torch.save({"epoch": 1, "config_sha256": "x", "state": Payload(marker)}, path)
    else:  # a plain pickle, not even a torch archive
        path.write_bytes(pickle.dumps({"epoch": 1, "x": Payload(marker)}))


@pytest.mark.parametrize("as_torch", [True, False])
@pytest.mark.parametrize(
    "command",
    [
        ("train-rlmrec", "-d", "demo", "--epochs", "2", "--run-id", "crafted", "--resume"),
        ("train-baseline", "-d", "demo", "--epochs", "2", "--run-id", "crafted", "--resume"),
    ],
)
def test_resume_from_a_crafted_checkpoint_runs_nothing(cli, work, tmp_path, command, as_torch):
    marker = tmp_path / "ran"
    crafted_checkpoint(work / "runs" / "crafted" / "checkpoint.pt", marker, as_torch)
    one_line_error(cli(*command), "crafted/checkpoint.pt", "refused" if as_torch else "checkpoint.pt")
    assert not marker.exists()


def test_evaluate_of_a_run_with_a_crafted_model_file_runs_nothing(cli, work, tmp_path):
    marker = tmp_path / "ran"
    crafted_checkpoint(work / "runs" / "mv" / "model.pt", marker)
    one_line_error(cli("evaluate", "mv", "--force"), "mv/model.pt", "refused", "nothing from it was run")
    assert not marker.exists()


def test_a_published_parquet_split_is_data_only(cli, work, tmp_path):
    """The other published form: Parquet holds no code at all, and a column of the wrong type is named."""
    source = tmp_path / "split"
    source.mkdir()
    for name, rows in (("train", [(0, 0), (1, 1), (0, 1)]), ("valid", [(1, 0)]), ("test", [(0, 2)])):
        pl.DataFrame({"user_id": [[u] for u, _ in rows], "item_id": [i for _, i in rows]}).write_parquet(
            source / f"{name}.parquet"
        )
    result = cli("prepare", "--dataset", "custom", "--format", "split", "--source", source, "--name", "lists")
    one_line_error(result, "train.parquet", "user_id")
    assert not (work / "data" / "lists").exists()

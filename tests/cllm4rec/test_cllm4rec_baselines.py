"""Multi-VAE and most-popular on the toy dataset, through the same evaluate path as CLLM4Rec."""

import json

import numpy as np
import pytest
import torch

from llmrec_cli.cllm4rec import multivae, popularity
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.evaluate import stage


def test_multivae_shapes_loss_and_annealing(toy_workdir):
    ds = Dataset.load(toy_workdir, "toy")
    model = multivae.MultiVAE(ds.n_items, hidden=16, latent=4)
    x = multivae.dense_rows(multivae.train_matrix(ds), np.arange(ds.n_users), "cpu")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.eval()  # deterministic: z = mu, no dropout
    values = []
    for _ in range(10):
        nll, kl = model.loss(x, beta=0.0)
        optimizer.zero_grad()
        nll.backward()
        optimizer.step()
        values.append(float(nll.detach()))
    assert np.isfinite(values).all() and values[-1] < values[0]
    trainer = multivae.VAETrainer.__new__(multivae.VAETrainer)
    trainer.hp, trainer.updates = {"anneal_cap": 0.2, "total_anneal_steps": 100}, 50
    assert trainer.beta() == pytest.approx(0.2)  # 50/100 = 0.5, capped at 0.2
    trainer.updates = 10
    assert trainer.beta() == pytest.approx(0.1)


def request(**kw):
    return multivae.BaselineRequest(
        dataset="toy", hp={"epochs": 3, "batch_size": 5, "hidden": 16, "latent": 4}, seed=3, device="cpu", **kw
    )


class Killed(Exception):
    pass


def test_multivae_run_evaluate_and_resume(toy_workdir):
    straight = multivae.run(request(run_id="vae"), toy_workdir)
    assert stage.run_one(straight.run_dir, toy_workdir).metrics == straight.metrics
    recorded = json.loads((straight.run_dir / "manifest.json").read_text())["config"]  # as before configs/cllm4rec
    assert json.dumps(recorded, sort_keys=True) == json.dumps(
        {
            "dataset": "toy",
            "seed": 3,
            "model": "multivae",
            "epochs": 3,
            "batch_size": 5,
            "lr": 1e-3,
            "hidden": 16,
            "latent": 4,
            "dropout": 0.5,
            "total_anneal_steps": 200_000,
            "anneal_cap": 0.2,
            "eval_batch_size": 1024,
        },
        sort_keys=True,
    )

    def die(row):
        if row["epoch"] == 1:
            raise Killed

    with pytest.raises(Killed):
        multivae.run(request(run_id="vae-killed"), toy_workdir, die)
    resumed = multivae.run(request(run_id="vae-killed", resume=True), toy_workdir)
    assert resumed.metrics == straight.metrics


def test_most_popular_is_the_training_count(toy_workdir):
    ds = Dataset.load(toy_workdir, "toy")
    users, items = popularity.popularity_vectors(ds)
    assert torch.equal(
        (users @ items.T)[0], torch.from_numpy(np.bincount(ds.pairs("train")[1], minlength=ds.n_items)).float()
    )
    run_dir, metrics, _ = popularity.run("toy", toy_workdir)
    evaluation = stage.run_one(run_dir, toy_workdir)
    assert evaluation.metrics == metrics and "recall@20" in metrics


def test_cli_baselines(cli, toy_workdir):
    assert cli("train-baseline", "--dataset", "toy", "--model", "most-popular", workdir=toy_workdir).code == 0
    result = cli("train-baseline", "--dataset", "toy", "--epochs", "2", "--run-id", "vae-cli", workdir=toy_workdir)
    assert result.code == 0, result.err
    assert cli("train-baseline", "--dataset", "toy", "--model", "bpr", workdir=toy_workdir).code == 2


def test_most_popular_on_a_catalogue_smaller_than_the_top_100(cli, tmp_path):
    """NDCG@100 on 20 items ranks all 20; the slots past them count as misses instead of failing."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "profile"))
    from tiny_data import make_tiny_dataset

    work = tmp_path / "work"
    make_tiny_dataset(tmp_path / "raw", work, n_users=30, n_items=20, per_user=8)
    result = cli("train-baseline", "--dataset", "tiny", "--model", "most-popular", workdir=work)
    assert result.code == 0, result.err
    metrics = json.loads((work / "runs" / "tiny-most-popular" / "metrics.json").read_text())
    scores = metrics["metrics"]
    assert scores["recall@20"] == 1.0  # 20 items, training items masked: every test item is in the top 20
    assert scores["ndcg@100"] == scores["ndcg@20"] and scores["precision@100"] == pytest.approx(
        scores["precision@20"] / 5
    )


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_a_crafted_model_file_is_refused_by_evaluate(toy_workdir):
    from llmrec_cli.errors import LLMRecError

    result = multivae.run(request(run_id="vae-crafted"), toy_workdir)
    marker = toy_workdir / "crafted-ran"
    torch.save({"state": {}, "x": _Payload(marker)}, result.run_dir / multivae.MODEL)
    with pytest.raises(LLMRecError, match="model.pt: refused"):
        stage.run_one(result.run_dir, toy_workdir)
    assert not marker.exists()


@pytest.mark.parametrize("model", ["most-popular", "multivae"])
@pytest.mark.parametrize("run_id", ["../x", "a/b", "", ".."])
def test_cli_baseline_run_ids_are_single_folder_names(cli, toy_workdir, model, run_id):
    before = sorted(toy_workdir.rglob("*"))
    result = cli(
        "train-baseline",
        "--dataset",
        "toy",
        "--model",
        model,
        "--epochs",
        "1",
        "--run-id",
        run_id,
        "--force",
        workdir=toy_workdir,
    )
    assert result.code == 2 and "--run-id" in result.err and len(result.err.strip().splitlines()) == 1, result
    assert sorted(toy_workdir.rglob("*")) == before


def test_most_popular_force_removes_only_a_run_folder(cli, toy_workdir):
    mine = toy_workdir / "runs" / "mine"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep")
    result = cli(
        "train-baseline",
        "--dataset",
        "toy",
        "--model",
        "most-popular",
        "--run-id",
        "mine",
        "--force",
        workdir=toy_workdir,
    )
    assert result.code == 2 and "not a run folder" in result.err
    assert (mine / "notes.txt").read_text() == "keep"


def test_cli_baseline_numbers_are_range_checked(cli, toy_workdir):
    for option in (("--epochs", "0"), ("--batch-size", "0"), ("--total-anneal-steps", "0"), ("--lr", "-1")):
        assert cli("train-baseline", "--dataset", "toy", *option, workdir=toy_workdir).code == 2, option

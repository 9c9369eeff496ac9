"""Multi-VAE (Liang et al., WWW 2018), the strongest ID baseline of CLLM4Rec's table
(docs/methods/cllm4rec.md §8.1).

x_u = the user's binary training row.  Encoder: dropout(0.5) on x_u / ||x_u||, 600 tanh units, then mu and log
sigma^2 (200 each); z = mu + sigma * eps while training, z = mu at prediction.  Decoder: 200 -> 600 tanh -> J logits.
Loss (per user, averaged over the batch): -sum_j x_uj log softmax(logits)_j + beta * KL(q(z|x_u) || N(0, I)), with
beta = min(anneal_cap, updates / total_anneal_steps) (the paper's annealing; its code's 0.2 and 200,000).
Adam lr 1e-3, batch 500; the epoch with the best validation NDCG@100 (the paper's selection) is kept. Scored by
`llmrec evaluate` through evaluate/scoring.py like CLLM4Rec (training items masked, Recall denominator min(k, |T_u|)).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from llmrec_cli import artifacts
from llmrec_cli.cllm4rec import config as hp_config
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.errors import LLMRecError
from llmrec_cli.evaluate.scoring import evaluate_scores
from llmrec_cli.locks import folder_lock
from llmrec_cli.runs import (
    RunCheckpoint,
    RunEnding,
    RunOptions,
    RunResult,
    finish_run,
    load_torch,
    prepare_run_dir,
    weights_of,
    write_history,
)
from llmrec_cli.runtime import resolve_device, seed_everything
from llmrec_cli.settings import recipe_of

STAGE = "train-baseline"
KIND = "multivae"
MODEL = "model.pt"
KS = (20, 40, 100)
MODEL_CONFIG = "multivae"  # the hyperparameters: configs/cllm4rec/multivae.toml, read by cllm4rec/config.py
LR_FIX = "lower --lr and start over with --force"


class MultiVAE(nn.Module):
    def __init__(self, n_items: int, hidden: int = 600, latent: int = 200, dropout: float = 0.5):
        super().__init__()
        self.latent = latent
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Linear(n_items, hidden)
        self.to_stats = nn.Linear(hidden, 2 * latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, n_items))
        for layer in (self.encoder, self.to_stats, self.decoder[0], self.decoder[2]):
            nn.init.xavier_normal_(layer.weight)  # as the authors' code: Xavier weights, N(0, 0.001^2) biases
            nn.init.normal_(layer.bias, std=0.001)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.tanh(self.encoder(self.drop(F.normalize(x, dim=1))))
        mu, logvar = self.to_stats(h).split(self.latent, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar

    def loss(self, x: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
        logits, mu, logvar = self(x)
        nll = -(F.log_softmax(logits, dim=1) * x).sum(dim=1).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        return nll, kl


def train_matrix(dataset: Dataset) -> sp.csr_matrix:
    users, items = dataset.pairs("train")
    return sp.csr_matrix(
        (np.ones(users.size, dtype=np.float32), (users, items)), shape=(dataset.n_users, dataset.n_items)
    )


def dense_rows(matrix: sp.csr_matrix, users, device) -> torch.Tensor:
    return torch.from_numpy(matrix[np.asarray(users)].toarray()).to(device)


class VAEScorer:
    """score_fn for evaluate/rank.py: the decoder's logits from the user's training row (no dropout, z = mu)."""

    def __init__(self, model: MultiVAE, matrix: sp.csr_matrix):
        self.model, self.matrix = model, matrix

    @torch.no_grad()
    def __call__(self, users: torch.Tensor) -> torch.Tensor:
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        logits, _, _ = self.model(dense_rows(self.matrix, users.cpu().numpy(), device))
        self.model.train(was_training)
        return logits


@dataclass(kw_only=True)
class BaselineRequest(RunOptions):
    """Keyword arguments only: dataset, model, hp, and RunOptions' seed, device, run_id, resume, force."""

    dataset: str
    model: str = "multivae"
    hp: dict = field(default_factory=dict)  # over the config's defaults (resolve_hp); a resolved dict passes unchanged


BaselineResult = RunResult


def resolve_hp(overrides: dict, recipe: str | None = None) -> dict:
    """configs/cllm4rec/multivae.toml's [train] (and its [train.<recipe>] table) with ``overrides`` over it."""
    defaults = hp_config.defaults(MODEL_CONFIG, recipe)
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise LLMRecError(f"unknown Multi-VAE hyperparameter(s) {unknown}; known: {sorted(defaults)}")
    return {**defaults, **{k: v for k, v in overrides.items() if v is not None}}


def run(req: BaselineRequest, workdir: Path, on_epoch: Callable[[dict], None] | None = None) -> BaselineResult:
    hp = resolve_hp(req.hp, recipe_of(workdir, req.dataset))
    ds = Dataset.load(workdir, req.dataset)
    run_dir = req.run_dir(workdir, f"{req.dataset}-multivae-s{req.seed}")
    config = {"dataset": req.dataset, "seed": req.seed, "model": KIND, **hp}
    with folder_lock(run_dir):
        if not req.force and artifacts.up_to_date(run_dir, STAGE, config, ds.files()):
            doc = artifacts.read_json(run_dir / "metrics.json")
            return BaselineResult(run_dir, True, doc.get("metrics", {}), doc.get("best_epoch", -1))
        prepare_run_dir(run_dir, config, req)
        return VAETrainer(ds, req, hp, config, run_dir).fit(on_epoch)


class VAETrainer:
    def __init__(self, ds: Dataset, req: BaselineRequest, hp: dict, config: dict, run_dir: Path):
        self.ds, self.req, self.hp, self.config, self.run_dir = ds, req, hp, config, run_dir
        self.device = torch.device(resolve_device(req.device))
        seed_everything(req.seed)
        self.checkpoint = RunCheckpoint(run_dir, config, self.device, fix=LR_FIX)
        self.matrix = train_matrix(ds)
        self.users = np.flatnonzero(np.diff(self.matrix.indptr) > 0)
        self.model = MultiVAE(ds.n_items, int(hp["hidden"]), int(hp["latent"]), float(hp["dropout"])).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=float(hp["lr"]))
        self.epoch, self.updates, self.history, self.best = 0, 0, [], None

    def beta(self) -> float:
        return min(float(self.hp["anneal_cap"]), self.updates / float(self.hp["total_anneal_steps"]))

    def train_epoch(self) -> dict:
        self.model.train()
        order = np.random.default_rng([self.req.seed, self.epoch]).permutation(self.users)
        size, sums = int(self.hp["batch_size"]), {"nll": 0.0, "kl": 0.0}
        batches = range(0, order.size, size)
        for b, start in enumerate(batches):
            nll, kl = self.model.loss(dense_rows(self.matrix, order[start : start + size], self.device), self.beta())
            self.optimizer.zero_grad(set_to_none=True)
            (nll + self.beta() * kl).backward()
            self.optimizer.step()
            self.updates += 1
            losses = {"nll": float(nll.detach()), "kl": float(kl.detach())}
            self._check_finite(losses, b, len(batches))
            for key, value in losses.items():
                sums[key] += value
        return {f"loss_{k}": v / max(len(batches), 1) for k, v in sums.items()} | {"beta": self.beta()}

    def _check_finite(self, losses: dict, b: int, total: int) -> None:
        """Stop at the first batch whose loss is NaN or infinite: before validation and the epoch's checkpoint (in
        fit), so the checkpoint on disk stays the last good one. The losses are host floats already (the epoch means
        need them), so checking every batch costs no GPU sync."""
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if bad:
            at = f"after epoch {self.epoch - 1}" if self.epoch else None
            raise LLMRecError(
                f"{self.run_dir}: training loss {', '.join(f'{k}={v}' for k, v in bad.items())} is not finite at "
                f"epoch {self.epoch}, batch {b + 1} of {total}; stopped, {self.checkpoint.kept(at)}; {LR_FIX}"
            )

    def evaluate(self, split: str) -> dict:
        _, means = evaluate_scores(
            VAEScorer(self.model, self.matrix), self.ds, split, KS, "min_k", int(self.hp["eval_batch_size"])
        )
        return means

    def fit(self, on_epoch=None) -> BaselineResult:
        clock = artifacts.Stopwatch()
        self._maybe_resume()
        while self.epoch < int(self.hp["epochs"]):
            start = time.perf_counter()
            row = {"epoch": self.epoch, **self.train_epoch()}
            valid = self.evaluate("valid")
            row.update({f"valid_{k}": valid[k] for k in valid if k.split("@")[0] in ("recall", "ndcg")})
            if self.best is None or valid["ndcg@100"] > self.best["score"]:
                state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
                self.best = {"epoch": self.epoch, "score": valid["ndcg@100"], "state": state}
            row["seconds"] = time.perf_counter() - start
            self.history.append(row)
            self.epoch += 1
            self._save_checkpoint()
            if on_epoch:
                on_epoch(row)
        return self._finish(clock.seconds)

    def _save_checkpoint(self) -> None:
        self.checkpoint.save(
            {
                "epoch": self.epoch,
                "updates": self.updates,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "best": self.best,
                "history": self.history,
            }
        )

    def _maybe_resume(self) -> None:
        saved = self.checkpoint.load(map_location=self.device)
        if saved is None:
            return
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.epoch, self.updates, self.best, self.history = (
            saved["epoch"],
            saved["updates"],
            saved["best"],
            saved["history"],
        )

    def _finish(self, wall: float) -> BaselineResult:
        if self.best is not None:
            self.model.load_state_dict(self.best["state"])
        valid, test = self.evaluate("valid"), self.evaluate("test")
        with artifacts.atomic_path(self.run_dir / MODEL) as tmp:
            torch.save({"state": {k: v.cpu() for k, v in self.model.state_dict().items()}, "config": self.config}, tmp)
        write_history(self.run_dir, self.history)
        best_epoch = self.best["epoch"] if self.best else -1
        ending = RunEnding(
            stage=STAGE,
            model="Multi-VAE",
            recall_denominator="min_k",
            ks=list(KS),
            test=test,
            valid=valid,
            config=self.config,
            inputs=self.ds.files(),
            outputs=[MODEL, "history.parquet", "metrics.json"],
            counts={
                "users": self.ds.n_users,
                "items": self.ds.n_items,
                "epochs_run": self.epoch,
                "best_epoch": best_epoch,
            },
            wall_seconds=wall,
            extra={"kind": KIND, "device": str(self.device), "threads": torch.get_num_threads()},
            training={"best_epoch": best_epoch},
        )
        finish_run(self.run_dir, self.ds, ending)
        self.checkpoint.remove()
        return BaselineResult(self.run_dir, False, test, best_epoch, wall)


def scorer(run_dir: Path, manifest: dict, dataset: Dataset, device: str = "cpu") -> VAEScorer:
    """The score function `llmrec evaluate` uses for a finished Multi-VAE run (evaluate/stage.py dispatch)."""
    config = manifest["config"]
    model = MultiVAE(dataset.n_items, int(config["hidden"]), int(config["latent"]), float(config["dropout"]))
    with weights_of(run_dir / MODEL):
        model.load_state_dict(load_torch(run_dir / MODEL, needs=("state",))["state"])
    return VAEScorer(model.to(device), train_matrix(dataset))

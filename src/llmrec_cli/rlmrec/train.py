"""The `train-rlmrec` stage: BPR training of a graph backbone with optional Con/Gen alignment
(docs/methods/rlmrec.md §3.4).

Each epoch draws one negative per training edge, shuffles, and takes Adam steps on batches of 4096. Validation
runs when epoch % eval_every == 0 and on the last epoch (max_epochs - 1), so a short run can select its final
state; the state with the best validation Recall@20 (strictly greater) is kept and
training stops after ``patience`` evaluations without improvement (evaluations before ``min_epochs``, 0 unless a
recipe sets it in configs/rlmrec/common.toml, do not count). A checkpoint written atomically after every
epoch holds the model, optimiser, RNG states and history, so ``--resume`` continues a killed run and ends with the
same metrics as an uninterrupted one.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from llmrec_cli import artifacts
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.errors import LLMRecError
from llmrec_cli.evaluate.scoring import evaluate_vectors
from llmrec_cli.locks import folder_lock
from llmrec_cli.paths import name_part
from llmrec_cli.rlmrec import registry, sampling, semantic
from llmrec_cli.rlmrec.alignments.base import Semantic
from llmrec_cli.rlmrec.graph import InteractionGraph

# CHECKPOINT and write_vectors are also imported from here (benchmarks/rlmrec_quality.py, cllm4rec/popularity.py)
from llmrec_cli.runs import (
    RunCheckpoint,
    RunEnding,
    RunOptions,
    RunResult,
    finish_run,
    prepare_run_dir,
    write_history,
    write_vectors,
)  # noqa: F401
from llmrec_cli.runtime import resolve_device, seed_everything

STAGE = "train-rlmrec"


@dataclass(kw_only=True)
class TrainRequest(RunOptions):
    """Keyword arguments only: dataset, hp, embeddings, changed, and RunOptions' seed, device, run_id, resume, force."""

    dataset: str
    hp: dict  # resolved hyperparameters (rlmrec.config.resolve), recorded in the manifest
    embeddings: str | None = None
    # the settings --config, --set and the options changed from the configs' values (rlmrec.config.changed):
    # named in the default run id, so that differently configured runs never share a folder by accident
    changed: dict = field(default_factory=dict)

    @property
    def backbone(self) -> str:
        return self.hp["backbone"]

    @property
    def align(self) -> str:
        return self.hp["align"]

    @property
    def needs_embeddings(self) -> bool:
        return self.backbone == registry.SEMANTIC or registry.alignment(self.align).needs_embeddings


@dataclass
class TrainResult(RunResult):
    epochs_run: int = 0
    seconds_per_epoch: float = 0.0


MAX_SETTINGS_PART = 48  # longer lists of changed settings are named by a hash


def default_run_id(req: TrainRequest) -> str:
    """<dataset>-<backbone>-<align>[-<embeddings folder>][-<changed settings>]-s<seed>. Changed settings read
    key=value (e.g. -max_epochs=2), -w0 when only the alignment's weight is 0, or -c<hash> when that gets long."""
    parts = [req.dataset, req.backbone, req.align]
    if req.needs_embeddings and req.embeddings:
        parts.append(name_part(Path(req.embeddings.replace(":", "")).name))
    settings = settings_part(req)
    if settings:
        parts.append(settings)
    return "-".join(parts) + f"-s{req.seed}"


def settings_part(req: TrainRequest) -> str:
    if not req.changed:
        return ""
    weight = registry.alignment(req.align).weight_key if req.backbone != registry.SEMANTIC else None
    if weight is not None and req.changed == {weight: 0}:
        return "w0"
    text = name_part("-".join(f"{k}={v}" for k, v in sorted(req.changed.items())))
    return text if len(text) <= MAX_SETTINGS_PART else "c" + artifacts.config_hash(req.changed)[:8]


# ------------------------------------------------------------------------------------------------ the run
def run(req: TrainRequest, workdir: Path, on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    ds = Dataset.load(workdir, req.dataset)
    if req.needs_embeddings and not req.embeddings:
        raise LLMRecError(
            f"--align {req.align} / --backbone {req.backbone} needs --embeddings "
            "(an embed output folder, or random:DIM for speed tests)"
        )
    sem = (
        semantic.load(req.embeddings, workdir, req.dataset, ds.n_users, ds.n_items, req.seed)
        if req.needs_embeddings
        else None
    )
    run_dir = req.run_dir(workdir, default_run_id(req))
    config = {"dataset": req.dataset, "seed": req.seed, "embeddings": sem.source if sem else None, **req.hp}
    inputs = ds.files() + (sem.files if sem else [])
    with folder_lock(run_dir):
        by_content = ("embeddings",) if sem and sem.files else ()  # a vectors folder, not random:DIM
        if not req.force and artifacts.up_to_date(run_dir, STAGE, config, inputs, by_content=by_content):
            return TrainResult(run_dir, True, artifacts.read_json(run_dir / "metrics.json").get("metrics", {}))
        prepare_run_dir(run_dir, config, req)
        if req.backbone == registry.SEMANTIC:
            return _semantic_only(ds, sem, req, config, run_dir, inputs)
        trainer = Trainer(ds, sem, req, config, run_dir)
        return trainer.fit(inputs, on_epoch)


def _semantic_only(ds: Dataset, sem, req: TrainRequest, config: dict, run_dir: Path, inputs: list[Path]) -> TrainResult:
    """No training: write the normalised profile embeddings as the run's vectors and score them (cosine)."""
    from llmrec_cli.rlmrec.baselines import semantic_only_vectors

    clock = artifacts.Stopwatch()
    users, items = semantic_only_vectors(sem.users, sem.items)
    write_vectors(run_dir, users, items)
    ks = req.hp.get("ks", [5, 10, 20])
    _, test = evaluate_vectors(users, items, ds, "test", ks, "all")
    _, valid = evaluate_vectors(users, items, ds, "valid", ks, "all")
    ending = RunEnding(
        stage=STAGE,
        model="semantic-only (cosine)",
        recall_denominator="all",
        test=test,
        valid=valid,
        config=config,
        inputs=inputs,
        outputs=["users.parquet", "items.parquet", "metrics.json"],
        counts={"users": ds.n_users, "items": ds.n_items},
        wall_seconds=clock.seconds,
        extra={"kind": "vectors", "scoring": "cosine"},
    )
    finish_run(run_dir, ds, ending)
    return TrainResult(run_dir, False, test, best_epoch=0, seconds=clock.seconds)


class Trainer:
    def __init__(self, ds: Dataset, sem, req: TrainRequest, config: dict, run_dir: Path):
        self.ds, self.req, self.hp, self.config, self.run_dir = ds, req, req.hp, config, run_dir
        self.device = torch.device(resolve_device(req.device))
        seed_everything(req.seed)
        users, items = ds.pairs("train")
        self.graph = InteractionGraph.from_arrays(users, items, ds.n_users, ds.n_items)
        self.model = registry.backbone(req.backbone).load()(self.graph, self.hp, device=self.device).to(self.device)
        self.sem = Semantic(sem.users.to(self.device), sem.items.to(self.device)) if sem else None
        self.alignment = (
            registry.alignment(req.align)
            .build(self.hp, ego_dim=self.model.dim, out_dim=self.model.out_dim, sem_dim=sem.dim if sem else 0)
            .to(self.device)
        )
        self.optimizer = torch.optim.Adam(self.parameters(), lr=float(self.hp["lr"]))
        self.generator = torch.Generator().manual_seed(req.seed)
        self.checkpoint = RunCheckpoint(
            run_dir, config, self.device, self.generator, fix="lower the learning rate (--set lr=...) and start over"
        )
        self.sampler = _sampler(self.graph)
        self.valid_exclude = ds.csr("train")
        self.epoch, self.history, self.best, self.bad_evals = 0, [], None, 0

    def ego(self) -> torch.Tensor:
        """The table the backbone propagates: its ID table, as the alignment shapes it (KAR widens it)."""
        return self.alignment.ego(self.model.ego(), self.sem)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            out = self.model.propagate(self.ego(), training=False)
            return out[: self.ds.n_users], out[self.ds.n_users :]

    def parameters(self):
        return list(self.model.parameters()) + list(self.alignment.parameters())

    # ---------------------------------------------------------------------------------------- one step
    def step(self, batch) -> dict[str, float]:
        ego, context = self.alignment.training_ego(self.ego(), self.generator)
        parts, final = self.model.loss(batch, ego)
        if self.alignment.switched_off():
            parts["align"] = final.new_zeros(())  # the weight-0 control: same draws, same updates, no work
        else:
            aligned = self.alignment.alignment_loss(final, batch, context, self.sem)
            if aligned is not None:
                parts["align"] = aligned
        parts["reg"] = float(self.hp["reg_weight"]) * sum(p.pow(2).sum() for p in self.parameters())
        loss = sum(parts.values())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {k: float(v.detach()) for k, v in parts.items()}

    def train_epoch(self) -> dict[str, float]:
        self.model.train()
        totals: dict[str, float] = {}
        n = 0
        for batch in self.sampler.epoch_batches(int(self.hp["batch_size"]), self.generator, self.device):
            values = self.step(batch)
            self._check_finite({f"loss_{k}": v for k, v in values.items()})  # at once, not after the epoch's rest
            for k, v in values.items():
                totals[k] = totals.get(k, 0.0) + v
            n += 1
        return {f"loss_{k}": v / max(n, 1) for k, v in totals.items()}

    # ---------------------------------------------------------------------------------------- evaluation
    def evaluate(self, split: str) -> dict[str, float]:
        self.model.eval()
        users, items = self.final_embeddings()
        _, means = evaluate_vectors(
            users, items, self.ds, split, self.hp["ks"], "all", int(self.hp["eval_batch_size"]), self.valid_exclude
        )
        self.model.train()
        return means

    # ---------------------------------------------------------------------------------------- loop
    def fit(self, inputs: list[Path], on_epoch=None) -> TrainResult:
        clock = artifacts.Stopwatch()
        self._maybe_resume()
        max_epochs, every, patience = int(self.hp["max_epochs"]), int(self.hp["eval_every"]), int(self.hp["patience"])
        stopped = self.bad_evals >= patience
        while self.epoch < max_epochs and not stopped:
            start = time.perf_counter()
            row = {"epoch": self.epoch, **self.train_epoch()}
            self._check_finite(row)
            row["seconds"] = time.perf_counter() - start
            if self.epoch % every == 0 or self.epoch == max_epochs - 1:
                stopped = self._validate(row) >= patience
            self.history.append(row)
            self.epoch += 1
            self._save_checkpoint()
            if on_epoch:
                on_epoch(self._epoch_event(row))
        return self._finish(inputs, clock.seconds)

    def _check_finite(self, row: dict) -> None:
        """A NaN or infinite loss stops the run before its checkpoint is written: the last good one stays."""
        bad = {k: v for k, v in row.items() if k.startswith("loss_") and not np.isfinite(v)}
        if bad:
            kept = f"the checkpoint of epoch {self.epoch - 1} is kept" if self.epoch else "nothing was saved"
            raise LLMRecError(
                f"epoch {self.epoch}: training loss {', '.join(f'{k[5:]}={v}' for k, v in bad.items())} "
                f"is not finite; stopped ({kept} in {self.run_dir}); lower the learning rate "
                "(--set lr=...) or check the embeddings"
            )

    def _epoch_event(self, row: dict) -> dict:
        """What on_epoch gets: the history row plus the best validation score so far and its epoch (not stored)."""
        best = self.best or {}
        return {**row, "best_valid": best.get("score"), "best_epoch": best.get("epoch")}

    def _validate(self, row: dict) -> int:
        means = self.evaluate("valid")
        row.update({f"valid_{k}": v for k, v in means.items()})
        key = "recall@20" if "recall@20" in means else next(k for k in means if k.startswith("recall@"))
        if self.best is None or means[key] > self.best["score"]:
            self.best = {"epoch": self.epoch, "score": means[key], "state": self._state_copy()}
            self.bad_evals = 0
        elif self.epoch >= int(self.hp.get("min_epochs", 0)):  # no stop while still warming up from the init
            self.bad_evals += 1
        return self.bad_evals

    def _state_copy(self) -> dict:
        state = {"model": copy.deepcopy(self.model.state_dict())}
        if self.alignment.state_dict():  # the base variant has no alignment state
            state["align"] = copy.deepcopy(self.alignment.state_dict())
        return state

    def _load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if "align" in state:
            self.alignment.load_state_dict(state["align"])

    # ---------------------------------------------------------------------------------------- checkpoints
    def _save_checkpoint(self) -> None:
        self.checkpoint.save(
            {
                "epoch": self.epoch,
                "current": self._state_copy(),
                "optimizer": self.optimizer.state_dict(),
                "best": self.best,
                "bad_evals": self.bad_evals,
                "history": self.history,
            }
        )

    def _maybe_resume(self) -> None:
        saved = self.checkpoint.load(map_location=self.device)
        if saved is None:
            return
        self._load_state(saved["current"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.epoch, self.best, self.bad_evals, self.history = (
            saved["epoch"],
            saved["best"],
            saved["bad_evals"],
            saved["history"],
        )

    # ---------------------------------------------------------------------------------------- outputs
    def _finish(self, inputs: list[Path], wall: float) -> TrainResult:
        if self.best is not None:
            self._load_state(self.best["state"])
        valid = self.evaluate("valid")
        test = self.evaluate("test")
        self.model.eval()
        users, items = self.final_embeddings()
        write_vectors(self.run_dir, users, items)
        write_history(self.run_dir, self.history)
        best_epoch = self.best["epoch"] if self.best else self.epoch - 1
        seconds_per_epoch = float(np.mean([r["seconds"] for r in self.history])) if self.history else 0.0
        ending = RunEnding(
            stage=STAGE,
            model=f"{self.req.backbone}+{self.req.align}",
            recall_denominator="all",
            test=test,
            valid=valid,
            config=self.config,
            inputs=inputs,
            outputs=["users.parquet", "items.parquet", "history.parquet", "metrics.json"],
            counts={
                "users": self.ds.n_users,
                "items": self.ds.n_items,
                "train_edges": self.graph.n_edges,
                "epochs_run": self.epoch,
                "best_epoch": best_epoch,
            },
            wall_seconds=wall,
            extra={
                "kind": "vectors",
                "scoring": "dot",
                "device": str(self.device),
                "threads": torch.get_num_threads(),
                "seconds_per_epoch": seconds_per_epoch,
            },
            training={"best_epoch": best_epoch, "epochs_run": self.epoch},
        )
        finish_run(self.run_dir, self.ds, ending)
        self.checkpoint.remove()
        return TrainResult(
            self.run_dir, False, test, best_epoch, wall, epochs_run=self.epoch, seconds_per_epoch=seconds_per_epoch
        )


def _sampler(graph: InteractionGraph) -> sampling.NegativeSampler:
    try:
        return sampling.NegativeSampler(graph)
    except ValueError as exc:
        raise LLMRecError(f"negative sampling: {exc}") from None

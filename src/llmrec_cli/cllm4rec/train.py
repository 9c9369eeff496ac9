"""The `train-cllm4rec` stage: pretraining, finetuning and model selection of CLLM4Rec
(docs/methods/cllm4rec.md §3-§7).

The run is a fixed schedule of passes over the data:
  pretrain: ``warmup_epochs`` content passes (content LM alone), then ``pretrain_epochs`` x (an L-step pass: the
            collaborative LM + MR toward the frozen content tables; a C-step pass: the content LM + MR toward the
            frozen collaborative tables), then "save": the best tables (lowest epoch-mean training loss per side, the
            code's rule, docs/methods/cllm4rec.md §4.4) go to pretrained.pt and are what finetuning starts from;
  finetune: ``finetune_epochs`` x (a rec pass: masked prompts, multinomial loss + MR; a valid pass: R@20 + R@40 +
            N@100 on the validation split, the best tables kept; a content pass: content LM + MR toward the rec
            tables, its own optimiser).
A checkpoint (tables, optimisers, the cursor in the schedule, RNG state) is written atomically after every pass and
every ``checkpoint_seconds`` within one, never after a NaN or infinite loss (the run stops with the last good one
kept, see ``_check_finite``). Each pass draws its randomness from a generator seeded by (seed, pass), so
``--resume`` continues a killed run mid-pass and ends with the same numbers as an uninterrupted run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from llmrec_cli import artifacts
from llmrec_cli.cllm4rec import backbone as backbones
from llmrec_cli.cllm4rec import config as hp_config
from llmrec_cli.cllm4rec.data import (
    Prompts,
    collaborative_documents,
    collate_documents,
    content_corpus,
    items_by_user,
    length_bucketed_batches,
    masked_prompts,
    multi_hot,
)
from llmrec_cli.cllm4rec.model import CLLM4Rec
from llmrec_cli.cllm4rec.predict import Recommender, autocast
from llmrec_cli.cllm4rec.tokenizer import IdTokenizer, pad_right
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.errors import LLMRecError
from llmrec_cli.evaluate.scoring import evaluate_scores
from llmrec_cli.locks import folder_lock
from llmrec_cli.paths import name_part
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
    write_vectors,
)
from llmrec_cli.runtime import resolve_device, seed_everything
from llmrec_cli.settings import recipe_of
from llmrec_cli.workdir import Workdir

STAGE = "train-cllm4rec"
KIND = "cllm4rec"
STAGES = ("pretrain", "finetune", "all")
PRETRAINED, MODEL = "pretrained.pt", "model.pt"
KS = (20, 40, 100)
SELECTION = ("recall@20", "recall@40", "ndcg@100")
CODE_SEQUENCES_PER_PROCESS = 20  # the official run: 20 sequences per GPU, gradients averaged over 8 GPUs

# The hyperparameters (the official code's full budget by default) are in configs/cllm4rec/cllm4rec.toml, read by
# cllm4rec/config.py; the CPU recipe in docs/results.md overrides epochs, batch and lr.
MODEL_CONFIG = "cllm4rec"
LR_FIX = "lower --lr-pretrain or --lr-finetune (or, on a GPU, try --no-amp) and start over with --force"


@dataclass(kw_only=True)
class CLLM4RecRequest(RunOptions):
    """Keyword arguments only: dataset, stage, backbone, layers, pretrained, hp, checkpoint_seconds, and RunOptions'
    seed, device, run_id, resume, force."""

    dataset: str
    stage: str = "all"
    backbone: str = backbones.DEFAULT_BACKBONE
    layers: int | None = None
    pretrained: str | None = None  # finetune stage: the run folder (or id) whose pretrained.pt to start from
    hp: dict = field(default_factory=dict)  # over the config's defaults (resolve_hp); a resolved dict passes unchanged
    checkpoint_seconds: float = 600.0  # does not change results, so it is not part of the config


@dataclass
class CLLM4RecResult(RunResult):
    valid_metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Pass:
    phase: str  # warmup, pretrain, finetune
    epoch: int
    part: str  # collab, content, save, rec, valid

    def label(self, hp: dict) -> str:
        if self.part == "save":
            return "pretrain save (best tables)"
        total = {"warmup": hp["warmup_epochs"], "pretrain": hp["pretrain_epochs"], "finetune": hp["finetune_epochs"]}[
            self.phase
        ]
        return f"{self.phase} {min(self.epoch + 1, total)}/{total} {self.part}"


def schedule(stage: str, hp: dict) -> list[Pass]:
    passes: list[Pass] = []
    if stage in ("pretrain", "all"):
        passes += [Pass("warmup", e, "content") for e in range(hp["warmup_epochs"])]
        for e in range(hp["pretrain_epochs"]):
            passes += [Pass("pretrain", e, "collab"), Pass("pretrain", e, "content")]
        passes.append(Pass("pretrain", hp["pretrain_epochs"], "save"))
    if stage in ("finetune", "all"):
        for e in range(hp["finetune_epochs"]):
            passes += [Pass("finetune", e, "rec"), Pass("finetune", e, "valid")]
            if hp["content_in_finetune"]:
                passes.append(Pass("finetune", e, "content"))
    return passes


def resolve_hp(overrides: dict, recipe: str | None = None) -> dict:
    """configs/cllm4rec/cllm4rec.toml's [train] (and its [train.<recipe>] table) with ``overrides`` over it."""
    defaults = hp_config.defaults(MODEL_CONFIG, recipe)
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise LLMRecError(f"unknown CLLM4Rec hyperparameter(s) {unknown}; known: {sorted(defaults)}")
    hp = {**defaults, **{k: v for k, v in overrides.items() if v is not None}}
    if hp["finetune_target"] not in ("all", "masked"):
        raise LLMRecError(f"--finetune-target {hp['finetune_target']!r}: choose all (code) or masked (paper)")
    if hp["content_init"] not in ("independent", "around"):
        raise LLMRecError(f"--content-init {hp['content_init']!r}: choose independent (code) or around (paper)")
    for key in ("warmup_epochs", "pretrain_epochs", "finetune_epochs"):
        if int(hp[key]) < 0:
            raise LLMRecError(f"{key} must be >= 0, got {hp[key]}")
    if int(hp["batch_size"]) < 1 or int(hp["eval_batch_size"]) < 1:
        raise LLMRecError("batch sizes must be >= 1")
    return hp


def default_run_id(req: CLLM4RecRequest) -> str:
    name = Path(req.backbone).stem if Path(req.backbone).suffix else Path(req.backbone.replace(":", "-")).name
    name = name_part(name)
    layers = f"-l{req.layers}" if req.layers else ""
    return f"{req.dataset}-cllm4rec-{req.stage}-{name}{layers}-s{req.seed}"


# ------------------------------------------------------------------------------------------------ the run
def run(req: CLLM4RecRequest, workdir: Path, on_progress: Callable[[dict], None] | None = None) -> CLLM4RecResult:
    if req.stage not in STAGES:
        raise LLMRecError(f"--stage {req.stage!r}: choose one of {', '.join(STAGES)}")
    hp = resolve_hp(req.hp, recipe_of(workdir, req.dataset))
    ds = Dataset.load(workdir, req.dataset)
    run_dir = req.run_dir(workdir, default_run_id(req))
    pretrained = _pretrained_path(req, workdir)
    config = {
        "dataset": req.dataset,
        "seed": req.seed,
        "stage": req.stage,
        "backbone": backbones.describe(req.backbone),
        "layers": req.layers,
        "pretrained": str(pretrained) if pretrained else None,
        **hp,
    }
    inputs = ds.files() + _text_inputs(ds) + ([pretrained] if pretrained else [])
    with folder_lock(run_dir):
        if not req.force and artifacts.up_to_date(run_dir, STAGE, config, inputs):
            doc = artifacts.read_json(run_dir / "metrics.json")
            return CLLM4RecResult(
                run_dir,
                True,
                doc.get("metrics", {}),
                doc.get("best_epoch", -1),
                valid_metrics=doc.get("valid_metrics", {}),
            )
        prepare_run_dir(run_dir, config, req)
        backbone = backbones.load(req.backbone, req.layers)
        trainer = Trainer(ds, req, hp, config, run_dir, backbone, pretrained)
        return trainer.fit(inputs, on_progress)


def _pretrained_path(req: CLLM4RecRequest, workdir: Path) -> Path | None:
    if req.stage != "finetune":
        return None
    if not req.pretrained:
        raise LLMRecError("--stage finetune needs --pretrained RUN (a run of --stage pretrain or all)")
    folder = Workdir.of(workdir).find(
        req.pretrained, "runs", option="--pretrained", hint="give a run of --stage pretrain or all (its id or folder)"
    )
    if not (folder / PRETRAINED).is_file():
        raise LLMRecError(f"--pretrained {req.pretrained}: no {PRETRAINED} in {folder}; run --stage pretrain first")
    return (folder / PRETRAINED).resolve()


def _text_inputs(ds: Dataset) -> list[Path]:
    return [p for p in (ds.folder / "items.parquet", ds.folder / "reviews.parquet") if p.is_file()]


# ------------------------------------------------------------------------------------------------ the trainer
class Trainer:
    def __init__(
        self,
        ds: Dataset,
        req: CLLM4RecRequest,
        hp: dict,
        config: dict,
        run_dir: Path,
        backbone,
        pretrained: Path | None,
    ):
        self.ds, self.req, self.hp, self.config, self.run_dir = ds, req, hp, config, run_dir
        self.device = torch.device(resolve_device(req.device))
        seed_everything(req.seed)
        self.checkpoint = RunCheckpoint(run_dir, config, self.device, fix=LR_FIX)
        self.saved_at: str | None = None  # where the checkpoint on disk was written, for a message that stops the run
        self.tokenizer = IdTokenizer(backbone.encode_words, backbone.n_vocab, ds.n_users, ds.n_items)
        self.max_len = min(int(hp["max_len"]), backbone.max_positions)
        self.prompts = Prompts(self.tokenizer, self.max_len)
        self.train_items = items_by_user(ds)
        self.rec_users = np.array([u for u, items in enumerate(self.train_items) if items.size], dtype=np.int64)
        self.corpus = content_corpus(ds, self.tokenizer, self.max_len)
        self.model = CLLM4Rec(backbone, ds.n_users, ds.n_items, req.seed, hp["content_init"]).to(self.device)
        if pretrained is not None:
            with weights_of(pretrained):
                self.model.load_trainable_state(load_torch(pretrained, needs=("tables",))["tables"])
        collab, content = list(self.model.collab.parameters()), list(self.model.content.parameters())
        self.optimizers = {
            "collab": torch.optim.Adam(collab, lr=float(hp["lr_pretrain"])),
            "content": torch.optim.Adam(content, lr=float(hp["lr_pretrain"])),
            "rec": torch.optim.Adam(collab, lr=float(hp["lr_finetune"])),
            "content_finetune": torch.optim.Adam(content, lr=float(hp["lr_finetune"])),
        }
        self.schedule = schedule(req.stage, hp)
        self.cursor = {"pass": 0, "batch": 0}
        self.partial: dict[str, float] = {}  # running sums of the pass in progress (for a mid-pass resume)
        self.history: list[dict] = []
        self.best: dict[str, dict] = {}  # "collab"/"content": lowest pretraining loss; "finetune": best validation
        self.last_save = time.monotonic()

    @property
    def mr_users(self) -> bool:
        # Without reviews nothing ever trains the content user table; MR toward it would only pull the collaborative
        # user embeddings toward random points, so users are left out of MR then (recorded in the manifest).
        return self.corpus.covers_users

    # ---------------------------------------------------------------------------------------- steps
    def lm_step(self, batch, side: str, optimizer: torch.optim.Optimizer, with_mr: bool) -> dict[str, float]:
        """One L-step (side "collab") or C-step (side "content") update on a batch of documents."""
        model = self.model
        this, other = (model.collab, model.content) if side == "collab" else (model.content, model.collab)
        with autocast(self.device, self.hp["amp"]):
            lm = model.collaborative_loss(batch) if side == "collab" else model.content_loss(batch)
        mr = torch.zeros((), device=self.device)
        if with_mr:
            # L-step: MR over prompt + main (the user and all its items); C-step: over the prompt only.
            ids = (
                batch.ids
                if side == "collab"
                else torch.where(batch.prompt_mask, batch.ids, torch.zeros_like(batch.ids))
            )
            mr = self._mr_weight(batch.ids.shape[0]) * model.mutual_regularisation(ids, this, other, self.mr_users)
        optimizer.zero_grad(set_to_none=True)
        (lm + mr).backward()
        optimizer.step()
        return {"lm": float(lm.detach()), "mr": float(mr.detach()), "loss": float((lm + mr).detach())}

    def rec_step(self, sequences: list[list[int]], targets: list[np.ndarray]) -> dict[str, float]:
        """One finetuning update: multinomial loss of the masked prompts + MR (rec vs content) on the prompt tokens."""
        ids, mask = (t.to(self.device) for t in pad_right(sequences))
        target = multi_hot(targets, self.ds.n_items, self.device)
        with autocast(self.device, self.hp["amp"]):
            nll = self.model.multinomial_loss(ids, mask, target)
        mr = self._mr_weight(ids.shape[0]) * self.model.mutual_regularisation(
            ids, self.model.collab, self.model.content, self.mr_users
        )
        optimizer = self.optimizers["rec"]
        optimizer.zero_grad(set_to_none=True)
        (nll + mr).backward()
        optimizer.step()
        return {
            "lm": float(nll.detach()),
            "mr": float(mr.detach()),
            "loss": float((nll + mr).detach()),
            "tokens": float(mask.sum()),
        }

    def _mr_weight(self, n_sequences: int) -> float:
        """lambda_V x (sum over the batch) / (batch / 20): the code's per-process sum averaged over 8 processes."""
        return float(self.hp["lambda_v"]) * CODE_SEQUENCES_PER_PROCESS / n_sequences

    # ---------------------------------------------------------------------------------------- passes
    def pass_rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.req.seed, index])

    def run_pass(self, index: int, on_progress) -> dict:
        p = self.schedule[index]
        rng = self.pass_rng(index)
        if p.part == "save":
            return self._save_pretrained(p)
        if p.part == "valid":
            return self._validate(p)
        steps = self._pass_steps(p, rng)
        return self._run_steps(p, steps, on_progress)

    def _pass_steps(self, p: Pass, rng: np.random.Generator) -> list[Callable[[], dict]]:
        """The pass's batches as closures, built up front from the pass's own generator (so a resume can skip)."""
        hp = self.hp
        batch_size = int(hp["batch_size"])
        if p.part == "collab":
            docs = collaborative_documents(
                self.prompts, self.train_items, rng if hp["shuffle_pretrain_items"] else None
            )
            batches = length_bucketed_batches(docs.lengths(), batch_size, rng)
            return [self._doc_step(docs, b, "collab", self.optimizers["collab"], True) for b in batches]
        if p.part == "content":
            docs = self.corpus.docs
            batches = length_bucketed_batches(docs.lengths(), batch_size, rng) if len(docs) else []
            optimizer = self.optimizers["content_finetune" if p.phase == "finetune" else "content"]
            return [self._doc_step(docs, b, "content", optimizer, p.phase != "warmup") for b in batches]
        if p.part == "rec":
            sequences, targets = masked_prompts(
                self.prompts, self.rec_users, self.train_items, rng, hp["finetune_target"]
            )
            lengths = np.array([len(s) for s in sequences])
            batches = length_bucketed_batches(lengths, batch_size, rng)
            return [lambda b=b: self.rec_step([sequences[i] for i in b], [targets[i] for i in b]) for b in batches]
        raise ValueError(f"unknown pass part {p.part}")

    def _doc_step(self, docs, index, side, optimizer, with_mr):
        def step() -> dict:
            batch = collate_documents(docs, index, self.hp["score_first_token"]).to(self.device)
            out = self.lm_step(batch, side, optimizer, with_mr)
            out["tokens"] = float(batch.mask.sum())
            return out

        return step

    def _run_steps(self, p: Pass, steps: list, on_progress) -> dict:
        self.model.train()  # the frozen LM too, as in the official code: its dropout is active while training
        start = self.cursor["batch"]
        clock = time.perf_counter()
        for b in range(start, len(steps)):
            out = steps[b]()
            self._check_finite(p, b, len(steps), out)
            for key, value in out.items():
                self.partial[key] = self.partial.get(key, 0.0) + value
            self.partial["batches"] = self.partial.get("batches", 0.0) + 1
            self.cursor["batch"] = b + 1
            if on_progress:
                on_progress(self._progress_event(p, b + 1, len(steps)))
            if time.monotonic() - self.last_save > self.req.checkpoint_seconds and b + 1 < len(steps):
                self.partial["seconds"] = self.partial.get("seconds", 0.0) + time.perf_counter() - clock
                clock = time.perf_counter()
                self._save_checkpoint()
        self.partial["seconds"] = self.partial.get("seconds", 0.0) + time.perf_counter() - clock
        n = max(self.partial.get("batches", 0.0), 1.0)
        row = {
            "epoch": p.epoch,
            "phase": p.phase,
            "part": p.part,
            "seconds": self.partial["seconds"],
            "tokens": int(self.partial.get("tokens", 0)),
            "batches": int(self.partial.get("batches", 0)),
        }
        row.update({f"loss_{k}": self.partial[k] / n for k in ("loss", "lm", "mr") if k in self.partial})
        if p.phase in ("warmup", "pretrain") and "loss_loss" in row:
            self._track_pretrain_best(p, row["loss_loss"])
        return row

    def _check_finite(self, p: Pass, b: int, total: int, out: dict) -> None:
        """Stop at the first batch whose loss is NaN or infinite, before it reaches the running sums, the progress
        event and a checkpoint (mid-pass, below in _run_steps, or at the pass end, in fit): the checkpoint on disk
        stays the last good one. The losses are host floats already (lm_step/rec_step call float() for the running
        sums), so checking every batch costs no GPU sync; the weights that step updated are checked when a
        checkpoint is saved (RunCheckpoint.save)."""
        bad = {k: v for k, v in out.items() if k in ("lm", "mr", "loss") and not math.isfinite(v)}
        if not bad:
            return
        if len(bad) > 1:
            bad.pop("loss")  # the sum of the others
        raise LLMRecError(
            f"{self.run_dir}: training loss {', '.join(f'{k}={v}' for k, v in bad.items())} is not finite at "
            f"{p.label(self.hp)}, batch {b + 1} of {total}; stopped, {self.checkpoint.kept(self.saved_at)}; lower "
            f"--lr-{'finetune' if p.phase == 'finetune' else 'pretrain'} (or, on a GPU, try --no-amp) and start "
            "over with --force"
        )

    def _position(self) -> str:
        """Where the schedule's cursor is, in words."""
        index, batch = self.cursor["pass"], self.cursor["batch"]
        if index >= len(self.schedule):
            return "after the last pass"
        label = self.schedule[index].label(self.hp)
        return f"{label}, after batch {batch}" if batch else f"before {label}"

    def _progress_event(self, p: Pass, done: int, total: int) -> dict:
        n = max(self.partial.get("batches", 1.0), 1.0)
        return {
            "pass": self.cursor["pass"],
            "passes": len(self.schedule),
            "label": p.label(self.hp),
            "batch": done,
            "batches": total,
            **{f"loss_{k}": self.partial[k] / n for k in ("lm", "mr") if k in self.partial},
        }

    def _track_pretrain_best(self, p: Pass, loss: float) -> None:
        """The code saves each side's tables when its epoch-mean training loss improves; the content side shares
        one best value between the warm-up (LM only) and the alternating phase (LM + MR), as the code does."""
        side = "collab" if p.part == "collab" else "content"
        best = self.best.get(side)
        if best is None or loss < best["loss"]:
            state = self.model.trainable_state()[side]
            self.best[side] = {"loss": loss, "phase": p.phase, "epoch": p.epoch, "state": state}

    def _save_pretrained(self, p: Pass) -> dict:
        clock = time.perf_counter()
        tables = {side: self.best[side]["state"] for side in ("collab", "content") if side in self.best}
        self.model.load_trainable_state(tables)  # finetuning starts from the saved tables, not the last ones (code)
        saved = {side: {k: v for k, v in self.best[side].items() if k != "state"} for side in tables}
        with artifacts.atomic_path(self.run_dir / PRETRAINED) as tmp:
            torch.save({"tables": self.model.trainable_state(), "saved": saved, "config": self.config}, tmp)
        return {"epoch": p.epoch, "phase": p.phase, "part": "save", "seconds": time.perf_counter() - clock}

    def _validate(self, p: Pass) -> dict:
        clock = time.perf_counter()
        means = self.evaluate("valid")
        score = sum(means[m] for m in SELECTION)
        best = self.best.get("finetune")
        if best is None or score > best["score"]:
            self.best["finetune"] = {"score": score, "epoch": p.epoch, "state": self.model.trainable_state()}
        row = {"epoch": p.epoch, "phase": p.phase, "part": "valid", "seconds": time.perf_counter() - clock}
        row.update({f"valid_{k}": means[k] for k in means if k.split("@")[0] in ("recall", "ndcg")})
        row["valid_selection"] = score
        return row

    def recommender(self) -> Recommender:
        return Recommender(self.model, self.prompts, self.train_items, self.req.seed, self.hp["amp"])

    def evaluate(self, split: str) -> dict[str, float]:
        _, means = evaluate_scores(self.recommender(), self.ds, split, KS, "min_k", int(self.hp["eval_batch_size"]))
        return means

    # ---------------------------------------------------------------------------------------- loop
    def fit(self, inputs: list[Path], on_progress=None) -> CLLM4RecResult:
        clock = artifacts.Stopwatch()
        self._maybe_resume()
        while self.cursor["pass"] < len(self.schedule):
            row = self.run_pass(self.cursor["pass"], on_progress)
            self.history.append(row)
            if on_progress:
                on_progress(
                    {
                        "pass": self.cursor["pass"],
                        "passes": len(self.schedule),
                        "done": row,
                        "label": self.schedule[self.cursor["pass"]].label(self.hp),
                    }
                )
            self.cursor = {"pass": self.cursor["pass"] + 1, "batch": 0}
            self.partial = {}
            self._save_checkpoint()
        return self._finish(inputs, clock.seconds)

    # ---------------------------------------------------------------------------------------- checkpoints
    def _save_checkpoint(self) -> None:
        self.checkpoint.save(
            {
                "cursor": self.cursor,
                "partial": self.partial,
                "tables": self.model.trainable_state(),
                "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
                "best": self.best,
                "history": self.history,
            }
        )
        self.last_save = time.monotonic()
        self.saved_at = self._position()

    def _maybe_resume(self) -> None:
        saved = self.checkpoint.load(map_location="cpu")
        if saved is None:
            return
        self.model.load_trainable_state(saved["tables"])
        for name, state in saved["optimizers"].items():
            self.optimizers[name].load_state_dict(state)
        self.cursor, self.partial, self.best, self.history = (
            saved["cursor"],
            saved["partial"],
            saved["best"],
            saved["history"],
        )
        self.saved_at = self._position()

    # ---------------------------------------------------------------------------------------- outputs
    def _finish(self, inputs: list[Path], wall: float) -> CLLM4RecResult:
        best = self.best.get("finetune")
        if best is not None:
            self.model.load_trainable_state(best["state"])
        best_epoch = best["epoch"] if best else -1
        valid, test = self.evaluate("valid"), self.evaluate("test")
        tables = self.model.trainable_state()
        with artifacts.atomic_path(self.run_dir / MODEL) as tmp:
            torch.save({"tables": tables, "config": self.config}, tmp)
        write_vectors(self.run_dir, tables["collab"]["users"], tables["collab"]["items"])
        write_history(self.run_dir, self.history)
        pretrain_saved = {
            side: {k: v for k, v in self.best[side].items() if k != "state"}
            for side in ("collab", "content")
            if side in self.best
        }
        model_name = "CLLM4Rec" if self.req.stage != "pretrain" else "CLLM4Rec-PreRec (no finetuning)"
        outputs = [MODEL, "users.parquet", "items.parquet", "history.parquet", "metrics.json"]
        if self.req.stage != "finetune":
            outputs.append(PRETRAINED)
        pass_seconds = {}
        for row in self.history:
            key = f"{row['phase']}_{row['part']}"
            pass_seconds[key] = pass_seconds.get(key, 0.0) + row["seconds"]
        ending = RunEnding(
            stage=STAGE,
            model=model_name,
            recall_denominator="min_k",
            ks=list(KS),
            test=test,
            valid=valid,
            config=self.config,
            inputs=inputs,
            outputs=outputs,
            counts={
                "users": self.ds.n_users,
                "items": self.ds.n_items,
                "content_documents": len(self.corpus.docs),
                "passes": len(self.schedule),
                "best_epoch": best_epoch,
            },
            wall_seconds=wall,
            extra={
                "kind": KIND,
                "device": str(self.device),
                "threads": torch.get_num_threads(),
                "content_corpus": self.corpus.source,
                "mr_entities": ["user", "item"] if self.mr_users else ["item"],
                "pretrain_saved": pretrain_saved,
                "backbone_layers": self.model.backbone.n_layers,
                "hidden_size": self.model.backbone.hidden_size,
                "max_len": self.max_len,
                "seconds_by_pass": pass_seconds,
            },
            training={"best_epoch": best_epoch},
        )
        finish_run(self.run_dir, self.ds, ending)
        self.checkpoint.remove()
        return CLLM4RecResult(self.run_dir, False, test, best_epoch, wall, valid_metrics=valid)


# ------------------------------------------------------------------------------------------------ evaluate hook
def scorer(run_dir: Path, manifest: dict, dataset: Dataset, device: str = "cpu") -> Callable:
    """The score function `llmrec evaluate` uses for a finished CLLM4Rec run (evaluate/stage.py dispatch)."""
    config = manifest["config"]
    backbone = backbones.load(config["backbone"]["spec"], config.get("layers"))
    tokenizer = IdTokenizer(backbone.encode_words, backbone.n_vocab, dataset.n_users, dataset.n_items)
    model = CLLM4Rec(backbone, dataset.n_users, dataset.n_items, int(config["seed"])).to(device)
    with weights_of(run_dir / MODEL):
        model.load_trainable_state(load_torch(run_dir / MODEL, needs=("tables",))["tables"])
    prompts = Prompts(tokenizer, min(int(config["max_len"]), backbone.max_positions))
    return Recommender(model, prompts, items_by_user(dataset), int(config["seed"]), bool(config.get("amp", True)))

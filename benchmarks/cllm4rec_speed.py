"""CLLM4Rec speed on Beauty: seconds per step and tokens/s of the three training steps (L-step, C-step, finetuning),
and the time to predict for all users (one forward pass each, batched), with the default backbone.

Steps run on real Beauty batches (length-bucketed as in training). Prediction is timed on ``--predict-users`` users
and extrapolated to all of them by tokens (``--predict-users 0`` times every user). The last table turns the step
times into the time of one epoch of each pass and of the official full budget (10 warm-up + 100 alternating +
150 finetuning epochs), labelled as estimates.

    python benchmarks/cllm4rec_speed.py --source ../shared/data/beauty [--backbone smollm2] [--layers N]
        [--batch-size 20] [--steps 3] [--predict-users 256] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from llmrec_cli.cllm4rec import backbone as backbones
from llmrec_cli.cllm4rec import train
from llmrec_cli.cllm4rec.predict import Recommender
from llmrec_cli.data import prepare
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.evaluate import rank


def load_beauty(source: Path, workdir: Path) -> Dataset:
    prepare.run(prepare.config_from_recipe("beauty", None, {"source": source}), workdir)
    return Dataset.load(workdir, "beauty")


def make_trainer(ds: Dataset, workdir: Path, args) -> train.Trainer:
    hp = train.resolve_hp({"batch_size": args.batch_size})
    req = train.CLLM4RecRequest(
        dataset="beauty", stage="all", backbone=args.backbone, layers=args.layers, hp=hp, seed=2023, device=args.device
    )
    backbone = backbones.load(args.backbone, args.layers)
    return train.Trainer(ds, req, hp, {}, workdir / "runs" / "cllm4rec-speed", backbone, None)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(trainer: train.Trainer, part: str, steps: int) -> dict:
    """Mean seconds and tokens per step over ``steps`` batches of one pass (after one warm-up step)."""
    phase = "finetune" if part == "rec" else "pretrain"
    closures = trainer._pass_steps(train.Pass(phase, 0, part), np.random.default_rng(0))
    trainer.model.train()
    closures[0]()  # warm-up: allocations, lazy initialisations
    seconds, tokens = [], []
    for step in closures[1 : steps + 1]:
        sync(trainer.device)
        start = time.perf_counter()
        out = step()
        sync(trainer.device)
        seconds.append(time.perf_counter() - start)
        tokens.append(out.get("tokens", float("nan")))
    return {
        "part": part,
        "steps_per_epoch": len(closures),
        "seconds_per_step": float(np.mean(seconds)),
        "tokens_per_step": float(np.mean(tokens)),
    }


def rec_tokens(trainer: train.Trainer, users: np.ndarray) -> int:
    return sum(
        len(s) for s in Recommender(trainer.model, trainer.prompts, trainer.train_items, 2023).prompts_for(users)
    )


def time_prediction(trainer: train.Trainer, ds: Dataset, n_users: int, batch_size: int) -> dict:
    users = np.arange(ds.n_users)
    sample = (
        users
        if n_users <= 0 or n_users >= ds.n_users
        else np.random.default_rng(0).choice(users, n_users, replace=False)
    )
    recommender = Recommender(trainer.model, trainer.prompts, trainer.train_items, 2023)
    exclude = ds.csr("train")
    sync(trainer.device)
    start = time.perf_counter()
    rank.topk_by_score_fn(recommender, torch.from_numpy(sample), exclude, 100, batch_size)
    sync(trainer.device)
    seconds = time.perf_counter() - start
    sample_tokens, all_tokens = rec_tokens(trainer, sample), rec_tokens(trainer, users)
    return {
        "users_timed": int(sample.size),
        "seconds_timed": seconds,
        "tokens_per_second": sample_tokens / seconds,
        "seconds_all_users": seconds * all_tokens / sample_tokens,
        "extrapolated": bool(sample.size < ds.n_users),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("../shared/data/beauty"))
    parser.add_argument("--workdir", type=Path, default=Path("llmrec-work"))
    parser.add_argument("--backbone", default=backbones.DEFAULT_BACKBONE)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=20, help="sequences per step (the official run: 20 per GPU)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--predict-users", type=int, default=256, help="0 = every user")
    parser.add_argument("--eval-batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    console = Console(width=140)
    ds = load_beauty(args.source, args.workdir)
    clock = time.perf_counter()
    trainer = make_trainer(ds, args.workdir, args)
    load_seconds = time.perf_counter() - clock
    bb = trainer.model.backbone
    console.print(
        f"backbone {args.backbone} ({bb.n_layers} layers, "
        f"{bb.hidden_size}-d, vocab {bb.n_vocab}), device {trainer.device}, "
        f"torch threads {torch.get_num_threads()}, "
        f"loaded in {load_seconds:.1f} s; content corpus {trainer.corpus.source}"
    )
    rows = [time_steps(trainer, part, args.steps) for part in ("collab", "content", "rec")]
    prediction = time_prediction(trainer, ds, args.predict_users, args.eval_batch_size)

    table = Table(title=f"CLLM4Rec steps on Beauty, batch {args.batch_size}")
    for col in ("step", "s/step", "tokens/step", "tokens/s", "steps/epoch", "s/epoch (est.)"):
        table.add_column(col, justify="right" if col != "step" else "left")
    names = {
        "collab": "L-step (collaborative LM + MR)",
        "content": "C-step (content LM + MR)",
        "rec": "finetuning (multinomial + MR)",
    }
    for r in rows:
        r["tokens_per_second"] = r["tokens_per_step"] / r["seconds_per_step"]
        r["seconds_per_epoch"] = r["seconds_per_step"] * r["steps_per_epoch"]
        table.add_row(
            names[r["part"]],
            f"{r['seconds_per_step']:.3f}",
            f"{r['tokens_per_step']:,.0f}",
            f"{r['tokens_per_second']:,.0f}",
            str(r["steps_per_epoch"]),
            f"{r['seconds_per_epoch']:,.0f}",
        )
    console.print(table)
    how = (
        f"{prediction['users_timed']} users timed, extrapolated by tokens"
        if prediction["extrapolated"]
        else "all users timed"
    )
    console.print(
        f"prediction, all {ds.n_users:,} users: {prediction['seconds_all_users']:,.1f} s ({how}; "
        f"{prediction['tokens_per_second']:,.0f} prompt tokens/s)"
    )
    by_part = {r["part"]: r["seconds_per_epoch"] for r in rows}
    full = (
        10 * by_part["content"]
        + 100 * (by_part["collab"] + by_part["content"])
        + 150 * (by_part["rec"] + by_part["content"] + prediction["seconds_all_users"] * 0.5)
    )
    console.print(
        f"full official budget (10 + 100 x 2 + 150 x 3 passes), estimated: {full / 3600:,.1f} h on this device "
        "(validation counted as half a full prediction pass: one split's users)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "backbone": args.backbone,
                    "layers": bb.n_layers,
                    "device": str(trainer.device),
                    "batch_size": args.batch_size,
                    "steps": rows,
                    "prediction": prediction,
                    "full_budget_hours_est": full / 3600,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()

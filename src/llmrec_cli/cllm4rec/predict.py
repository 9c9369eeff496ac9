"""One-pass prediction (docs/methods/cllm4rec.md §6): a prompt with the user's whole training history,
log-probabilities for all items.

The item order inside each prompt is a seeded permutation per user (the official code sets no seed; we do, so a
run scores the same every time). Users of one batch are run in length-sorted micro-batches to cut padding.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from llmrec_cli.cllm4rec.data import Prompts
from llmrec_cli.cllm4rec.model import CLLM4Rec
from llmrec_cli.cllm4rec.tokenizer import pad_right

PREDICTION_STREAM = 6  # a fixed sub-stream of the run seed for prompt orders


def prompt_order_rng(seed: int, user: int) -> np.random.Generator:
    return np.random.default_rng([seed, PREDICTION_STREAM, int(user)])


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA only (mixed precision); a no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class Recommender:
    """score_fn for evaluate/rank.py: user ids -> (B, J) log-probabilities (a fresh tensor)."""

    def __init__(
        self,
        model: CLLM4Rec,
        prompts: Prompts,
        train_items: list[np.ndarray],
        seed: int,
        amp: bool = True,
        micro_batch: int = 64,
    ):
        self.model, self.prompts, self.train_items = model, prompts, train_items
        self.seed, self.amp, self.micro_batch = seed, amp, micro_batch

    def prompts_for(self, users: np.ndarray) -> list[list[int]]:
        return [
            self.prompts.recommendation(int(u), prompt_order_rng(self.seed, u).permutation(self.train_items[u]))
            for u in users
        ]

    @torch.no_grad()
    def __call__(self, users: torch.Tensor) -> torch.Tensor:
        device = next(self.model.collab.parameters()).device
        was_training = self.model.training
        self.model.eval()
        sequences = self.prompts_for(users.cpu().numpy())
        order = np.argsort([len(s) for s in sequences], kind="stable")
        scores = torch.empty((len(sequences), self.model.vocab.n_items), device=device)
        for start in range(0, len(order), self.micro_batch):
            rows = order[start : start + self.micro_batch]
            ids, mask = pad_right([sequences[r] for r in rows])
            with autocast(device, self.amp):
                log_probs = self.model.recommendation_log_probs(ids.to(device), mask.to(device))
            scores[torch.from_numpy(rows).to(device)] = log_probs.float()
        self.model.train(was_training)
        return scores

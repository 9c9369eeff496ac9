"""BPR-MF (Rendle et al. 2009): the ID embeddings themselves are the representations, no graph propagation.

Not one of RLMRec's six backbones: the floor every graph backbone should beat, and the smallest example of the
backbone contract (docs/architecture.md, "Adding a backbone"). Con and Gen align its ID embeddings directly.
"""

from __future__ import annotations

import torch

from llmrec_cli.rlmrec.backbones.base import Backbone, Batch, bpr_loss


class MF(Backbone):
    name = "mf"

    def propagate(self, ego: torch.Tensor, training: bool) -> torch.Tensor:
        return ego

    def loss(self, batch: Batch, ego: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {"bpr": bpr_loss(*self.pick(ego, batch))}, ego


BACKBONE = MF

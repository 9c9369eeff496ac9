"""GCCF as run by RLMRec (docs/methods/rlmrec.md §4.1, §9.1): linear propagation without the weight matrix, layers
concatenated.

E^l = A_hat E^{l-1}; final e = concat(E^0, ..., E^L), (L+1)*32 wide. The self-loop graph [[I, R], [R^T, I]] is used
by the Base variant only (docs/methods/rlmrec.md §3.1): the config sets ``self_loops`` true for base, false for con/gen.
"""

from __future__ import annotations

import torch

from llmrec_cli.rlmrec.backbones.base import Backbone, Batch, bpr_loss
from llmrec_cli.rlmrec.graph import Adjacency, InteractionGraph


class GCCF(Backbone):
    name = "gccf"

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__(graph, hp, device)
        self.layers = int(hp["layers"])
        self.adj = Adjacency(graph, self_loops=bool(hp.get("self_loops", False)))

    @property
    def out_dim(self) -> int:
        return (self.layers + 1) * self.dim

    def propagate(self, ego: torch.Tensor, training: bool) -> torch.Tensor:
        layers = [ego]
        for _ in range(self.layers):
            layers.append(self.adj(layers[-1]))
        return torch.cat(layers, dim=1)

    def loss(self, batch: Batch, ego: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        final = self.propagate(ego, training=True)
        return {"bpr": bpr_loss(*self.pick(final, batch))}, final


BACKBONE = GCCF

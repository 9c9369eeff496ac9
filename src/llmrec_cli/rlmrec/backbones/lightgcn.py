"""LightGCN as run by RLMRec (docs/methods/rlmrec.md §4.2, §9.1): layer sum, and edge drop while training.

E^l = A_d E^{l-1} with A_d the normalised adjacency whose entries are kept independently with probability keep_rate
(no renormalisation, no rescaling); one drop per step, shared by all layers. Final e = sum_{l=0..L} E^l.
Evaluation uses the full graph.
"""

from __future__ import annotations

import torch

from llmrec_cli.rlmrec.backbones.base import Backbone, Batch, bpr_loss
from llmrec_cli.rlmrec.graph import Adjacency, InteractionGraph
from llmrec_cli.rlmrec.sparse import SparseOperator


def layer_sum(op: SparseOperator, ego: torch.Tensor, layers: int) -> torch.Tensor:
    """sum_{l=0..L} A^l E^0 for an adjacency operator A."""
    out, h = ego, ego
    for _ in range(layers):
        h = op @ h
        out = out + h
    return out


class LightGCN(Backbone):
    name = "lightgcn"

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__(graph, hp, device)
        self.layers = int(hp["layers"])
        self.keep_rate = float(hp["keep_rate"])
        self.adj = Adjacency(graph)

    def propagate(self, ego: torch.Tensor, training: bool) -> torch.Tensor:
        op = self.adj.drop(self.keep_rate) if training else self.adj.full()
        return layer_sum(op, ego, self.layers)

    def loss(self, batch: Batch, ego: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        final = self.propagate(ego, training=True)
        return {"bpr": bpr_loss(*self.pick(final, batch))}, final


BACKBONE = LightGCN

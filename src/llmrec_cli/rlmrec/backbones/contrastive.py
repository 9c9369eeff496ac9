"""The two-view contrastive LightGCN that SGL and SimGCL share (docs/methods/rlmrec.md §4.3-§4.4).

A clean view (LightGCN layer sum on the full graph) for BPR and scoring, and two augmented views of the same ego
table for the contrastive term (each subclass says how a view is augmented):
L_cl = [InfoNCE(u1, u2, all users of view 2) + InfoNCE(pos1, pos2, all items of view 2)
        (+ InfoNCE(neg1, neg2, all items of view 2) when ``cl_negatives``)] / B, and the loss part is cl_weight * L_cl.
"""

from __future__ import annotations

import torch

from llmrec_cli.rlmrec.backbones.base import Backbone, Batch, bpr_loss, infonce_indexed
from llmrec_cli.rlmrec.backbones.lightgcn import layer_sum
from llmrec_cli.rlmrec.graph import Adjacency, InteractionGraph


class TwoViewContrastive(Backbone):
    """Subclasses set ``name`` and ``cl_negatives`` and implement :meth:`augmented_view`."""

    cl_negatives = True  # whether the negative items get an InfoNCE term too

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__(graph, hp, device)
        self.layers = int(hp["layers"])
        self.cl_weight = float(hp["cl_weight"])
        self.cl_temperature = float(hp["cl_temperature"])
        self.adj = Adjacency(graph)

    def augmented_view(self, ego: torch.Tensor) -> torch.Tensor:
        """One randomly augmented (I+J, d) view for the contrastive term."""
        raise NotImplementedError

    def propagate(self, ego: torch.Tensor, training: bool) -> torch.Tensor:
        """The clean view (no augmentation, also during training)."""
        return layer_sum(self.adj.full(), ego, self.layers)

    def contrastive_loss(self, view1: torch.Tensor, view2: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Sum of the InfoNCE terms; the view-2 positive of each anchor is its own row among the candidates."""
        u1, pos1, neg1 = self.pick(view1, batch)
        users2, items2 = view2[: self.n_users], view2[self.n_users :]
        t = self.cl_temperature
        cl = infonce_indexed(u1, users2, batch.users, t) + infonce_indexed(pos1, items2, batch.pos, t)
        if self.cl_negatives:
            cl = cl + infonce_indexed(neg1, items2, batch.neg, t)
        return cl

    def loss(self, batch: Batch, ego: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        view1, view2 = self.augmented_view(ego), self.augmented_view(ego)
        final = self.propagate(ego, training=True)
        cl = self.contrastive_loss(view1, view2, batch)
        parts = {"bpr": bpr_loss(*self.pick(final, batch)), "cl": self.cl_weight * cl / batch.users.numel()}
        return parts, final

"""SGL with edge-drop augmentation as run by RLMRec (spec §4, §9 #6).

Three LightGCN views of the same ego table: two with independent edge drops (keep_rate) for the contrastive term and
a clean one (full graph) for BPR and scoring.
L_cl = [InfoNCE(u1, u2, all users of view 2) + InfoNCE(pos1, pos2, all items of view 2)
        + InfoNCE(neg1, neg2, all items of view 2)] / B, and the loss part is cl_weight * L_cl.
The official code always runs the top-level 3 layers; here the config passes ``layers`` (3 for every dataset).
"""

from __future__ import annotations

import torch

from llmrec_cli.rlmrec.backbones.base import Backbone, Batch, bpr_loss, infonce_indexed
from llmrec_cli.rlmrec.backbones.lightgcn import layer_sum
from llmrec_cli.rlmrec.graph import Adjacency, InteractionGraph


class SGL(Backbone):
    name = "sgl"

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__(graph, hp, device)
        self.layers = int(hp["layers"])
        self.keep_rate = float(hp["keep_rate"])
        self.cl_weight = float(hp["cl_weight"])
        self.cl_temperature = float(hp["cl_temperature"])
        self.adj = Adjacency(graph)

    def propagate(self, ego: torch.Tensor, training: bool) -> torch.Tensor:
        """The clean view (no edge drop, also during training)."""
        return layer_sum(self.adj.full(), ego, self.layers)

    def loss(self, batch: Batch, ego: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        view1 = layer_sum(self.adj.drop(self.keep_rate), ego, self.layers)
        view2 = layer_sum(self.adj.drop(self.keep_rate), ego, self.layers)
        final = self.propagate(ego, training=True)
        u1, pos1, neg1 = self.pick(view1, batch)
        users2, items2 = view2[: self.n_users], view2[self.n_users :]
        # the view-2 positive of each anchor is its own row among the candidates
        t = self.cl_temperature
        cl = (
            infonce_indexed(u1, users2, batch.users, t)
            + infonce_indexed(pos1, items2, batch.pos, t)
            + infonce_indexed(neg1, items2, batch.neg, t)
        )
        parts = {"bpr": bpr_loss(*self.pick(final, batch)), "cl": self.cl_weight * cl / batch.users.numel()}
        return parts, final

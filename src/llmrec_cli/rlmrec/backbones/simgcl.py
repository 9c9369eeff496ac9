"""SimGCL as run by RLMRec (spec §4).

Perturbed view, per layer: E^l = A_hat E^{l-1}, then E^l <- E^l + eps * rownorm(U) * sign(E^l), U ~ Uniform[0, 1);
the perturbed E^l feeds the next layer; final = sum_{l=0..L} E^l (layer 0 unperturbed). Two perturbed views and one
clean view (full graph, no noise) for BPR and scoring.
L_cl = [InfoNCE(u1, u2, all users of view 2) + InfoNCE(pos1, pos2, all items of view 2)] / B (no negative term),
and the loss part is cl_weight * L_cl.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.base import Backbone, Batch, bpr_loss, infonce_indexed
from llmrec_cli.rlmrec.backbones.lightgcn import layer_sum
from llmrec_cli.rlmrec.graph import Adjacency, InteractionGraph


def perturb(h: torch.Tensor, eps: float) -> torch.Tensor:
    """h + eps * rownorm(U) * sign(h): a noise vector of length eps (on h's non-zero coordinates) in h's orthant."""
    noise = F.normalize(torch.rand(h.shape, device=h.device, dtype=h.dtype), dim=1)
    return h + eps * noise * torch.sign(h)


class SimGCL(Backbone):
    name = "simgcl"

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__(graph, hp, device)
        self.layers = int(hp["layers"])
        self.eps = float(hp["eps"])
        self.cl_weight = float(hp["cl_weight"])
        self.cl_temperature = float(hp["cl_temperature"])
        self.adj = Adjacency(graph)

    def propagate(self, ego: torch.Tensor, training: bool) -> torch.Tensor:
        """The clean view (no noise, also during training)."""
        return layer_sum(self.adj.full(), ego, self.layers)

    def perturbed(self, ego: torch.Tensor) -> torch.Tensor:
        out, h = ego, ego
        for _ in range(self.layers):
            h = perturb(self.adj(h), self.eps)
            out = out + h
        return out

    def loss(self, batch: Batch, ego: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        view1, view2 = self.perturbed(ego), self.perturbed(ego)
        final = self.propagate(ego, training=True)
        u1, pos1, _ = self.pick(view1, batch)
        users2, items2 = view2[: self.n_users], view2[self.n_users :]
        # the view-2 positive of each anchor is its own row among the candidates
        t = self.cl_temperature
        cl = infonce_indexed(u1, users2, batch.users, t) + infonce_indexed(pos1, items2, batch.pos, t)
        parts = {"bpr": bpr_loss(*self.pick(final, batch)), "cl": self.cl_weight * cl / batch.users.numel()}
        return parts, final

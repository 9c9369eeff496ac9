"""SimGCL as run by RLMRec (docs/methods/rlmrec.md §4.4).

Perturbed view, per layer: E^l = A_hat E^{l-1}, then E^l <- E^l + eps * rownorm(U) * sign(E^l), U ~ Uniform[0, 1);
the perturbed E^l feeds the next layer; final = sum_{l=0..L} E^l (layer 0 unperturbed). Two perturbed views and one
clean view (full graph, no noise) for BPR and scoring (backbones/contrastive.py).
L_cl = [InfoNCE(u1, u2, all users of view 2) + InfoNCE(pos1, pos2, all items of view 2)] / B (no negative term),
and the loss part is cl_weight * L_cl.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.contrastive import TwoViewContrastive
from llmrec_cli.rlmrec.graph import InteractionGraph


def perturb(h: torch.Tensor, eps: float) -> torch.Tensor:
    """h + eps * rownorm(U) * sign(h): a noise vector of length eps (on h's non-zero coordinates) in h's orthant."""
    noise = F.normalize(torch.rand(h.shape, device=h.device, dtype=h.dtype), dim=1)
    return h + eps * noise * torch.sign(h)


class SimGCL(TwoViewContrastive):
    name = "simgcl"
    cl_negatives = False

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__(graph, hp, device)
        self.eps = float(hp["eps"])

    def perturbed(self, ego: torch.Tensor) -> torch.Tensor:
        out, h = ego, ego
        for _ in range(self.layers):
            h = perturb(self.adj(h), self.eps)
            out = out + h
        return out

    def augmented_view(self, ego: torch.Tensor) -> torch.Tensor:
        return self.perturbed(ego)


BACKBONE = SimGCL

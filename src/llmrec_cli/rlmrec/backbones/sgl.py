"""SGL with edge-drop augmentation as run by RLMRec (docs/methods/rlmrec.md §4.3, §9.1).

Three LightGCN views of the same ego table: two with independent edge drops (keep_rate) for the contrastive term and
a clean one (full graph) for BPR and scoring (backbones/contrastive.py).
L_cl = [InfoNCE(u1, u2, all users of view 2) + InfoNCE(pos1, pos2, all items of view 2)
        + InfoNCE(neg1, neg2, all items of view 2)] / B, and the loss part is cl_weight * L_cl.
The official code always runs the top-level 3 layers; here the config passes ``layers`` (3 for every dataset).
"""

from __future__ import annotations

import torch

from llmrec_cli.rlmrec.backbones.contrastive import TwoViewContrastive
from llmrec_cli.rlmrec.backbones.lightgcn import layer_sum
from llmrec_cli.rlmrec.graph import InteractionGraph


class SGL(TwoViewContrastive):
    name = "sgl"
    cl_negatives = True

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__(graph, hp, device)
        self.keep_rate = float(hp["keep_rate"])

    def augmented_view(self, ego: torch.Tensor) -> torch.Tensor:
        """LightGCN on an independently edge-dropped copy of the graph."""
        return layer_sum(self.adj.drop(self.keep_rate), ego, self.layers)


BACKBONE = SGL

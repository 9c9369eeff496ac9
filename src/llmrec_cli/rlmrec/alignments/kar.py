"""KAR baseline (docs/methods/rlmrec.md §7.2; Xi et al. 2023) on the same semantic vectors as RLMRec.

Knowledge adaptation: a hybrid-expert adaptor turns each fixed semantic vector into an augmented vector. Shared
experts serve users and items; users also have preference experts and items factual experts; a softmax gate per
side (computed from the semantic vector) mixes its side's experts. Every expert and gate is an MLP.
Knowledge utilisation: the augmented vector is concatenated with the entity's ID embedding, and that wider ego
table is what the backbone propagates (so KAR suits backbones whose propagation has no width-specific weights:
LightGCN, SGL, GCCF, SimGCL; a backbone offers it by a [kar] section in its config, LightGCN's and SGL's today).
The RLMRec issue thread is cut after "and then"; these are our choices: 2 shared + 2 side-specific experts, hidden
width 256, augmented width equal to the ID width (32).
"""

from __future__ import annotations

import torch
from torch import nn

from llmrec_cli.rlmrec.alignments.base import Alignment, Semantic


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(d_in, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, d_out))
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
    return net


class KARAdapter(Alignment):
    name = "kar"
    needs_embeddings = True

    def __init__(self, sem_dim: int, hp: dict):
        super().__init__()
        hidden, out = int(hp.get("kar_hidden", 256)), int(hp.get("kar_dim", hp.get("embedding_dim", 32)))
        n_shared, n_side = int(hp.get("kar_shared_experts", 2)), int(hp.get("kar_side_experts", 2))
        self.out_dim = out
        self.shared = nn.ModuleList(_mlp(sem_dim, hidden, out) for _ in range(n_shared))
        self.user_experts = nn.ModuleList(_mlp(sem_dim, hidden, out) for _ in range(n_side))
        self.item_experts = nn.ModuleList(_mlp(sem_dim, hidden, out) for _ in range(n_side))
        self.user_gate = nn.Linear(sem_dim, n_shared + n_side)
        self.item_gate = nn.Linear(sem_dim, n_shared + n_side)
        nn.init.xavier_uniform_(self.user_gate.weight)
        nn.init.xavier_uniform_(self.item_gate.weight)

    @staticmethod
    def _mix(sem: torch.Tensor, experts: list[nn.Module], gate: nn.Linear) -> torch.Tensor:
        outputs = torch.stack([expert(sem) for expert in experts], dim=1)  # (n, experts, out)
        weights = torch.softmax(gate(sem), dim=-1).unsqueeze(-1)  # (n, experts, 1)
        return (weights * outputs).sum(dim=1)

    def forward(self, sem_users: torch.Tensor, sem_items: torch.Tensor) -> torch.Tensor:
        """The (I+J, out) augmented table, users first, matching the backbone's ego layout."""
        users = self._mix(sem_users, [*self.shared, *self.user_experts], self.user_gate)
        items = self._mix(sem_items, [*self.shared, *self.item_experts], self.item_gate)
        return torch.cat([users, items], dim=0)

    @classmethod
    def build(cls, hp: dict, *, ego_dim: int, out_dim: int, sem_dim: int) -> "KARAdapter":
        return cls(sem_dim, hp)

    def ego(self, ego: torch.Tensor, sem: Semantic) -> torch.Tensor:
        """The ID table with the augmented semantic vectors as extra columns."""
        return torch.cat([ego, self(sem.users, sem.items)], dim=1)


ALIGNMENT = KARAdapter

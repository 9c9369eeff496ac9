"""The user-item interaction graph and its symmetric normalised adjacency (RLMRec spec §3.1).

Nodes are users 0..I-1 followed by items I..I+J-1. A = [[0, R], [R^T, 0]] (binary), A_hat = D^-1/2 A D^-1/2 with
D the row degree (zero degree -> 0). GCCF base adds self-loops: [[I, R], [R^T, I]], counted in the degree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class InteractionGraph:
    n_users: int
    n_items: int
    users: torch.Tensor  # int64 (nnz,) training edges, deduplicated
    items: torch.Tensor  # int64 (nnz,)

    @classmethod
    def from_arrays(cls, users, items, n_users: int, n_items: int) -> "InteractionGraph":
        u = torch.as_tensor(np.asarray(users), dtype=torch.int64)
        i = torch.as_tensor(np.asarray(items), dtype=torch.int64)
        key = torch.unique(u * n_items + i)  # binarise duplicates, sorted by (user, item)
        return cls(n_users, n_items, key // n_items, key % n_items)

    @property
    def n_nodes(self) -> int:
        return self.n_users + self.n_items

    @property
    def n_edges(self) -> int:
        return int(self.users.numel())

    def edge_index(self, self_loops: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Row and column indices of the symmetric adjacency (both directions, optional self-loops)."""
        rows = torch.cat([self.users, self.items + self.n_users])
        cols = torch.cat([self.items + self.n_users, self.users])
        if self_loops:
            loop = torch.arange(self.n_nodes)
            rows, cols = torch.cat([rows, loop]), torch.cat([cols, loop])
        return rows, cols

    def norm_adj(self, self_loops: bool = False, device: str | torch.device = "cpu") -> torch.Tensor:
        """D^-1/2 A D^-1/2 as a sparse CSR float32 tensor of shape (I+J, I+J)."""
        rows, cols = self.edge_index(self_loops)
        return normalised_adjacency(rows, cols, self.n_nodes, device)

    def train_csr(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """The binary I x J training matrix R as sparse CSR (masks training items at evaluation time)."""
        values = torch.ones(self.n_edges, dtype=torch.float32)
        coo = torch.sparse_coo_tensor(torch.stack([self.users, self.items]), values, (self.n_users, self.n_items))
        return coo.coalesce().to_sparse_csr().to(device)


def normalised_adjacency(rows: torch.Tensor, cols: torch.Tensor, n: int, device="cpu", values=None) -> torch.Tensor:
    """Symmetric normalisation of the (n x n) graph with the given edges: value(r,c) = w / sqrt(deg_r deg_c)."""
    w = torch.ones(rows.numel(), dtype=torch.float32) if values is None else values.float().cpu()
    deg = torch.zeros(n, dtype=torch.float32).index_add_(0, rows.cpu(), w)
    inv_sqrt = torch.where(deg > 0, deg.clamp(min=1e-12).pow(-0.5), torch.zeros_like(deg))
    vals = w * inv_sqrt[rows.cpu()] * inv_sqrt[cols.cpu()]
    coo = torch.sparse_coo_tensor(torch.stack([rows.cpu(), cols.cpu()]), vals, (n, n)).coalesce()
    return coo.to_sparse_csr().to(device)


def drop_edges(adj: torch.Tensor, keep_rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Keep each stored entry of a CSR adjacency with probability ``keep_rate``; no renormalisation or rescaling
    (RLMRec's LightGCN/SGL edge drop, spec §4)."""
    if keep_rate >= 1.0:
        return adj
    values = adj.values()
    keep = torch.rand(values.shape, generator=generator, device=values.device) < keep_rate
    coo = adj.to_sparse_coo()
    idx = coo.indices()[:, keep]
    out = torch.sparse_coo_tensor(idx, coo.values()[keep], adj.shape, is_coalesced=True)
    return out.to_sparse_csr()

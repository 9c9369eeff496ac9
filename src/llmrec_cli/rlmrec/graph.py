"""The user-item interaction graph and its symmetric normalised adjacency (docs/methods/rlmrec.md §3.1).

Nodes are users 0..I-1 followed by items I..I+J-1. A = [[0, R], [R^T, 0]] (binary), A_hat = D^-1/2 A D^-1/2 with
D the row degree (zero degree -> 0). GCCF base adds self-loops: [[I, R], [R^T, I]], counted in the degree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from llmrec_cli.rlmrec.sparse import EdgePattern, SparseOperator


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
    coo = torch.sparse_coo_tensor(torch.stack([rows.cpu(), cols.cpu()]), vals, (n, n), check_invariants=False)
    coo = coo.coalesce()
    return coo.to_sparse_csr().to(device)


def drop_edges(adj: torch.Tensor, keep_rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Keep each stored entry of a CSR adjacency with probability ``keep_rate``; no renormalisation or rescaling
    (RLMRec's LightGCN/SGL edge drop, docs/methods/rlmrec.md §4.2)."""
    if keep_rate >= 1.0:
        return adj
    keep = torch.rand(adj.values().shape, generator=generator, device=adj.device) < keep_rate
    return _keep_entries(adj.crow_indices(), adj.col_indices(), adj.values(), keep, adj.shape)


def _keep_entries(crow, col, val, keep, shape) -> torch.Tensor:
    """The CSR matrix made of the entries where ``keep`` is true, built from crow/col directly (no COO round trip):
    row r's new start is the number of kept entries before its old start."""
    kept_before = torch.cat([keep.new_zeros(1, dtype=crow.dtype), torch.cumsum(keep, 0, dtype=crow.dtype)])
    return torch.sparse_csr_tensor(kept_before[crow], col[keep], val[keep], shape, check_invariants=False)


class Adjacency(nn.Module):
    """The normalised adjacency of a graph as module buffers (it moves with ``.to(device)``), with the fast
    propagation and edge drop the LightGCN-family backbones need.

    Operators are :class:`~llmrec_cli.rlmrec.sparse.SparseOperator` s (``op @ x``). A is symmetric (structure and
    values), so on the full graph A^T = A. An edge-dropped copy drops entries independently
    (docs/methods/rlmrec.md §4.2), so it is not symmetric; it keeps A's CSR structure with the dropped values set to
    zero, which makes its transpose a gather of the same keep mask through ``perm`` (the position of entry (c, r) for
    the entry (r, c)). On CPU this is ~4x cheaper than compacting both matrices, and the products cost the same.
    """

    def __init__(self, graph: InteractionGraph, self_loops: bool = False):
        super().__init__()
        adj = graph.norm_adj(self_loops)
        crow, col, val = adj.crow_indices(), adj.col_indices(), adj.values()
        row = torch.repeat_interleave(torch.arange(adj.shape[0]), crow.diff())
        self.n = adj.shape[0]
        perm = torch.searchsorted(row * self.n + col, col * self.n + row)  # CSR order is sorted by (row, col)
        index = torch.int32 if val.numel() < 2**31 else torch.int64  # int64 indices are converted on every product
        self.register_buffer("rows", row.to(index), persistent=False)
        self.register_buffer("cols", col.to(index), persistent=False)
        self.register_buffer("crow", crow.to(index), persistent=False)
        self.register_buffer("perm", perm, persistent=False)
        self.register_buffer("val", val, persistent=False)

    def pattern(self) -> EdgePattern:
        """A's edge pattern on the current device."""
        return EdgePattern(self.rows, self.cols, self.crow, self.perm, self.n)

    def csr(self, values: torch.Tensor | None = None) -> torch.Tensor:
        """A (or A's structure with other values) as a CSR tensor."""
        return self.pattern().csr(self.val if values is None else values)

    def full(self) -> SparseOperator:
        """The operator A of the whole graph (symmetric: A^T = A)."""
        return SparseOperator(self.pattern(), self.val, self.val)

    def drop(self, keep_rate: float, generator: torch.Generator | None = None) -> SparseOperator:
        """A_d: every stored entry kept with probability keep_rate, values not rescaled (docs/methods/rlmrec.md §4.2);
        dropped entries are stored zeros."""
        if keep_rate >= 1.0:
            return self.full()
        keep = torch.rand(self.val.shape, generator=generator, device=self.val.device) < keep_rate
        return SparseOperator(self.pattern(), self.val * keep, self.val * keep[self.perm])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A x on the whole graph."""
        return self.full() @ x

"""Sparse kernels of the graph backbones: one sparse-dense product with a hand-written backward, and per-edge dot
products, on a symmetric edge pattern.

Every graph the backbones use (A_hat, an edge-dropped copy of it, DCCF's adaptive graphs, AutoCF's encoder and
decoder graphs) lives on a sorted, duplicate-free, symmetric edge pattern, so the transpose of any weighting of it
is the same CSR structure with permuted values. That gives a spmm whose backward is one more CSR spmm: torch's own
backward for CSR @ dense is about 10x slower than the forward on the CPU (a COO->CSR conversion and a per-edge
gather of d-wide rows), which would dominate a LightGCN step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable


class EdgePattern:
    """A symmetric sparsity pattern on n nodes: edges sorted by (row, col) without duplicates, the CSR row pointer,
    and ``perm`` mapping edge e = (r, c) to the index of its reverse edge (c, r)."""

    def __init__(self, rows: torch.Tensor, cols: torch.Tensor, crow: torch.Tensor, perm: torch.Tensor, n: int):
        self.rows, self.cols, self.crow, self.perm, self.n = rows, cols, crow, perm, n

    @classmethod
    def from_sorted(cls, rows: torch.Tensor, cols: torch.Tensor, n: int) -> "EdgePattern":
        """Pattern from edges already sorted by (row, col) and unique; raises if it is not symmetric."""
        keys = rows * n + cols
        counts = torch.bincount(rows, minlength=n)
        crow = torch.zeros(n + 1, dtype=torch.int64, device=rows.device)
        crow[1:] = torch.cumsum(counts, 0)
        reverse = cols * n + rows
        perm = torch.searchsorted(keys, reverse).clamp_(max=max(keys.numel() - 1, 0))
        if keys.numel() and not bool((keys[perm] == reverse).all()):
            raise ValueError("EdgePattern needs a symmetric edge set")
        return cls(rows, cols, crow, perm, n)

    @classmethod
    def from_keys(cls, keys: torch.Tensor, n: int) -> "EdgePattern":
        """Pattern from (possibly repeated, unsorted) keys row * n + col."""
        keys = torch.unique(keys)  # sorted
        return cls.from_sorted(keys // n, keys % n, n)

    @property
    def nnz(self) -> int:
        return int(self.rows.numel())

    def to(self, device) -> "EdgePattern":
        moved = (t.to(device) for t in (self.rows, self.cols, self.crow, self.perm))
        return EdgePattern(*moved, self.n)

    def csr(self, values: torch.Tensor) -> torch.Tensor:
        """The n x n sparse CSR matrix with ``values`` (one per edge, in pattern order)."""
        return torch.sparse_csr_tensor(self.crow, self.cols, values, (self.n, self.n), check_invariants=False)


def _mm(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """adj @ x. On CPU, ``adj @ x`` zero-fills a result and copies it out; addmm with beta=0 writes into an empty
    tensor instead (about a third faster at RLMRec's sizes)."""
    if x.device.type != "cpu":
        return adj @ x
    out = x.new_empty(adj.shape[0], x.shape[1])
    return torch.addmm(out, adj, x, beta=0.0, out=out)


def _edge_dot_kernel(pattern: EdgePattern, a: torch.Tensor, b: torch.Tensor, sampled: bool | None) -> torch.Tensor:
    """<a[r_e], b[c_e]> for every edge, no autograd. On the CPU torch's sampled_addmm avoids materialising two
    (nnz x d) gathers; elsewhere (CUDA) the gathers are cheap and the most portable choice."""
    if sampled is None:
        sampled = a.device.type == "cpu"
    if sampled:
        zeros = pattern.csr(a.new_zeros(pattern.nnz))
        return torch.sparse.sampled_addmm(zeros, a.contiguous(), b.contiguous().T, beta=0.0).values()
    return (a[pattern.rows] * b[pattern.cols]).sum(-1)


class _EdgeDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, pattern, sampled):
        ctx.pattern = pattern
        ctx.save_for_backward(a, b)
        return _edge_dot_kernel(pattern, a, b, sampled)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        p = ctx.pattern
        grad = grad.contiguous()
        ga = torch.sparse.mm(p.csr(grad), b) if ctx.needs_input_grad[0] else None
        gb = torch.sparse.mm(p.csr(grad[p.perm]), a) if ctx.needs_input_grad[1] else None
        return ga, gb, None, None


class _SpMM(torch.autograd.Function):
    """y = M x with M = pattern.csr(values); dx = M^T dy (the pattern with the transposed values), d values_e =
    <dy[r_e], x[c_e]>. x is kept for backward only when the values need a gradient."""

    @staticmethod
    def forward(ctx, values, x, transposed_values, pattern, sampled):
        ctx.pattern, ctx.sampled = pattern, sampled
        ctx.save_for_backward(values, x if ctx.needs_input_grad[0] else None, transposed_values)
        return _mm(pattern.csr(values), x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        values, x, transposed_values = ctx.saved_tensors
        p = ctx.pattern
        grad = grad.contiguous()
        gv = _edge_dot_kernel(p, grad, x, ctx.sampled) if ctx.needs_input_grad[0] else None
        if ctx.needs_input_grad[1]:
            transposed = values[p.perm] if transposed_values is None else transposed_values
            gx = _mm(p.csr(transposed), grad)
        else:
            gx = None
        return gv, gx, None, None, None


def edge_dot(pattern: EdgePattern, a: torch.Tensor, b: torch.Tensor, sampled: bool | None = None) -> torch.Tensor:
    """Differentiable per-edge scores <a[r_e], b[c_e]> (nnz,)."""
    return _EdgeDot.apply(a, b, pattern, sampled)


def spmm(
    pattern: EdgePattern,
    values: torch.Tensor,
    x: torch.Tensor,
    sampled: bool | None = None,
    transposed_values: torch.Tensor | None = None,
) -> torch.Tensor:
    """Differentiable (in both ``values`` and ``x``) product M x with M[r_e, c_e] = values[e].

    ``transposed_values`` (the values of M^T, i.e. values[pattern.perm]) saves that gather in the backward when the
    caller already has them, e.g. ``values`` itself for a symmetric M."""
    return _SpMM.apply(values, x.contiguous(), transposed_values, pattern, sampled)


@dataclass(frozen=True)
class SparseOperator:
    """A sparse matrix M on a symmetric pattern, with the values of M^T: ``op @ x`` is :func:`spmm`."""

    pattern: EdgePattern
    values: torch.Tensor
    transposed_values: torch.Tensor

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        return spmm(self.pattern, self.values, x, transposed_values=self.transposed_values)

    def matrix(self) -> torch.Tensor:
        """M as a sparse CSR tensor."""
        return self.pattern.csr(self.values)

    def transposed(self) -> torch.Tensor:
        """M^T as a sparse CSR tensor (the same structure, permuted values)."""
        return self.pattern.csr(self.transposed_values)

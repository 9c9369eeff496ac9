"""The sparse kernels of the graph backbones (spmm, edge_dot, EdgePattern, SparseOperator) against dense references."""

import pytest
import torch

from llmrec_cli.rlmrec.sparse import EdgePattern, SparseOperator, edge_dot, spmm


def graph_pattern(graph) -> EdgePattern:
    rows, cols = graph.edge_index()
    return EdgePattern.from_keys(rows * graph.n_nodes + cols, graph.n_nodes)


def dense(pattern: EdgePattern, values: torch.Tensor) -> torch.Tensor:
    return torch.zeros(pattern.n, pattern.n).index_put((pattern.rows, pattern.cols), values)


@pytest.mark.parametrize("sampled", [True, False])
def test_sparse_kernels_match_dense(toy_graph, sampled):
    """spmm / edge_dot values and gradients, on both kernels (sampled_addmm: CPU default; gathers: CUDA default)."""
    pattern = graph_pattern(toy_graph)
    n = pattern.n
    torch.manual_seed(3)
    vals = torch.rand(pattern.nnz, requires_grad=True)
    x = torch.randn(n, 5, requires_grad=True)
    y = torch.randn(n, 5, requires_grad=True)
    w = torch.randn(n, 5)
    out = (spmm(pattern, vals, x, sampled) * w).sum() + (edge_dot(pattern, x, y, sampled) * vals).sum()
    grads = torch.autograd.grad(out, [vals, x, y])
    ref = (dense(pattern, vals) @ x * w).sum() + ((x @ y.T)[pattern.rows, pattern.cols] * vals).sum()
    ref_grads = torch.autograd.grad(ref, [vals, x, y])
    torch.testing.assert_close(out, ref)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want)


def test_given_transposed_values_give_the_same_gradient(toy_graph):
    pattern = graph_pattern(toy_graph)
    torch.manual_seed(4)
    vals = torch.rand(pattern.nnz)
    x = torch.randn(pattern.n, 3, requires_grad=True)
    w = torch.randn(pattern.n, 3)
    (grad_gathered,) = torch.autograd.grad((spmm(pattern, vals, x) * w).sum(), [x])
    (grad_given,) = torch.autograd.grad((spmm(pattern, vals, x, transposed_values=vals[pattern.perm]) * w).sum(), [x])
    torch.testing.assert_close(grad_given, grad_gathered)
    torch.testing.assert_close(grad_given, dense(pattern, vals).T @ w)


def test_sparse_operator_is_its_matrix_and_transpose(toy_graph):
    pattern = graph_pattern(toy_graph)
    torch.manual_seed(5)
    vals = torch.rand(pattern.nnz)
    op = SparseOperator(pattern, vals, vals[pattern.perm])
    x = torch.randn(pattern.n, 2)
    torch.testing.assert_close(op @ x, dense(pattern, vals) @ x)
    torch.testing.assert_close(op.matrix().to_dense(), dense(pattern, vals))
    torch.testing.assert_close(op.transposed().to_dense(), dense(pattern, vals).T)


def test_edge_pattern_is_sorted_and_rejects_asymmetric_edges():
    pattern = EdgePattern.from_keys(torch.tensor([1 * 3 + 0, 0 * 3 + 1, 0 * 3 + 1]), 3)
    assert pattern.rows.tolist() == [0, 1] and pattern.cols.tolist() == [1, 0] and pattern.perm.tolist() == [1, 0]
    assert pattern.crow.tolist() == [0, 1, 2, 2]
    with pytest.raises(ValueError):
        EdgePattern.from_keys(torch.tensor([0 * 3 + 1]), 3)

"""The normalised adjacency, edge drop and its operators (products and gradients)
(docs/methods/rlmrec.md §3.1, §4.2)."""

import math

import torch

from llmrec_cli.rlmrec.graph import Adjacency, InteractionGraph, drop_edges

# 2 users x 3 items, R = [[1, 1, 0], [0, 1, 1]]; nodes u0 u1 i0 i1 i2
R_USERS, R_ITEMS = [0, 0, 1, 1], [0, 1, 1, 2]


def small_graph() -> InteractionGraph:
    return InteractionGraph.from_arrays(R_USERS, R_ITEMS, 2, 3)


def random_graph(n_users=60, n_items=80, n_edges=900, seed=0) -> InteractionGraph:
    g = torch.Generator().manual_seed(seed)
    return InteractionGraph.from_arrays(
        torch.randint(0, n_users, (n_edges,), generator=g),
        torch.randint(0, n_items, (n_edges,), generator=g),
        n_users,
        n_items,
    )


def test_norm_adj_without_self_loops_by_hand():
    # degrees: u0 2, u1 2, i0 1, i1 2, i2 1; entry (r, c) = 1 / sqrt(d_r d_c)
    a, h = 1 / math.sqrt(2), 0.5
    expected = torch.tensor(
        [
            [0, 0, a, h, 0],
            [0, 0, 0, h, a],
            [a, 0, 0, 0, 0],
            [h, h, 0, 0, 0],
            [0, a, 0, 0, 0],
        ]
    )
    got = small_graph().norm_adj(self_loops=False)
    assert got.layout == torch.sparse_csr
    torch.testing.assert_close(got.to_dense(), expected)


def test_norm_adj_with_self_loops_by_hand():
    # [[I, R], [R^T, I]]: degrees u0 3, u1 3, i0 2, i1 3, i2 2
    t, s, q = 1 / 3, 1 / math.sqrt(6), 1 / 2
    expected = torch.tensor(
        [
            [t, 0, s, t, 0],
            [0, t, 0, t, s],
            [s, 0, q, 0, 0],
            [t, t, 0, t, 0],
            [0, s, 0, 0, q],
        ]
    )
    torch.testing.assert_close(small_graph().norm_adj(self_loops=True).to_dense(), expected)


def test_duplicate_interactions_are_binarised():
    g = InteractionGraph.from_arrays(R_USERS + [0, 1], R_ITEMS + [1, 2], 2, 3)
    assert g.n_edges == 4
    torch.testing.assert_close(g.norm_adj().to_dense(), small_graph().norm_adj().to_dense())


def test_isolated_node_has_zero_row():
    g = InteractionGraph.from_arrays([0], [0], 2, 2)  # user 1 and item 1 have no interactions
    dense = g.norm_adj().to_dense()
    assert dense[1].abs().sum() == 0 and dense[3].abs().sum() == 0
    assert dense[0, 2] == 1.0


def test_adjacency_product_and_gradient_match_dense():
    g = random_graph()
    adj = Adjacency(g)
    dense = g.norm_adj().to_dense()
    x = torch.randn(g.n_nodes, 4, requires_grad=True)
    w = torch.randn(g.n_nodes, 4)
    (adj(x) * w).sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    (dense @ x_ref * w).sum().backward()
    torch.testing.assert_close(adj(x), dense @ x.detach())
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_adjacency_buffers_are_not_checkpointed():
    adj = Adjacency(small_graph())
    assert {name for name, _ in adj.named_buffers()} == {"rows", "cols", "crow", "perm", "val"}
    assert adj.state_dict() == {}


def test_drop_keeps_about_keep_rate_without_rescaling():
    g = random_graph(n_users=200, n_items=300, n_edges=4000)
    adj = Adjacency(g)
    full = adj.csr().to_dense()
    torch.manual_seed(0)
    dropped = adj.drop(0.8)
    kept = dropped.matrix().to_dense()
    n_entries = int((full != 0).sum())
    frac = float((kept != 0).sum()) / n_entries
    assert abs(frac - 0.8) < 0.02  # ~7,900 entries: the standard deviation of the fraction is 0.0045
    nonzero = kept != 0
    torch.testing.assert_close(kept[nonzero], full[nonzero])  # values are not rescaled or renormalised
    # entries drop independently (so A_d is not symmetric), and the second operator is its exact transpose
    assert not torch.equal(kept, kept.T)
    torch.testing.assert_close(dropped.transposed().to_dense(), kept.T)


def test_dropped_product_gradient_matches_dense():
    g = random_graph()
    adj = Adjacency(g)
    torch.manual_seed(1)
    op = adj.drop(0.5)
    dense = op.matrix().to_dense()
    x = torch.randn(g.n_nodes, 3, requires_grad=True)
    w = torch.randn(g.n_nodes, 3)
    (op @ (op @ x) * w).sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    (dense @ (dense @ x_ref) * w).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_drop_with_keep_rate_one_is_the_full_graph():
    adj = Adjacency(small_graph())
    op = adj.drop(1.0)
    torch.testing.assert_close(op.matrix().to_dense(), adj.csr().to_dense())
    torch.testing.assert_close(op.transposed().to_dense(), adj.csr().to_dense())


def test_drop_edges_function_compacts():
    g = random_graph(n_users=200, n_items=300, n_edges=4000)
    full = g.norm_adj()
    torch.manual_seed(0)
    dropped = drop_edges(full, 0.8)
    assert abs(dropped._nnz() / full._nnz() - 0.8) < 0.02
    kept = dropped.to_dense()
    mask = kept != 0
    assert int(mask.sum()) == dropped._nnz()
    torch.testing.assert_close(kept[mask], full.to_dense()[mask])
    assert drop_edges(full, 1.0) is full

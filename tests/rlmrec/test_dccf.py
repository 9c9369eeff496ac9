"""DCCF backbone and the kernels it shares with AutoCF (docs/methods/rlmrec.md §4.5), checked against dense
references."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.base import Batch, bpr_loss, infonce
from llmrec_cli.rlmrec.backbones.dccf import DCCF, adaptive_weights, infonce_same_set, row_logsumexp
from llmrec_cli.rlmrec.graph import InteractionGraph
from llmrec_cli.rlmrec.sparse import EdgePattern

HP = {"layers": 2, "intent_num": 8, "cl_weight": 0.1, "cl_temperature": 0.2, "embedding_dim": 32}


def tiny_graph(n_users=6, n_items=7, n_edges=20, seed=0) -> InteractionGraph:
    g = torch.Generator().manual_seed(seed)
    users = torch.cat([torch.arange(n_users), torch.randint(0, n_users, (n_edges,), generator=g)])
    items = torch.cat([torch.arange(n_users) % n_items, torch.randint(0, n_items, (n_edges,), generator=g)])
    return InteractionGraph.from_arrays(users.numpy(), items.numpy(), n_users, n_items)


def tiny_batch() -> Batch:
    return Batch(torch.tensor([0, 1, 1, 4, 5]), torch.tensor([0, 1, 3, 4, 6]), torch.tensor([2, 5, 6, 0, 1]))


def dense_adjacency(graph: InteractionGraph) -> torch.Tensor:
    a = torch.zeros(graph.n_nodes, graph.n_nodes)
    rows, cols = graph.edge_index()
    a[rows, cols] = 1.0
    return a


def dense_adaptive(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reference: alpha = (cos + 1)/2 on the edges of a, divided by the row sum."""
    xn = F.normalize(x, dim=1)
    alpha = (xn @ xn.T + 1) / 2 * a
    return alpha / alpha.sum(1, keepdim=True).clamp_min(1e-30)


def dense_dccf(model: DCCF, ego: torch.Tensor, batch: Batch):
    """The official forward and loss written with dense matrices (docs/methods/rlmrec.md §4.5)."""
    a = dense_adjacency(model.graph)
    d = a.sum(1).clamp_min(1).pow(-0.5)
    g = d[:, None] * a * d[None, :]
    nu = model.n_users
    embeds, cl = [ego], 0.0
    users, items = torch.unique(batch.users), torch.unique(batch.pos) + nu
    for _ in range(model.layers):
        e = embeds[-1]
        gnn = g @ e
        intent = torch.cat(
            [
                torch.softmax(e[:nu] @ model.user_intent, 1) @ model.user_intent.T,
                torch.softmax(e[nu:] @ model.item_intent, 1) @ model.item_intent.T,
            ]
        )
        gaa = dense_adaptive(a, gnn) @ e
        iaa = dense_adaptive(a, intent) @ e
        for nodes in (users, items):
            for view in (intent, gaa, iaa):
                cl = cl + infonce(gnn[nodes], view[nodes], view[nodes], model.temperature) / users.numel()
        embeds.append(gnn + intent + gaa + iaa + e)
    final = sum(embeds)
    bpr = bpr_loss(final[batch.users], final[batch.pos + nu], final[batch.neg + nu])
    return final, bpr, cl


def test_loss_shapes_finite_and_gradients_reach_all_parameters():
    torch.manual_seed(0)
    model = DCCF(tiny_graph(), HP)
    parts, final = model.loss(tiny_batch(), model.ego())
    assert set(parts) == {"bpr", "cl"}
    assert final.shape == (model.graph.n_nodes, 32)
    assert all(torch.isfinite(v) for v in parts.values())
    sum(parts.values()).backward()
    for name in ("user_emb", "item_emb", "user_intent", "item_intent"):
        grad = getattr(model, name).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_forward_and_loss_match_dense_reference():
    torch.manual_seed(1)
    model = DCCF(tiny_graph(), HP)
    batch = tiny_batch()
    parts, final = model.loss(batch, model.ego())
    ref_final, ref_bpr, ref_cl = dense_dccf(model, model.ego(), batch)
    torch.testing.assert_close(final, ref_final, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(parts["bpr"], ref_bpr, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(parts["cl"], HP["cl_weight"] * ref_cl, rtol=1e-4, atol=1e-6)
    grads = torch.autograd.grad(sum(parts.values()), [model.user_emb, model.item_intent])
    ref_grads = torch.autograd.grad(ref_bpr + HP["cl_weight"] * ref_cl, [model.user_emb, model.item_intent])
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-5)


def test_final_embeddings_are_deterministic():
    torch.manual_seed(2)
    model = DCCF(tiny_graph(), HP)
    u1, i1 = model.final_embeddings()
    u2, i2 = model.final_embeddings()
    assert u1.shape == (6, 32) and i1.shape == (7, 32)
    assert torch.equal(u1, u2) and torch.equal(i1, i2)


def test_adaptive_weights_hand_made_2x3():
    # users u0, u1; items i0, i1, i2 (nodes 2, 3, 4); edges u0-i0, u0-i1, u1-i1, u1-i2
    graph = InteractionGraph.from_arrays([0, 0, 1, 1], [0, 1, 1, 2], 2, 3)
    rows, cols = graph.edge_index()
    pattern = EdgePattern.from_keys(rows * 5 + cols, 5)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [-1.0, 0.0]])
    values = adaptive_weights(pattern, x)
    got = torch.zeros(5, 5)
    got[pattern.rows, pattern.cols] = values
    c = (1 + 1 / math.sqrt(2)) / 2  # alpha of the 45-degree edges; u0-i0 has alpha 1, u1-i2 alpha 1/2
    want = torch.zeros(5, 5)
    want[0, 2], want[0, 3] = 1 / (1 + c), c / (1 + c)
    want[1, 3], want[1, 4] = c / (c + 0.5), 0.5 / (c + 0.5)
    want[2, 0] = 1.0
    want[3, 0], want[3, 1] = 0.5, 0.5
    want[4, 1] = 1.0
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got.sum(1), torch.ones(5))


def test_infonce_same_set_equals_base_infonce():
    torch.manual_seed(4)
    a, v = torch.randn(9, 4), torch.randn(9, 4)
    torch.testing.assert_close(infonce_same_set(a, v, 0.3), infonce(a, v, v, 0.3))


@pytest.mark.parametrize("chunk_rows", [None, 5])
def test_row_logsumexp_matches_torch_in_value_and_gradient(chunk_rows):
    torch.manual_seed(5)
    a = torch.randn(37, 6, requires_grad=True)
    b = torch.randn(23, 6, requires_grad=True)
    w = torch.randn(37)
    got = row_logsumexp(a, b, chunk_rows)
    grads = torch.autograd.grad((got * w).sum(), [a, b])
    want = torch.logsumexp(a @ b.T, dim=1)
    ref_grads = torch.autograd.grad((want * w).sum(), [a, b])
    torch.testing.assert_close(got, want)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r)


def test_row_logsumexp_refuses_a_second_backward():
    a = torch.randn(4, 3, requires_grad=True)
    out = row_logsumexp(a, torch.randn(5, 3)).sum()
    out.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="single backward"):
        out.backward()

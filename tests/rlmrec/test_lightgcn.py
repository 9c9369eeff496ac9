"""LightGCN (docs/methods/rlmrec.md §4.2): layer sum, edge drop only while training, BPR on the training view."""

import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.base import Batch
from llmrec_cli.rlmrec.backbones.lightgcn import LightGCN
from llmrec_cli.rlmrec.graph import InteractionGraph

USERS, ITEMS = [0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 2, 3, 0, 2]
HP = {"layers": 3, "keep_rate": 0.8, "embedding_dim": 32}


def tiny():
    return InteractionGraph.from_arrays(USERS, ITEMS, 3, 4)


def batch():
    return Batch(torch.tensor([0, 1, 2, 0]), torch.tensor([1, 2, 3, 0]), torch.tensor([3, 0, 1, 2]))


def test_eval_is_full_graph_layer_sum_and_deterministic(dense_layer_sum):
    torch.manual_seed(0)
    model = LightGCN(tiny(), HP)
    ego = model.ego().detach()
    expected = dense_layer_sum(model.graph, ego, 3)
    torch.testing.assert_close(model.propagate(ego, training=False), expected)
    torch.testing.assert_close(model.propagate(ego, training=False), expected)
    users, items = model.final_embeddings()
    assert users.shape == (3, 32) and items.shape == (4, 32)
    torch.testing.assert_close(torch.cat([users, items]), expected)


def test_training_drops_edges(dense_layer_sum):
    torch.manual_seed(0)
    model = LightGCN(tiny(), {**HP, "keep_rate": 0.5})
    ego = model.ego().detach()
    assert not torch.allclose(model.propagate(ego, training=True), model.propagate(ego, training=False))
    model_keep_all = LightGCN(tiny(), {**HP, "keep_rate": 1.0})
    ego = model_keep_all.ego().detach()
    torch.testing.assert_close(
        model_keep_all.propagate(ego, training=True), dense_layer_sum(model_keep_all.graph, ego, 3)
    )


def test_loss_is_bpr_of_final_and_reaches_both_tables(dense_layer_sum):
    torch.manual_seed(0)
    model = LightGCN(tiny(), {**HP, "keep_rate": 1.0})
    b = batch()
    parts, final = model.loss(b, model.ego())
    assert set(parts) == {"bpr"} and final.shape == (7, 32)
    ref = dense_layer_sum(model.graph, model.ego().detach(), 3)
    u, p, n = ref[b.users], ref[3 + b.pos], ref[3 + b.neg]
    expected = F.softplus((u * n).sum(1) - (u * p).sum(1)).mean()
    torch.testing.assert_close(parts["bpr"], expected)
    parts["bpr"].backward()
    assert model.user_emb.grad is not None and model.user_emb.grad.abs().sum() > 0
    assert model.item_emb.grad is not None and model.item_emb.grad.abs().sum() > 0


def test_loss_uses_the_given_ego_table(dense_layer_sum):
    torch.manual_seed(0)
    model = LightGCN(tiny(), {**HP, "keep_rate": 1.0})
    ego = model.ego().detach().clone()
    ego[0] = 0.0
    _, final = model.loss(batch(), ego)
    torch.testing.assert_close(final, dense_layer_sum(model.graph, ego, 3))


def test_edge_drop_loss_is_finite_with_gradients():
    torch.manual_seed(0)
    model = LightGCN(tiny(), HP)
    parts, final = model.loss(batch(), model.ego())
    assert torch.isfinite(parts["bpr"])
    parts["bpr"].backward()
    assert model.user_emb.grad.abs().sum() > 0 and model.item_emb.grad.abs().sum() > 0

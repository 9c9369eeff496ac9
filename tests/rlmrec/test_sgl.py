"""SGL (docs/methods/rlmrec.md §4.3): two independently edge-dropped views for the InfoNCE terms, the clean view for
BPR and scoring."""

import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.sgl import SGL

HP = {"layers": 3, "keep_rate": 0.8, "cl_weight": 0.1, "cl_temperature": 0.2}


def test_dropped_views_feed_cl_and_clean_view_feeds_bpr(toy_graph, toy_batch, dense_layer_sum):
    torch.manual_seed(0)
    model = SGL(toy_graph, {**HP, "keep_rate": 0.5})
    b = toy_batch
    parts, final = model.loss(b, model.ego())
    assert set(parts) == {"bpr", "cl"}
    torch.testing.assert_close(final, dense_layer_sum(model.graph, model.ego().detach()))
    ref = final.detach()
    u, p, n = ref[b.users], ref[4 + b.pos], ref[4 + b.neg]
    torch.testing.assert_close(parts["bpr"], F.softplus((u * n).sum(1) - (u * p).sum(1)).mean())
    assert torch.isfinite(parts["cl"]) and parts["cl"] > 0
    sum(parts.values()).backward()
    assert model.user_emb.grad.abs().sum() > 0 and model.item_emb.grad.abs().sum() > 0


def test_eval_is_clean_and_deterministic(toy_graph, dense_layer_sum):
    torch.manual_seed(0)
    model = SGL(toy_graph, HP)
    ego = model.ego().detach()
    torch.testing.assert_close(model.propagate(ego, training=True), dense_layer_sum(model.graph, ego))
    users, items = model.final_embeddings()
    torch.testing.assert_close(torch.cat([users, items]), dense_layer_sum(model.graph, ego))


def test_layers_come_from_hp(toy_graph, dense_layer_sum):
    torch.manual_seed(0)
    model = SGL(toy_graph, {**HP, "layers": 2})
    ego = model.ego().detach()
    torch.testing.assert_close(model.propagate(ego, False), dense_layer_sum(model.graph, ego, layers=2))

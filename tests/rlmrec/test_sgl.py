"""SGL (spec §4): two independently edge-dropped views for the InfoNCE terms, the clean view for BPR and scoring."""

import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.base import Batch
from llmrec_cli.rlmrec.backbones.sgl import SGL
from llmrec_cli.rlmrec.graph import InteractionGraph

USERS, ITEMS = [0, 0, 1, 1, 2, 2, 2, 3], [0, 1, 1, 2, 3, 0, 2, 4]
HP = {"layers": 3, "keep_rate": 0.8, "cl_weight": 0.1, "cl_temperature": 0.2}


def tiny():
    return InteractionGraph.from_arrays(USERS, ITEMS, 4, 5)


def batch():
    return Batch(torch.tensor([0, 1, 2, 3, 0]), torch.tensor([1, 2, 3, 4, 0]), torch.tensor([3, 0, 1, 2, 4]))


def clean(graph, ego, layers=3):
    a = graph.norm_adj().to_dense()
    out, h = ego, ego
    for _ in range(layers):
        h = a @ h
        out = out + h
    return out


def ref_infonce(a, p, c, t):
    """sum_i [ -cos(a_i, p_i)/t + log sum_c exp(cos(a_i, c)/t) ], written out."""
    a, p, c = F.normalize(a, dim=1), F.normalize(p, dim=1), F.normalize(c, dim=1)
    return (-(a * p).sum(1) / t + torch.log(torch.exp(a @ c.T / t).sum(1))).sum()


def test_without_drop_the_views_equal_the_clean_view():
    torch.manual_seed(0)
    model = SGL(tiny(), {**HP, "keep_rate": 1.0})
    b = batch()
    parts, final = model.loss(b, model.ego())
    ref = clean(model.graph, model.ego().detach())
    torch.testing.assert_close(final, ref)
    u, p, n = ref[b.users], ref[4 + b.pos], ref[4 + b.neg]
    users, items = ref[:4], ref[4:]
    cl = ref_infonce(u, u, users, 0.2) + ref_infonce(p, p, items, 0.2) + ref_infonce(n, n, items, 0.2)
    torch.testing.assert_close(parts["cl"], 0.1 * cl / 5)
    torch.testing.assert_close(parts["bpr"], F.softplus((u * n).sum(1) - (u * p).sum(1)).mean())


def test_dropped_views_feed_cl_and_clean_view_feeds_bpr():
    torch.manual_seed(0)
    model = SGL(tiny(), {**HP, "keep_rate": 0.5})
    b = batch()
    parts, final = model.loss(b, model.ego())
    assert set(parts) == {"bpr", "cl"}
    torch.testing.assert_close(final, clean(model.graph, model.ego().detach()))
    ref = final.detach()
    u, p, n = ref[b.users], ref[4 + b.pos], ref[4 + b.neg]
    torch.testing.assert_close(parts["bpr"], F.softplus((u * n).sum(1) - (u * p).sum(1)).mean())
    assert torch.isfinite(parts["cl"]) and parts["cl"] > 0
    sum(parts.values()).backward()
    assert model.user_emb.grad.abs().sum() > 0 and model.item_emb.grad.abs().sum() > 0


def test_eval_is_clean_and_deterministic():
    torch.manual_seed(0)
    model = SGL(tiny(), HP)
    ego = model.ego().detach()
    torch.testing.assert_close(model.propagate(ego, training=True), clean(model.graph, ego))
    users, items = model.final_embeddings()
    torch.testing.assert_close(torch.cat([users, items]), clean(model.graph, ego))


def test_layers_come_from_hp():
    torch.manual_seed(0)
    model = SGL(tiny(), {**HP, "layers": 2})
    ego = model.ego().detach()
    torch.testing.assert_close(model.propagate(ego, False), clean(model.graph, ego, layers=2))

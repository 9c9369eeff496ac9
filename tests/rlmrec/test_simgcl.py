"""SimGCL (spec §4): per-layer uniform noise of length eps in the sign pattern of E^l, two perturbed views, users and
positives in the InfoNCE, the clean view for BPR and scoring."""

import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.base import Batch
from llmrec_cli.rlmrec.backbones.simgcl import SimGCL, perturb
from llmrec_cli.rlmrec.graph import InteractionGraph

USERS, ITEMS = [0, 0, 1, 1, 2, 2, 2, 3], [0, 1, 1, 2, 3, 0, 2, 4]
HP = {"layers": 3, "eps": 0.2, "cl_weight": 0.1, "cl_temperature": 0.2}


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
    a, p, c = F.normalize(a, dim=1), F.normalize(p, dim=1), F.normalize(c, dim=1)
    return (-(a * p).sum(1) / t + torch.log(torch.exp(a @ c.T / t).sum(1))).sum()


def test_perturb_adds_eps_long_noise_in_the_sign_pattern():
    torch.manual_seed(0)
    h = torch.randn(50, 8)
    noise = perturb(h, 0.3) - h
    torch.testing.assert_close(noise.norm(dim=1), torch.full((50,), 0.3))
    assert torch.equal(torch.sign(noise), torch.sign(h))


def test_without_noise_the_views_equal_the_clean_view():
    torch.manual_seed(0)
    model = SimGCL(tiny(), {**HP, "eps": 0.0})
    b = batch()
    parts, final = model.loss(b, model.ego())
    ref = clean(model.graph, model.ego().detach())
    torch.testing.assert_close(final, ref)
    u, p, n = ref[b.users], ref[4 + b.pos], ref[4 + b.neg]
    cl = ref_infonce(u, u, ref[:4], 0.2) + ref_infonce(p, p, ref[4:], 0.2)  # no negative-item term
    torch.testing.assert_close(parts["cl"], 0.1 * cl / 5)
    torch.testing.assert_close(parts["bpr"], F.softplus((u * n).sum(1) - (u * p).sum(1)).mean())


def test_perturbed_view_noises_every_propagated_layer():
    torch.manual_seed(0)
    model = SimGCL(tiny(), {**HP, "layers": 1, "eps": 0.5})
    ego = model.ego().detach()
    view = model.perturbed(ego)
    propagated = model.graph.norm_adj().to_dense() @ ego
    noise = view - ego - propagated
    torch.testing.assert_close(noise.norm(dim=1), torch.full((9,), 0.5))
    assert torch.equal(torch.sign(noise), torch.sign(propagated))


def test_loss_clean_final_and_gradients():
    torch.manual_seed(0)
    model = SimGCL(tiny(), HP)
    parts, final = model.loss(batch(), model.ego())
    assert set(parts) == {"bpr", "cl"} and torch.isfinite(parts["cl"]) and parts["cl"] > 0
    ego = model.ego().detach()
    torch.testing.assert_close(final, clean(model.graph, ego))
    sum(parts.values()).backward()
    assert model.user_emb.grad.abs().sum() > 0 and model.item_emb.grad.abs().sum() > 0
    users, items = model.final_embeddings()
    torch.testing.assert_close(torch.cat([users, items]), clean(model.graph, ego))

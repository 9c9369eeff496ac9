"""SimGCL (docs/methods/rlmrec.md §4.4): per-layer uniform noise of length eps in the sign pattern of E^l, two
perturbed views, users and positives in the InfoNCE, the clean view for BPR and scoring."""

import torch

from llmrec_cli.rlmrec.backbones.simgcl import SimGCL, perturb

HP = {"layers": 3, "eps": 0.2, "cl_weight": 0.1, "cl_temperature": 0.2}


def test_perturb_adds_eps_long_noise_in_the_sign_pattern():
    torch.manual_seed(0)
    h = torch.randn(50, 8)
    noise = perturb(h, 0.3) - h
    torch.testing.assert_close(noise.norm(dim=1), torch.full((50,), 0.3))
    assert torch.equal(torch.sign(noise), torch.sign(h))


def test_perturbed_view_noises_every_propagated_layer(toy_graph):
    torch.manual_seed(0)
    model = SimGCL(toy_graph, {**HP, "layers": 1, "eps": 0.5})
    ego = model.ego().detach()
    view = model.perturbed(ego)
    propagated = model.graph.norm_adj().to_dense() @ ego
    noise = view - ego - propagated
    torch.testing.assert_close(noise.norm(dim=1), torch.full((9,), 0.5))
    assert torch.equal(torch.sign(noise), torch.sign(propagated))


def test_loss_clean_final_and_gradients(toy_graph, toy_batch, dense_layer_sum):
    torch.manual_seed(0)
    model = SimGCL(toy_graph, HP)
    parts, final = model.loss(toy_batch, model.ego())
    assert set(parts) == {"bpr", "cl"} and torch.isfinite(parts["cl"]) and parts["cl"] > 0
    ego = model.ego().detach()
    torch.testing.assert_close(final, dense_layer_sum(model.graph, ego))
    sum(parts.values()).backward()
    assert model.user_emb.grad.abs().sum() > 0 and model.item_emb.grad.abs().sum() > 0
    users, items = model.final_embeddings()
    torch.testing.assert_close(torch.cat([users, items]), dense_layer_sum(model.graph, ego))

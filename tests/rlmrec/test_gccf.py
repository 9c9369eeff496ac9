"""GCCF (docs/methods/rlmrec.md §4.1, §9.1): no weight matrix, layers concatenated, self-loops only when asked (Base
variant)."""

import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.base import Batch
from llmrec_cli.rlmrec.backbones.gccf import GCCF
from llmrec_cli.rlmrec.graph import InteractionGraph

USERS, ITEMS = [0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 2, 3, 0, 2]


def tiny():
    return InteractionGraph.from_arrays(USERS, ITEMS, 3, 4)


def dense_concat(graph, ego, layers, self_loops):
    a = graph.norm_adj(self_loops=self_loops).to_dense()
    out = [ego]
    for _ in range(layers):
        out.append(a @ out[-1])
    return torch.cat(out, dim=1)


def test_out_dim_is_concatenation():
    model = GCCF(tiny(), {"layers": 2})
    assert model.out_dim == 96
    assert model.propagate(model.ego(), training=False).shape == (7, 96)


def test_propagation_with_and_without_self_loops():
    torch.manual_seed(0)
    for loops in (True, False):
        model = GCCF(tiny(), {"layers": 2, "self_loops": loops})
        ego = model.ego().detach()
        final = model.propagate(ego, training=False)
        torch.testing.assert_close(final, dense_concat(model.graph, ego, 2, loops))
        torch.testing.assert_close(final[:, :32], ego)
        torch.testing.assert_close(model.propagate(ego, training=True), final)  # no training-only randomness
    with_loops = GCCF(tiny(), {"layers": 2, "self_loops": True})
    without = GCCF(tiny(), {"layers": 2, "self_loops": False})
    ego = with_loops.ego().detach()
    assert not torch.allclose(with_loops.propagate(ego, False), without.propagate(ego, False))


def test_loss_and_gradients():
    torch.manual_seed(0)
    model = GCCF(tiny(), {"layers": 2, "self_loops": True})
    b = Batch(torch.tensor([0, 1, 2]), torch.tensor([1, 2, 3]), torch.tensor([3, 0, 1]))
    parts, final = model.loss(b, model.ego())
    assert set(parts) == {"bpr"} and final.shape == (7, 96)
    ref = dense_concat(model.graph, model.ego().detach(), 2, True)
    u, p, n = ref[b.users], ref[3 + b.pos], ref[3 + b.neg]
    torch.testing.assert_close(parts["bpr"], F.softplus((u * n).sum(1) - (u * p).sum(1)).mean())
    parts["bpr"].backward()
    assert model.user_emb.grad.abs().sum() > 0 and model.item_emb.grad.abs().sum() > 0
    users, items = model.final_embeddings()
    assert users.shape == (3, 96) and items.shape == (4, 96)

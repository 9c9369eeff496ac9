"""The two-view contrastive LightGCN of SGL and SimGCL (docs/methods/rlmrec.md §4.3-§4.4): with the augmentation off,
both views are the clean view, so the loss parts can be written out from the dense layer sum."""

import pytest
import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.sgl import SGL
from llmrec_cli.rlmrec.backbones.simgcl import SimGCL

HP = {"layers": 3, "cl_weight": 0.1, "cl_temperature": 0.2}


@pytest.mark.parametrize(
    "model_class, augmentation_off",
    [(SGL, {"keep_rate": 1.0}), (SimGCL, {"eps": 0.0})],
    ids=["sgl-no-drop", "simgcl-no-noise"],
)
def test_without_augmentation_the_views_equal_the_clean_view(
    model_class, augmentation_off, toy_graph, toy_batch, dense_layer_sum, dense_infonce
):
    torch.manual_seed(0)
    model = model_class(toy_graph, {**HP, **augmentation_off})
    b = toy_batch
    parts, final = model.loss(b, model.ego())
    ref = dense_layer_sum(model.graph, model.ego().detach())
    torch.testing.assert_close(final, ref)
    u, p, n = ref[b.users], ref[4 + b.pos], ref[4 + b.neg]
    users, items = ref[:4], ref[4:]
    cl = dense_infonce(u, u, users, 0.2) + dense_infonce(p, p, items, 0.2)
    if model.cl_negatives:  # SGL only
        cl = cl + dense_infonce(n, n, items, 0.2)
    torch.testing.assert_close(parts["cl"], 0.1 * cl / 5)
    torch.testing.assert_close(parts["bpr"], F.softplus((u * n).sum(1) - (u * p).sum(1)).mean())

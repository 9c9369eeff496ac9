"""Fixtures of the graph-backbone tests: a toy graph and batch (SGL, SimGCL) and dense references of the
LightGCN-style layer sum and of InfoNCE."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.base import Batch
from llmrec_cli.rlmrec.graph import InteractionGraph

TOY_USERS, TOY_ITEMS = [0, 0, 1, 1, 2, 2, 2, 3], [0, 1, 1, 2, 3, 0, 2, 4]
TOY_N_USERS, TOY_N_ITEMS = 4, 5


@pytest.fixture
def toy_graph() -> InteractionGraph:
    """4 users x 5 items, 8 interactions."""
    return InteractionGraph.from_arrays(TOY_USERS, TOY_ITEMS, TOY_N_USERS, TOY_N_ITEMS)


@pytest.fixture
def toy_batch() -> Batch:
    """5 (user, positive, negative) triples on the toy graph."""
    return Batch(torch.tensor([0, 1, 2, 3, 0]), torch.tensor([1, 2, 3, 4, 0]), torch.tensor([3, 0, 1, 2, 4]))


def _dense_layer_sum(graph: InteractionGraph, ego: torch.Tensor, layers: int = 3) -> torch.Tensor:
    a = graph.norm_adj().to_dense()
    out, h = ego, ego
    for _ in range(layers):
        h = a @ h
        out = out + h
    return out


def _dense_infonce(a: torch.Tensor, p: torch.Tensor, c: torch.Tensor, t: float) -> torch.Tensor:
    a, p, c = F.normalize(a, dim=1), F.normalize(p, dim=1), F.normalize(c, dim=1)
    return (-(a * p).sum(1) / t + torch.log(torch.exp(a @ c.T / t).sum(1))).sum()


@pytest.fixture
def dense_layer_sum():
    """dense_layer_sum(graph, ego, layers=3) = sum_{l=0..L} A_hat^l ego with the dense normalised adjacency."""
    return _dense_layer_sum


@pytest.fixture
def dense_infonce():
    """dense_infonce(a, p, c, t) = sum_i [ -cos(a_i, p_i)/t + log sum_c exp(cos(a_i, c)/t) ], written out."""
    return _dense_infonce

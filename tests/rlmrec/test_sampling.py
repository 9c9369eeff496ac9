"""Uniform BPR negative sampling and epoch batching (docs/methods/rlmrec.md §3.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from llmrec_cli.rlmrec.graph import InteractionGraph
from llmrec_cli.rlmrec.sampling import NegativeSampler, bpr_epoch

N_ITEMS = 8
# A dense graph: most (u, j) pairs are positives, so the rejection loop collides often.
POSITIVES = {
    0: [0, 1, 2, 3, 4, 5, 6],  # only item 7 is allowed
    1: [1, 3, 5, 7],  # allowed: 0, 2, 4, 6
    2: [0, 1, 2, 3, 4, 6],  # allowed: 5, 7
    3: [2],  # allowed: everything but 2
}


def dense_graph() -> InteractionGraph:
    users = [u for u, items in POSITIVES.items() for _ in items]
    items = [i for its in POSITIVES.values() for i in its]
    return InteractionGraph.from_arrays(users, items, len(POSITIVES), N_ITEMS)


def allowed_items(user: int) -> list[int]:
    return [j for j in range(N_ITEMS) if j not in POSITIVES[user]]


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def draws_per_user(sampler: NegativeSampler, epochs: int, seed: int) -> dict[int, np.ndarray]:
    """``epochs`` draws for every training edge, in one call, grouped by user."""
    users = sampler.users.repeat(epochs)
    negatives = sampler.sample_for(users, seeded(seed)).numpy()
    return {u: negatives[users.numpy() == u] for u in POSITIVES}


@pytest.mark.parametrize("max_rounds", [32, 0], ids=["rejection", "exact-fallback"])
def test_never_returns_a_positive(max_rounds):
    draws = draws_per_user(NegativeSampler(dense_graph(), max_rejection_rounds=max_rounds), epochs=500, seed=0)
    for user, negatives in draws.items():
        assert set(negatives.tolist()) <= set(allowed_items(user)), user
    assert set(draws[0].tolist()) == {7}


@pytest.mark.parametrize("max_rounds", [32, 0], ids=["rejection", "exact-fallback"])
def test_roughly_uniform_over_allowed_items(max_rounds):
    draws = draws_per_user(NegativeSampler(dense_graph(), max_rejection_rounds=max_rounds), epochs=2000, seed=1)
    for user in (1, 2, 3):
        allowed = allowed_items(user)
        counts = np.array([(draws[user] == j).sum() for j in allowed])
        assert counts.sum() == draws[user].size
        assert chisquare(counts).pvalue > 1e-4, (user, counts)


def test_seeded_determinism():
    sampler = NegativeSampler(dense_graph())
    assert torch.equal(sampler.sample(seeded(3)), sampler.sample(seeded(3)))
    first = [(b.users, b.pos, b.neg) for b in sampler.epoch_batches(5, seeded(3))]
    second = [(b.users, b.pos, b.neg) for b in sampler.epoch_batches(5, seeded(3))]
    assert all(torch.equal(x, y) for a, b in zip(first, second) for x, y in zip(a, b))
    sparse = NegativeSampler(InteractionGraph.from_arrays(np.arange(200) % 20, np.arange(200) % 97, 20, 1000))
    assert not torch.equal(sparse.sample(seeded(3)), sparse.sample(seeded(4)))


def test_batches_cover_every_edge_exactly_once():
    graph = dense_graph()
    batches = list(bpr_epoch(graph, batch_size=5, generator=seeded(2)))
    n_edges = graph.n_edges  # 18
    assert [len(b.users) for b in batches] == [5, 5, 5, 3]
    users = torch.cat([b.users for b in batches])
    pos = torch.cat([b.pos for b in batches])
    neg = torch.cat([b.neg for b in batches])
    assert users.dtype == pos.dtype == neg.dtype == torch.int64
    edges = sorted(zip(users.tolist(), pos.tolist()))
    assert edges == sorted(zip(graph.users.tolist(), graph.items.tolist()))
    assert len(set(edges)) == n_edges
    assert all(j not in POSITIVES[u] for u, j in zip(users.tolist(), neg.tolist()))


def test_batches_are_shuffled():
    graph = InteractionGraph.from_arrays(np.arange(300) % 30, np.arange(300) % 50, 30, 100)
    users = torch.cat([b.users for b in NegativeSampler(graph).epoch_batches(64, seeded(0))])
    assert not torch.equal(users, graph.users)


def test_user_with_every_item_raises():
    users = [0, 0, 0, 1]
    items = [0, 1, 2, 0]
    with pytest.raises(ValueError, match=r"user 0 interacted with all 3 items"):
        NegativeSampler(InteractionGraph.from_arrays(users, items, 2, 3))


def test_invalid_batch_size_raises():
    with pytest.raises(ValueError, match="batch_size"):
        next(NegativeSampler(dense_graph()).epoch_batches(0))

"""Uniform negative sampling and epoch batching for BPR training (docs/methods/rlmrec.md §3.4).

Each epoch, every training edge (u, i) gets one negative item j drawn uniformly from {j : (u, j) not in R}, i.e.
P(j | u) = 1 / (J - deg(u)) for each allowed j. The (u, i, j) triples are shuffled and cut into batches of
``batch_size`` (the last one smaller).

Sampling is rejection sampling in whole-array passes: draw j ~ U{0..J-1} for every pending edge, look the keys
u * J + j up in the sorted training keys (searchsorted), keep the misses, redraw only the collisions. After
``max_rejection_rounds`` passes any stragglers (users whose rows are nearly full) are drawn exactly instead: the
r-th allowed item of u, r ~ U{0..J-deg(u)-1}, is r + #{t : p_t - t <= r} with p_0 < p_1 < ... u's positives
(p_t - t counts the allowed items below p_t). Both give the same uniform distribution.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from llmrec_cli.rlmrec.backbones.base import Batch
from llmrec_cli.rlmrec.graph import InteractionGraph


class NegativeSampler:
    """Draws negatives for the training edges of one graph; the sorted key arrays are built once."""

    def __init__(self, graph: InteractionGraph, max_rejection_rounds: int = 32) -> None:
        self.n_users, self.n_items = graph.n_users, graph.n_items
        self.max_rejection_rounds = max_rejection_rounds
        keys = torch.unique(graph.users.cpu().long() * self.n_items + graph.items.cpu().long())  # sorted (u, i)
        self.users, self.items = keys // self.n_items, keys % self.n_items
        self.train_keys = keys
        self.degree = torch.bincount(self.users, minlength=self.n_users)
        self.row_start = torch.cumsum(self.degree, 0) - self.degree
        _raise_if_a_user_has_every_item(self.degree, self.n_items)
        self._gap_keys: torch.Tensor | None = None

    @property
    def n_edges(self) -> int:
        return int(self.users.numel())

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One negative item per training edge (aligned with ``self.users`` / ``self.items``), int64."""
        return self.sample_for(self.users, generator)

    def sample_for(self, users: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One uniform negative item for each entry of ``users`` (ids on the CPU)."""
        users = users.cpu().long()
        negatives = torch.randint(0, self.n_items, (users.numel(),), generator=generator)
        pending = torch.arange(users.numel())
        for _ in range(self.max_rejection_rounds):
            pending = pending[self._is_training_pair(users[pending], negatives[pending])]
            if pending.numel() == 0:
                return negatives
            negatives[pending] = torch.randint(0, self.n_items, (pending.numel(),), generator=generator)
        pending = pending[self._is_training_pair(users[pending], negatives[pending])]
        negatives[pending] = self._exact_draw(users[pending], generator)
        return negatives

    def _is_training_pair(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        query = users * self.n_items + items
        pos = torch.searchsorted(self.train_keys, query).clamp_(max=max(self.train_keys.numel() - 1, 0))
        return self.train_keys[pos] == query if self.train_keys.numel() else torch.zeros_like(query, dtype=torch.bool)

    def _exact_draw(self, users: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The r-th allowed item of each user, r uniform: j = r + #{t : p_t - t <= r} (see the module docstring)."""
        if users.numel() == 0:
            return users.clone()
        n_allowed = self.n_items - self.degree[users]
        r = (torch.rand(users.numel(), generator=generator, dtype=torch.float64) * n_allowed).long()
        r = torch.minimum(r, n_allowed - 1)
        base = users * (self.n_items + 1)  # gaps range over 0..J, so J + 1 keeps users apart
        positives_before = torch.searchsorted(self._gap_keys_sorted(), base + r, right=True) - self.row_start[users]
        return r + positives_before

    def _gap_keys_sorted(self) -> torch.Tensor:
        """u * (J + 1) + (p_t - t) for every training edge; sorted because keys are sorted by (u, p)."""
        if self._gap_keys is None:
            rank_in_row = torch.arange(self.n_edges) - self.row_start[self.users]
            self._gap_keys = self.users * (self.n_items + 1) + (self.items - rank_in_row)
        return self._gap_keys

    def epoch_batches(
        self,
        batch_size: int = 4096,
        generator: torch.Generator | None = None,
        device: str | torch.device = "cpu",
    ) -> Iterator[Batch]:
        """Fresh negatives for every edge, shuffled, in batches of ``batch_size`` (last smaller), on ``device``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        negatives = self.sample(generator)
        order = torch.randperm(self.n_edges, generator=generator)
        triples = torch.stack([self.users[order], self.items[order], negatives[order]]).to(device)
        for start in range(0, self.n_edges, batch_size):
            users, pos, neg = triples[:, start : start + batch_size]
            yield Batch(users=users, pos=pos, neg=neg)


def bpr_epoch(
    graph: InteractionGraph,
    batch_size: int = 4096,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> Iterator[Batch]:
    """One epoch of shuffled (u, pos, neg) batches. Builds a throw-away :class:`NegativeSampler`: training loops
    should keep one sampler and call its :meth:`~NegativeSampler.epoch_batches` every epoch."""
    return NegativeSampler(graph).epoch_batches(batch_size, generator, device)


def _raise_if_a_user_has_every_item(degree: torch.Tensor, n_items: int) -> None:
    full = torch.nonzero(degree >= n_items).flatten()
    if full.numel():
        shown = ", ".join(str(int(u)) for u in full[:10])
        more = f" (and {full.numel() - 10} more)" if full.numel() > 10 else ""
        raise ValueError(
            f"user {shown}{more} interacted with all {n_items} items: no negative item can be sampled for BPR"
        )

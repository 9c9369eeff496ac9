"""The extended vocabulary [Z_vocab; Z_users; Z_items] (docs/methods/cllm4rec.md §2.2).

Token ids: id < N is a word (the frozen LM's own embedding), N <= id < N + I is user_{id-N}, and id >= N + I is
item_{id-N-I}. Two sets of user/item tables exist, the collaborative z^l and the content z^c; both are drawn from
N(0, std^2) independently, as the official code does (docs/methods/cllm4rec.md §2.2, §10.1). ``around`` draws the
content tables around the collaborative ones instead (z^c = z^l + N(0, std^2)), the paper's Gaussian link taken as an
initialisation.
The two sides are then tied during training by the mutual regularisation (model.py).
"""

from __future__ import annotations

import torch
from torch import nn


class EntityTables(nn.Module):
    """One side's user table (I x K) and item table (J x K): the only trainable parameters of CLLM4Rec."""

    def __init__(self, n_users: int, n_items: int, dim: int, std: float, generator: torch.Generator):
        super().__init__()
        self.users = nn.Parameter(torch.randn(n_users, dim, generator=generator) * std)
        self.items = nn.Parameter(torch.randn(n_items, dim, generator=generator) * std)

    @property
    def n_users(self) -> int:
        return self.users.shape[0]

    @property
    def n_items(self) -> int:
        return self.items.shape[0]

    def drawn_around(self, other: "EntityTables", std: float, generator: torch.Generator) -> "EntityTables":
        """Set these tables to ``other`` plus N(0, std^2) noise (the paper's z^c ~ N(z^l, .) link)."""
        with torch.no_grad():
            self.users.copy_(other.users + torch.randn(other.users.shape, generator=generator) * std)
            self.items.copy_(other.items + torch.randn(other.items.shape, generator=generator) * std)
        return self


class ExtendedVocab:
    """Routes token ids to the frozen word embeddings or to one side's user/item tables."""

    def __init__(self, n_vocab: int, n_users: int, n_items: int):
        self.n_vocab, self.n_users, self.n_items = n_vocab, n_users, n_items

    @property
    def size(self) -> int:
        return self.n_vocab + self.n_users + self.n_items

    def kinds(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(is_user, is_item) boolean masks of a token id tensor."""
        is_user = (ids >= self.n_vocab) & (ids < self.n_vocab + self.n_users)
        return is_user, ids >= self.n_vocab + self.n_users

    def item_index(self, ids: torch.Tensor) -> torch.Tensor:
        return ids - self.n_vocab - self.n_users

    def embed(self, ids: torch.Tensor, words, tables: EntityTables) -> torch.Tensor:
        """(B, T) ids -> (B, T, K) embeddings; ``words`` maps word ids to the frozen LM embeddings."""
        is_user, is_item = self.kinds(ids)
        is_word = ~(is_user | is_item)
        out = words(torch.where(is_word, ids, torch.zeros_like(ids)))
        user_rows = tables.users[(ids - self.n_vocab).clamp(0, self.n_users - 1)]
        item_rows = tables.items[self.item_index(ids).clamp(0, self.n_items - 1)]
        out = torch.where(is_user.unsqueeze(-1), user_rows.to(out.dtype), out)
        return torch.where(is_item.unsqueeze(-1), item_rows.to(out.dtype), out)

    def entity_rows(self, ids: torch.Tensor, tables: EntityTables, include_users: bool = True) -> torch.Tensor:
        """The table rows of every user/item token occurrence in ``ids`` (words and padding skipped), (M, K)."""
        is_user, is_item = self.kinds(ids)
        item_rows = tables.items[self.item_index(ids[is_item])]
        if not include_users:
            return item_rows
        return torch.cat([tables.users[ids[is_user] - self.n_vocab], item_rows])

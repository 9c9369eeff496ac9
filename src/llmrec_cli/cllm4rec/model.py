"""CLLM4Rec: a frozen causal LM whose vocabulary gets user/item tokens, with three heads
(docs/methods/cllm4rec.md §4-§6).

Notation (docs/methods/cllm4rec.md §1): N words, I users, J items, K hidden size; z^l = collaborative tables
(``collab``), z^c = content tables (``content``). The recommendation model of finetuning (RecLLM) starts from the
pretrained collaborative tables, so it is the same ``collab`` tables trained further.

- collaborative LM:  p(item_{k+1} | prefix) = softmax_J(Z^{l,v} h_k)          (item head tied to the item table)
- content LM:        p(word_{k+1} | prefix) = softmax_N(W_lm h_k)             (the backbone's own frozen LM head)
- recommendation:    log p(j | prompt)     = log_softmax_J(Z^{l,v} h_last)     (multinomial over all items)
- mutual regularisation (code form, docs/methods/cllm4rec.md §4.3): lambda * sum over user/item token occurrences of
  ||E_this(token) - E_other(token)||^2, with E_other taken as a constant.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llmrec_cli.cllm4rec.backbone import Backbone
from llmrec_cli.cllm4rec.data import DocumentBatch
from llmrec_cli.cllm4rec.vocab import EntityTables, ExtendedVocab


class CLLM4Rec(nn.Module):
    def __init__(self, backbone: Backbone, n_users: int, n_items: int, seed: int, content_init: str = "independent"):
        super().__init__()
        self.backbone = backbone
        self.vocab = ExtendedVocab(backbone.n_vocab, n_users, n_items)
        generator = torch.Generator().manual_seed(seed)
        std, dim = backbone.init_std, backbone.hidden_size
        self.collab = EntityTables(n_users, n_items, dim, std, generator)
        self.content = EntityTables(n_users, n_items, dim, std, generator)
        if content_init == "around":
            self.content.drawn_around(self.collab, std, generator)

    # ------------------------------------------------------------------------------------------ state
    def trainable_state(self) -> dict[str, dict[str, torch.Tensor]]:
        """Only what trains: the two sides' user/item tables (never the frozen LM), cloned to the CPU."""
        return {
            side: {k: v.detach().cpu().clone() for k, v in getattr(self, side).state_dict().items()}
            for side in ("collab", "content")
        }

    def load_trainable_state(self, state: dict) -> None:
        for side in ("collab", "content"):
            if side in state:
                getattr(self, side).load_state_dict(state[side])

    # ------------------------------------------------------------------------------------------ forward
    def hidden(self, ids: torch.Tensor, mask: torch.Tensor, tables: EntityTables) -> torch.Tensor:
        embeds = self.vocab.embed(ids, self.backbone.embed_words, tables)
        return self.backbone.hidden_states(embeds, mask)

    def collaborative_loss(self, batch: DocumentBatch) -> torch.Tensor:
        """Mean cross-entropy of the scored item tokens under the item head (softmax over J)."""
        hidden = self.hidden(batch.ids, batch.mask, self.collab)
        scored = batch.targets[:, 1:]
        if not scored.any():
            return hidden.sum() * 0.0
        logits = hidden[:, :-1][scored] @ self.collab.items.T.to(hidden.dtype)
        labels = self.vocab.item_index(batch.ids[:, 1:][scored])
        return F.cross_entropy(logits.float(), labels)

    def content_loss(self, batch: DocumentBatch) -> torch.Tensor:
        """Mean cross-entropy of the scored words under the backbone's LM head (softmax over N)."""
        hidden = self.hidden(batch.ids, batch.mask, self.content)
        scored = batch.targets[:, 1:]
        if not scored.any():
            return hidden.sum() * 0.0
        logits = self.backbone.word_logits(hidden[:, :-1][scored])[:, : self.vocab.n_vocab]
        return F.cross_entropy(logits.float(), batch.ids[:, 1:][scored])

    def mutual_regularisation(
        self, ids: torch.Tensor, this: EntityTables, other: EntityTables, include_users: bool = True
    ) -> torch.Tensor:
        """Sum over user/item token occurrences of ||E_this - E_other||^2; the other side gets no gradient."""
        mine = self.vocab.entity_rows(ids, this, include_users)
        with torch.no_grad():
            theirs = self.vocab.entity_rows(ids, other, include_users)
        return (mine.float() - theirs.float()).pow(2).sum()

    def recommendation_log_probs(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, J) log-probabilities over all items from the hidden state at the last real prompt position."""
        hidden = self.hidden(ids, mask, self.collab)
        last = mask.sum(dim=1) - 1
        h_last = hidden[torch.arange(ids.shape[0], device=ids.device), last]
        return F.log_softmax((h_last @ self.collab.items.T.to(h_last.dtype)).float(), dim=-1)

    def multinomial_loss(self, ids: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """-mean_b sum_j t_bj log p_bj (multinomial likelihood of the target multi-hot rows)."""
        return -(self.recommendation_log_probs(ids, mask) * targets).sum(dim=1).mean()

"""Baselines of the RLMRec paper that are not a backbone variant (docs/methods/rlmrec.md §7.1).

Semantic Embeddings Only (Table 1, first row): rank items for a user by cos(s_u, s_v) of the profile embeddings,
with no collaborative training. The paper does not state the scoring rule; cosine is our choice (label it so).
"""

from __future__ import annotations

import torch


def semantic_only_vectors(sem_users: torch.Tensor, sem_items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-normalised vectors, so that the dot product the evaluator uses is the cosine similarity."""
    return torch.nn.functional.normalize(sem_users, dim=-1), torch.nn.functional.normalize(sem_items, dim=-1)

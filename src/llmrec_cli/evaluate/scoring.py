"""Score learned representations against one split of a prepared dataset: the glue between rank and metrics.

Masking follows both papers' code: the training items of a user are never ranked; at test time validation items
stay rankable (docs/methods/evaluation.md §2.2).
"""

from __future__ import annotations

import polars as pl
import torch

from llmrec_cli.data.dataset import Dataset
from llmrec_cli.errors import LLMRecError
from llmrec_cli.evaluate import metrics, rank


def evaluate_vectors(
    user_emb: torch.Tensor,
    item_emb: torch.Tensor,
    dataset: Dataset,
    split: str = "test",
    ks=(5, 10, 20),
    recall_denominator: str = "all",
    batch_size: int = 1024,
    exclude_csr: torch.Tensor | None = None,
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Dot-product full ranking of the users with >= 1 item in ``split``; returns (per-user table, means)."""
    truth, users = _truth(dataset, split)
    exclude = dataset.csr("train") if exclude_csr is None else exclude_csr
    topk = rank.topk_items(user_emb, item_emb, users, exclude, max(ks), batch_size)
    return metrics.evaluate_topk(topk, truth, ks, recall_denominator, users=users)


def evaluate_scores(
    score_fn,
    dataset: Dataset,
    split: str = "test",
    ks=(20, 40, 100),
    recall_denominator: str = "min_k",
    batch_size: int = 256,
):
    """Same, for models that produce a (B, J) score matrix per user batch (Multi-VAE, CLLM4Rec)."""
    truth, users = _truth(dataset, split)
    topk = rank.topk_by_score_fn(score_fn, users, dataset.csr("train"), max(ks), batch_size)
    return metrics.evaluate_topk(topk, truth, ks, recall_denominator, users=users)


def _truth(dataset: Dataset, split: str):
    """The split as a users x items matrix and the users it has items for; a split without any is an error."""
    truth = dataset.csr(split)
    users = metrics.users_with_truth(truth)
    if len(users) == 0:
        raise LLMRecError(
            f"{dataset.folder / split}.parquet: no interactions, nothing to evaluate on; prepare the dataset again "
            f"with a {split} share (--ratios) or from a source whose {split} split is not empty"
        )
    return truth, users

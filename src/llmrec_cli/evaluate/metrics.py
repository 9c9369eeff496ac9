"""Top-k ranking metrics per user, for several cut-offs at once (docs/methods/evaluation.md §3).

Notation: T_u = the user's ground-truth items, hit_r = 1 if the item at rank r (1-based) is in T_u, else 0.

- Recall@k    = sum_{r<=k} hit_r / D_u, with D_u = |T_u|            (recall_denominator="all", RLMRec)
                                       or D_u = min(k, |T_u|)       (recall_denominator="min_k", CLLM4Rec)
- NDCG@k      = DCG@k / IDCG@k, DCG@k = sum_{r<=k} hit_r / log2(r + 1), IDCG@k = sum_{r<=min(k,|T_u|)} 1 / log2(r + 1)
- Precision@k = sum_{r<=k} hit_r / k
- HitRate@k   = 1 if sum_{r<=k} hit_r > 0 else 0
- MRR@k       = 1 / (rank of the first hit) if that rank <= k else 0

Users with no ground-truth items (|T_u| = 0) are not evaluated: they are left out of the per-user table and of the
means (both papers average over users with >= 1 item in the evaluated split). The per-user table's ``user_id``
column is therefore the list of evaluated users. A -1 in the top-k lists (an unfillable slot) is never a hit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl
import torch

METRICS = ("recall", "ndcg", "precision", "hit_rate", "mrr")
RECALL_DENOMINATORS = ("all", "min_k")


class GroundTruth:
    """Each user's relevant items as sorted unique keys user * key_base + item, plus |T_u| per user."""

    def __init__(self, users: np.ndarray, items: np.ndarray, n_users: int) -> None:
        self.key_base = int(items.max()) + 1 if items.size else 1
        self.keys = np.unique(users.astype(np.int64) * self.key_base + items.astype(np.int64))
        self.counts = np.bincount(self.keys // self.key_base, minlength=n_users)

    @classmethod
    def from_any(cls, truth) -> "GroundTruth":
        """From a torch tensor (sparse or dense 0/1), a scipy sparse matrix, a polars frame with user_id and
        item_id columns, or a sequence of item collections indexed by user id. Stored zeros are not relevant."""
        if isinstance(truth, GroundTruth):
            return truth
        if isinstance(truth, torch.Tensor):
            coo = truth.to_sparse_coo().coalesce().cpu()
            users, items = coo.indices()[:, coo.values() != 0].numpy()
            return cls(users, items, truth.shape[0])
        if hasattr(truth, "tocoo"):
            coo = truth.tocoo()
            nonzero = coo.data != 0
            return cls(np.asarray(coo.row)[nonzero], np.asarray(coo.col)[nonzero], coo.shape[0])
        if isinstance(truth, pl.DataFrame):
            users, items = truth["user_id"].to_numpy(), truth["item_id"].to_numpy()
            return cls(users, items, int(users.max()) + 1 if users.size else 0)
        return cls.from_item_lists(truth)

    @classmethod
    def from_item_lists(cls, item_lists: Sequence[Iterable[int]]) -> "GroundTruth":
        lists = [np.fromiter(items, dtype=np.int64) for items in item_lists]
        users = np.repeat(np.arange(len(lists), dtype=np.int64), [len(x) for x in lists])
        items = np.concatenate(lists) if lists else np.empty(0, dtype=np.int64)
        return cls(users, items, len(lists))

    def n_items_of(self, users: np.ndarray) -> np.ndarray:
        """|T_u| for each user (0 for ids beyond the ground-truth matrix)."""
        inside = (users >= 0) & (users < self.counts.size)
        if not inside.any():
            return np.zeros(users.shape, dtype=np.int64)
        return np.where(inside, self.counts[np.where(inside, users, 0)], 0)

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Boolean array of the broadcast shape: item in T_user (negative or out-of-range items never are)."""
        if self.keys.size == 0:
            return np.zeros(np.broadcast_shapes(users.shape, items.shape), dtype=bool)
        valid = (items >= 0) & (items < self.key_base)
        query = users.astype(np.int64) * self.key_base + np.where(valid, items, 0)
        pos = np.minimum(np.searchsorted(self.keys, query), self.keys.size - 1)
        return (self.keys[pos] == query) & valid


def users_with_truth(truth) -> torch.Tensor:
    """Ids of the users with >= 1 ground-truth item: the users RLMRec ranks and evaluates."""
    return torch.from_numpy(np.flatnonzero(GroundTruth.from_any(truth).counts > 0))


def evaluate_topk(
    topk,
    truth,
    ks: Sequence[int] = (5, 10, 20),
    recall_denominator: str = "all",
    users=None,
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Per-user metrics and their means over evaluated users (those with >= 1 ground-truth item).

    ``topk``: (U, >= max(ks)) item ids, best first; row r belongs to ``users[r]`` (default: user id r).
    ``truth``: users x items torch tensor (sparse or dense) or scipy sparse matrix, a polars frame (user_id,
    item_id), or a sequence of item collections indexed by user id.
    Returns (per_user, means): per_user has columns user_id, n_truth and one ``<metric>@<k>`` column per metric and
    cut-off (metrics: recall, ndcg, precision, hit_rate, mrr); means maps the same column names to floats
    (NaN when no user is evaluated).
    """
    ks = _validated_cutoffs(ks)
    if recall_denominator not in RECALL_DENOMINATORS:
        raise ValueError(f"recall_denominator must be one of {RECALL_DENOMINATORS}, got {recall_denominator!r}")
    topk = _as_numpy(topk).astype(np.int64, copy=False).reshape(len(topk), -1)
    if topk.shape[1] < ks[-1]:
        raise ValueError(f"top-k lists have {topk.shape[1]} columns, fewer than the largest cut-off {ks[-1]}")
    users = np.arange(topk.shape[0]) if users is None else _as_numpy(users).astype(np.int64)
    if users.shape != (topk.shape[0],):
        raise ValueError(f"{users.size} user ids for {topk.shape[0]} top-k rows")

    ground_truth = GroundTruth.from_any(truth)
    n_truth = ground_truth.n_items_of(users)
    evaluated = n_truth > 0
    users, n_truth, topk = users[evaluated], n_truth[evaluated], topk[evaluated, : ks[-1]]
    hits = ground_truth.contains(users[:, None], topk)

    columns = {"user_id": users, "n_truth": n_truth}
    columns.update(metric_columns(hits, n_truth, ks, recall_denominator))
    per_user = pl.DataFrame(columns)
    means = {name: _mean(values) for name, values in columns.items() if "@" in name}
    return per_user, means


def metric_columns(
    hits: np.ndarray, n_truth: np.ndarray, ks: Sequence[int], recall_denominator: str = "all"
) -> dict[str, np.ndarray]:
    """All metrics at every cut-off from the (U, kmax) boolean hit matrix and |T_u| (all > 0)."""
    hits = hits.astype(np.float64)
    kmax = hits.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, kmax + 2))
    hits_at = np.cumsum(hits, axis=1)  # hits_at[:, k-1] = hits within the top k
    dcg_at = np.cumsum(hits * discounts, axis=1)
    ideal_dcg_at = np.cumsum(discounts)  # ideal_dcg_at[m-1] = IDCG with m relevant items in front
    first_hit_rank = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, np.inf)

    out: dict[str, np.ndarray] = {}
    for k in ks:
        n_hits = hits_at[:, k - 1]
        recall_denom = n_truth if recall_denominator == "all" else np.minimum(k, n_truth)
        out[f"recall@{k}"] = n_hits / recall_denom
        out[f"ndcg@{k}"] = dcg_at[:, k - 1] / ideal_dcg_at[np.minimum(k, n_truth) - 1]
        out[f"precision@{k}"] = n_hits / k
        out[f"hit_rate@{k}"] = (n_hits > 0).astype(np.float64)
        out[f"mrr@{k}"] = np.where(first_hit_rank <= k, 1.0 / first_hit_rank, 0.0)
    return {name: out[name] for metric in METRICS for name in (f"{metric}@{k}" for k in ks)}


def _validated_cutoffs(ks: Sequence[int]) -> list[int]:
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"cut-offs must be positive integers, got {ks}")
    return ks


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def _as_numpy(array) -> np.ndarray:
    return array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)

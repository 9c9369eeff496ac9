"""Batched full-rank top-k recommendation with exclusion masking (docs/methods/evaluation.md §2).

For every user u of a batch:  s_u = score(u, j) for all items j  (dot product e_u . e_j, or any ``score_fn``),
s_u[j] = -inf for every item j stored in row u of the exclusion matrix (normally the training matrix), then the k
highest-scoring items, best first (torch.topk; order among equal scores is arbitrary).

A slot that could only be filled by an excluded item (a user with fewer than k rankable items), or that lies past
the end of a catalogue smaller than k, is returned as -1,
so excluded items never appear in the result. Scoring runs on whatever device the scores come out on; the top-k
lists always come back on the CPU.

Memory is bounded by the chunk size whatever the number of users: scores exist for one batch of ``batch_size`` users
at a time (batch_size x J floats: 200 MB at the default 1024 and J = 50,000 items, 2 GB at J = 500,000; pass a
smaller batch_size for larger catalogues), and only the k-wide lists are kept for all users.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
"""score_fn(user_batch: LongTensor (B,)) -> FloatTensor (B, J): a *fresh* score matrix (it is masked in place)."""

MISSING_ITEM = -1


class CsrRows:
    """Row-slicing of a CSR matrix into (batch_row, column) coordinate pairs, without densifying it.

    Accepts a torch sparse CSR tensor or a scipy sparse matrix. The index arrays are copied to each device once.
    """

    def __init__(self, matrix) -> None:
        crow, col = _csr_index_arrays(matrix)
        self.n_rows = int(crow.numel()) - 1
        self._by_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {torch.device("cpu"): (crow, col)}

    def _arrays(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._by_device:
            crow, col = self._by_device[torch.device("cpu")]
            self._by_device[device] = (crow.to(device), col.to(device))
        return self._by_device[device]

    def coordinates(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(position in ``rows``, column) for every stored entry of the selected rows, on ``rows``' device.

        With starts = crow[rows] and counts = crow[rows + 1] - starts, entry t of selected row b sits at
        col[starts[b] + t]; all offsets are built at once with repeat_interleave.
        """
        crow, col = self._arrays(rows.device)
        starts = crow[rows]
        counts = crow[rows + 1] - starts
        total = int(counts.sum())
        batch_pos = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), counts, output_size=total)
        first_of_row = torch.cumsum(counts, 0) - counts
        offset_in_row = torch.arange(total, device=rows.device) - first_of_row[batch_pos]
        return batch_pos, col[starts[batch_pos] + offset_in_row]


def _csr_index_arrays(matrix) -> tuple[torch.Tensor, torch.Tensor]:
    """(crow_indices, col_indices) as int64 CPU tensors from a torch sparse CSR tensor or a scipy sparse matrix."""
    if isinstance(matrix, torch.Tensor):
        if matrix.layout != torch.sparse_csr:
            matrix = matrix.to_sparse_csr()
        return matrix.crow_indices().cpu().long(), matrix.col_indices().cpu().long()
    csr = matrix.tocsr()
    return torch.from_numpy(np.asarray(csr.indptr, dtype=np.int64)), torch.from_numpy(
        np.asarray(csr.indices, dtype=np.int64)
    )


@torch.no_grad()
def topk_items(
    user_emb: torch.Tensor,
    item_emb: torch.Tensor,
    users,
    exclude_csr,
    k: int,
    batch_size: int = 1024,
) -> torch.Tensor:
    """Top-k items by dot product score(u, j) = user_emb[u] . item_emb[j], excluded items masked.

    Returns a LongTensor (len(users), k) on the CPU; row r belongs to users[r]; -1 marks an unfillable slot.
    """
    users = torch.as_tensor(users, dtype=torch.int64).to(user_emb.device)
    item_emb_t = item_emb.T
    buffer: list[torch.Tensor] = []

    def dot_scores(user_batch: torch.Tensor) -> torch.Tensor:
        # One score buffer reused across batches: on the CPU a fresh (B, J) block per batch costs page faults
        # (measured ~1.3x slower end to end on amazon-book).
        rows = user_emb[user_batch]
        if not buffer:
            n_rows = min(batch_size, users.numel())
            buffer.append(torch.empty((n_rows, item_emb.shape[0]), dtype=rows.dtype, device=rows.device))
        return torch.mm(rows, item_emb_t, out=buffer[0][: rows.shape[0]])

    return topk_by_score_fn(dot_scores, users, exclude_csr, k, batch_size)


@torch.no_grad()
def topk_by_score_fn(
    score_fn: ScoreFn,
    users,
    exclude_csr,
    k: int,
    batch_size: int = 1024,
) -> torch.Tensor:
    """Top-k items for models whose scores are not a dot product (Multi-VAE, CLLM4Rec, ...).

    ``score_fn`` receives each batch of user ids (on the device of ``users``) and returns their (B, J) scores;
    the returned tensor is masked in place, so it must not be a view of state the model keeps.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    users = torch.as_tensor(users, dtype=torch.int64)
    exclusion = exclude_csr if isinstance(exclude_csr, CsrRows) or exclude_csr is None else CsrRows(exclude_csr)
    batches = [
        _topk_of_batch(score_fn, users[start : start + batch_size], exclusion, k)
        for start in range(0, users.numel(), batch_size)
    ]
    return torch.cat(batches) if batches else torch.empty((0, k), dtype=torch.int64)


def _topk_of_batch(score_fn: ScoreFn, user_batch: torch.Tensor, exclusion: CsrRows | None, k: int) -> torch.Tensor:
    scores = score_fn(user_batch)
    if scores.dim() != 2 or scores.shape[0] != user_batch.numel():
        raise ValueError(f"score_fn returned shape {tuple(scores.shape)}, expected ({user_batch.numel()}, n_items)")
    if exclusion is not None:
        batch_pos, cols = exclusion.coordinates(user_batch.to(scores.device))
        scores.index_put_((batch_pos, cols), torch.tensor(float("-inf"), dtype=scores.dtype, device=scores.device))
    values, items = torch.topk(scores, min(k, scores.shape[1]), dim=1)
    items = items.masked_fill_(values == float("-inf"), MISSING_ITEM).cpu()
    if items.shape[1] < k:  # fewer items than k (e.g. NDCG@100 on a toy catalogue): the slots past them are unfillable
        items = torch.nn.functional.pad(items, (0, k - items.shape[1]), value=MISSING_ITEM)
    return items

"""Batched top-k ranking with exclusion masking, checked against a dense brute-force ranking."""

from __future__ import annotations

import pytest
import scipy.sparse as sp
import torch

from llmrec_cli.evaluate.rank import MISSING_ITEM, CsrRows, topk_by_score_fn, topk_items

N_USERS, N_ITEMS, DIM, K = 30, 50, 8, 10
ALMOST_FULL_USER = 4  # all but 3 items excluded: only 3 of the K slots can be filled


@pytest.fixture(scope="module")
def case():
    gen = torch.Generator().manual_seed(7)
    user_emb = torch.randn(N_USERS, DIM, generator=gen, dtype=torch.float64)
    item_emb = torch.randn(N_ITEMS, DIM, generator=gen, dtype=torch.float64)
    excluded = torch.rand(N_USERS, N_ITEMS, generator=gen) < 0.2
    excluded[ALMOST_FULL_USER] = True
    excluded[ALMOST_FULL_USER, [3, 17, 41]] = False
    excluded[0] = False  # a user with nothing to exclude
    return user_emb, item_emb, excluded


def brute_force_topk(scores: torch.Tensor, excluded: torch.Tensor, k: int) -> torch.Tensor:
    """Dense reference: excluded -> -inf, full descending sort, first k; unfillable slots -> -1."""
    masked = scores.masked_fill(excluded, float("-inf"))
    order = torch.argsort(masked, dim=1, descending=True, stable=True)[:, :k]
    return order.masked_fill(torch.gather(masked, 1, order) == float("-inf"), -1)


def test_matches_dense_brute_force(case):
    user_emb, item_emb, excluded = case
    got = topk_items(user_emb, item_emb, torch.arange(N_USERS), excluded.to_sparse_csr(), K, batch_size=8)
    assert torch.equal(got, brute_force_topk(user_emb @ item_emb.T, excluded, K))


def test_excluded_items_never_appear(case):
    user_emb, item_emb, excluded = case
    got = topk_items(user_emb, item_emb, torch.arange(N_USERS), excluded.to_sparse_csr(), K)
    for user, items in enumerate(got.tolist()):
        assert not any(excluded[user, i] for i in items if i >= 0)


def test_unfillable_slots_are_minus_one(case):
    user_emb, item_emb, excluded = case
    got = topk_items(user_emb, item_emb, torch.arange(N_USERS), excluded.to_sparse_csr(), K)
    row = got[ALMOST_FULL_USER].tolist()
    assert sorted(row[:3]) == [3, 17, 41]
    assert row[3:] == [-1] * (K - 3)
    assert (got[torch.arange(N_USERS) != ALMOST_FULL_USER] >= 0).all()


@pytest.mark.parametrize("batch_size", [1, 7, 29, 1000])
def test_batch_size_does_not_change_results(case, batch_size):
    user_emb, item_emb, excluded = case
    exclusion = excluded.to_sparse_csr()
    reference = topk_items(user_emb, item_emb, torch.arange(N_USERS), exclusion, K, batch_size=N_USERS)
    got = topk_items(user_emb, item_emb, torch.arange(N_USERS), exclusion, K, batch_size=batch_size)
    assert torch.equal(got, reference)


def test_scores_exist_one_batch_at_a_time_whatever_the_number_of_users(case):
    """Memory is bounded by batch_size x items: no score block has more rows than batch_size, however many users are
    ranked, and the chunked result is the unchunked one."""
    user_emb, item_emb, excluded = case
    users = torch.arange(N_USERS).repeat(40)  # 1,200 rankings
    exclusion = CsrRows(excluded.to_sparse_csr())
    rows_scored = []

    def dot(user_batch: torch.Tensor) -> torch.Tensor:
        rows_scored.append(user_batch.numel())
        return user_emb[user_batch] @ item_emb.T

    chunked = topk_by_score_fn(dot, users, exclusion, K, batch_size=64)
    assert max(rows_scored) == 64 and sum(rows_scored) == users.numel()
    unchunked = topk_by_score_fn(dot, users, exclusion, K, batch_size=users.numel())
    assert torch.equal(chunked, unchunked)
    assert torch.equal(topk_items(user_emb, item_emb, users, exclusion, K, batch_size=64), unchunked)


def test_arbitrary_user_order_and_repeats(case):
    user_emb, item_emb, excluded = case
    exclusion = excluded.to_sparse_csr()
    full = topk_items(user_emb, item_emb, torch.arange(N_USERS), exclusion, K)
    users = torch.tensor([5, 2, 29, 2, ALMOST_FULL_USER])
    assert torch.equal(topk_items(user_emb, item_emb, users, exclusion, K, batch_size=2), full[users])


def test_no_exclusion_is_plain_topk(case):
    user_emb, item_emb, _ = case
    got = topk_items(user_emb, item_emb, torch.arange(N_USERS), None, K)
    assert torch.equal(got, torch.topk(user_emb @ item_emb.T, K, dim=1).indices)


def test_scipy_and_reusable_exclusion_agree_with_torch_csr(case):
    user_emb, item_emb, excluded = case
    users = torch.arange(N_USERS)
    reference = topk_items(user_emb, item_emb, users, excluded.to_sparse_csr(), K)
    assert torch.equal(topk_items(user_emb, item_emb, users, sp.csr_matrix(excluded.numpy()), K), reference)
    assert torch.equal(topk_items(user_emb, item_emb, users, CsrRows(excluded.to_sparse_csr()), K), reference)


def test_score_fn_path_matches_brute_force(case):
    user_emb, item_emb, excluded = case

    def negative_distance(user_batch: torch.Tensor) -> torch.Tensor:  # a non-dot-product model
        return -torch.cdist(user_emb[user_batch], item_emb)

    got = topk_by_score_fn(negative_distance, torch.arange(N_USERS), excluded.to_sparse_csr(), K, batch_size=6)
    assert torch.equal(got, brute_force_topk(-torch.cdist(user_emb, item_emb), excluded, K))


def test_output_is_cpu_int64_with_one_row_per_user(case):
    user_emb, item_emb, excluded = case
    got = topk_items(user_emb, item_emb, [1, 2, 3], excluded.to_sparse_csr(), K)
    assert got.dtype == torch.int64 and got.device.type == "cpu" and got.shape == (3, K)
    empty = topk_items(user_emb, item_emb, torch.empty(0, dtype=torch.int64), None, K)
    assert empty.shape == (0, K)


def test_k_beyond_the_catalogue_ranks_every_item_then_pads_with_missing(case):
    user_emb, item_emb, _ = case
    got = topk_items(user_emb, item_emb, [0], None, N_ITEMS + 2)
    scores = user_emb[0] @ item_emb.T
    assert got[0, :N_ITEMS].tolist() == torch.argsort(scores, descending=True).tolist()
    assert got[0, N_ITEMS:].tolist() == [MISSING_ITEM, MISSING_ITEM]


def test_invalid_arguments_raise(case):
    user_emb, item_emb, _ = case
    with pytest.raises(ValueError, match="k must be"):
        topk_items(user_emb, item_emb, [0], None, 0)
    with pytest.raises(ValueError, match="score_fn returned shape"):
        topk_by_score_fn(lambda b: torch.zeros(len(b) + 1, N_ITEMS), [0, 1], None, K)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_give_the_cpu_result(case):
    user_emb, item_emb, excluded = case
    exclusion = CsrRows(excluded.to_sparse_csr())
    users = torch.arange(N_USERS)
    on_cpu = topk_items(user_emb, item_emb, users, exclusion, K)
    on_gpu = topk_items(user_emb.cuda(), item_emb.cuda(), users.cuda(), exclusion, K, batch_size=8)
    assert on_gpu.device.type == "cpu"
    assert torch.equal(on_gpu, on_cpu)

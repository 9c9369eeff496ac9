"""Top-k metrics against rankings worked out by hand.

Fixture (items 0..9, top-3 lists given, so ties cannot matter):

    user  truth T_u          top-3        hit_r
    0     {1, 3}             [3, 5, 1]    [1, 0, 1]   |T_u| = 2 < k = 3
    1     {0, 2, 4, 6, 8}    [7, 0, 2]    [0, 1, 1]   |T_u| = 5 > k = 3
    2     {}                 [1, 2, 3]    -           no truth: not evaluated
    3     {9}                [4, 5, 6]    [0, 0, 0]   |T_u| = 1

Discounts 1/log2(r + 1): r=1 -> 1, r=2 -> 1/log2(3) = 0.6309, r=3 -> 1/log2(4) = 0.5.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch

from llmrec_cli.evaluate.metrics import evaluate_topk, users_with_truth

D2 = 1 / math.log2(3)  # discount of rank 2
D3 = 1 / math.log2(4)  # discount of rank 3 (= 0.5)

TRUTH = [{1, 3}, {0, 2, 4, 6, 8}, set(), {9}]
TOPK = [[3, 5, 1], [7, 0, 2], [1, 2, 3], [4, 5, 6]]


def per_user_dict(per_user) -> dict[int, dict[str, float]]:
    return {row["user_id"]: row for row in per_user.iter_rows(named=True)}


def test_user_without_truth_is_excluded():
    per_user, _ = evaluate_topk(TOPK, TRUTH, ks=(1, 3))
    assert per_user["user_id"].to_list() == [0, 1, 3]
    assert per_user["n_truth"].to_list() == [2, 5, 1]


def test_per_user_values_at_k3_recall_over_all_truth():
    per_user, _ = evaluate_topk(TOPK, TRUTH, ks=(1, 3), recall_denominator="all")
    rows = per_user_dict(per_user)
    # user 0: 2 hits of |T|=2; DCG = 1 + 0.5 (ranks 1, 3); IDCG = 1 + D2 (min(3, 2) = 2 ideal hits); first hit r=1
    assert rows[0]["recall@3"] == pytest.approx(2 / 2)
    assert rows[0]["ndcg@3"] == pytest.approx((1 + D3) / (1 + D2))
    assert rows[0]["precision@3"] == pytest.approx(2 / 3)
    assert rows[0]["hit_rate@3"] == 1.0
    assert rows[0]["mrr@3"] == pytest.approx(1.0)
    # user 1: 2 hits of |T|=5; DCG = D2 + D3 (ranks 2, 3); IDCG = 1 + D2 + D3 (min(3, 5) = 3); first hit r=2
    assert rows[1]["recall@3"] == pytest.approx(2 / 5)
    assert rows[1]["ndcg@3"] == pytest.approx((D2 + D3) / (1 + D2 + D3))
    assert rows[1]["precision@3"] == pytest.approx(2 / 3)
    assert rows[1]["hit_rate@3"] == 1.0
    assert rows[1]["mrr@3"] == pytest.approx(1 / 2)
    # user 3: no hit at all
    for metric in ("recall", "ndcg", "precision", "hit_rate", "mrr"):
        assert rows[3][f"{metric}@3"] == 0.0


def test_per_user_values_at_k1():
    per_user, _ = evaluate_topk(TOPK, TRUTH, ks=(1, 3), recall_denominator="all")
    rows = per_user_dict(per_user)
    # user 0: rank 1 is a hit -> recall 1/2, NDCG 1/1, precision 1/1, MRR 1/1
    assert (rows[0]["recall@1"], rows[0]["ndcg@1"], rows[0]["precision@1"]) == pytest.approx((0.5, 1.0, 1.0))
    assert (rows[0]["hit_rate@1"], rows[0]["mrr@1"]) == (1.0, 1.0)
    # user 1: rank 1 misses; its first hit (rank 2) is beyond k=1, so MRR@1 = 0
    for metric in ("recall", "ndcg", "precision", "hit_rate", "mrr"):
        assert rows[1][f"{metric}@1"] == 0.0


def test_min_k_denominator_caps_recall_by_k():
    per_user, _ = evaluate_topk(TOPK, TRUTH, ks=(1, 3), recall_denominator="min_k")
    rows = per_user_dict(per_user)
    assert rows[0]["recall@1"] == pytest.approx(1 / min(1, 2))  # 1 hit / 1
    assert rows[0]["recall@3"] == pytest.approx(2 / min(3, 2))  # 2 hits / 2
    assert rows[1]["recall@3"] == pytest.approx(2 / min(3, 5))  # 2 hits / 3 (vs 2/5 with "all")
    assert rows[3]["recall@3"] == 0.0


def test_other_metrics_do_not_depend_on_recall_denominator():
    all_rows, _ = evaluate_topk(TOPK, TRUTH, ks=(1, 3), recall_denominator="all")
    min_rows, _ = evaluate_topk(TOPK, TRUTH, ks=(1, 3), recall_denominator="min_k")
    others = [c for c in all_rows.columns if not c.startswith("recall@")]
    assert all_rows.select(others).equals(min_rows.select(others))


def test_means_are_over_evaluated_users_only():
    _, means = evaluate_topk(TOPK, TRUTH, ks=(1, 3), recall_denominator="all")
    # three evaluated users (0, 1, 3); user 2 contributes nothing
    assert means["recall@1"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert means["recall@3"] == pytest.approx((1 + 0.4 + 0) / 3)
    assert means["ndcg@3"] == pytest.approx(((1 + D3) / (1 + D2) + (D2 + D3) / (1 + D2 + D3) + 0) / 3)
    assert means["precision@3"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert means["hit_rate@3"] == pytest.approx(2 / 3)
    assert means["mrr@1"] == pytest.approx(1 / 3)
    assert means["mrr@3"] == pytest.approx((1 + 0.5 + 0) / 3)
    _, means_min_k = evaluate_topk(TOPK, TRUTH, ks=(1, 3), recall_denominator="min_k")
    assert means_min_k["recall@1"] == pytest.approx(1 / 3)
    assert means_min_k["recall@3"] == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_result_columns_and_means_keys():
    per_user, means = evaluate_topk(TOPK, TRUTH, ks=(3, 1))
    metric_columns = [f"{m}@{k}" for m in ("recall", "ndcg", "precision", "hit_rate", "mrr") for k in (1, 3)]
    assert per_user.columns == ["user_id", "n_truth", *metric_columns]
    assert list(means) == metric_columns


def test_perfect_ranking_scores_one():
    # every slot a hit, |T| = k: all metrics are 1
    per_user, means = evaluate_topk([[4, 2, 7]], [{2, 4, 7}], ks=(3,))
    assert all(means[name] == pytest.approx(1.0) for name in means)
    assert per_user.height == 1


def test_truth_formats_agree():
    rows, cols = zip(*[(u, i) for u, items in enumerate(TRUTH) for i in sorted(items)])
    dense = np.zeros((4, 10), dtype=np.float32)
    dense[list(rows), list(cols)] = 1
    expected, _ = evaluate_topk(TOPK, TRUTH, ks=(1, 3))
    frame = pl.DataFrame({"user_id": rows, "item_id": cols})
    formats = (
        sp.csr_matrix(dense),
        torch.from_numpy(dense).to_sparse_csr(),
        torch.from_numpy(dense).to_sparse(),
        torch.from_numpy(dense),
        frame,
    )
    for truth in formats:
        got, _ = evaluate_topk(torch.tensor(TOPK), truth, ks=(1, 3))
        assert got.equals(expected)


def test_stored_zeros_are_not_truth():
    truth = sp.csr_matrix((np.array([1.0, 0.0]), (np.array([0, 0]), np.array([1, 2]))), shape=(1, 5))
    per_user, _ = evaluate_topk([[2, 1]], truth, ks=(2,))
    assert per_user["n_truth"].to_list() == [1]
    assert per_user["mrr@2"].to_list() == pytest.approx([1 / 2])


def test_users_argument_maps_rows_to_user_ids():
    # the same lists for users 3 and 0 only, in that order
    per_user, _ = evaluate_topk([TOPK[3], TOPK[0]], TRUTH, ks=(3,), users=[3, 0])
    assert per_user["user_id"].to_list() == [3, 0]
    assert per_user["recall@3"].to_list() == pytest.approx([0.0, 1.0])


def test_missing_slot_is_never_a_hit():
    # key user * (max_item + 1) + item: user 1's -1 would alias user 0's item 9 without the validity check
    truth = [{9}, {5}]
    per_user, _ = evaluate_topk([[0, 1], [-1, -1]], truth, ks=(2,))
    assert per_user["hit_rate@2"].to_list() == [0.0, 0.0]


def test_duplicate_truth_entries_count_once():
    per_user, _ = evaluate_topk([[1, 2]], [[1, 1, 3]], ks=(2,))
    assert per_user["n_truth"].to_list() == [2]
    assert per_user["recall@2"].to_list() == pytest.approx([0.5])


def test_no_evaluated_user_gives_nan_means():
    per_user, means = evaluate_topk([[0, 1]], [set()], ks=(2,))
    assert per_user.height == 0
    assert math.isnan(means["recall@2"])


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="recall_denominator"):
        evaluate_topk(TOPK, TRUTH, ks=(3,), recall_denominator="k")
    with pytest.raises(ValueError, match="largest cut-off"):
        evaluate_topk(TOPK, TRUTH, ks=(5,))
    with pytest.raises(ValueError, match="cut-offs"):
        evaluate_topk(TOPK, TRUTH, ks=(0,))


def test_users_with_truth():
    assert users_with_truth(TRUTH).tolist() == [0, 1, 3]

"""Every metric on a tiny example whose value is computed by hand here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_core.evaluation import metrics as M


def test_ranking_metrics_one_relevant_item_by_hand():
    # user 0: positive at rank 0; user 1: rank 2; user 2: rank 12 (outside top 10)
    hits = M.hits_from_rank(np.array([0, 2, 12]), 10)
    m = M.ranking_metrics(hits)
    assert m["HR@10"] == pytest.approx(2 / 3)
    assert m["NDCG@10"] == pytest.approx((1 + 1 / math.log2(4)) / 3)
    assert m["MRR@10"] == pytest.approx((1 + 1 / 3) / 3)
    assert m["Recall@10"] == pytest.approx(2 / 3)
    assert m["Precision@10"] == pytest.approx(2 / 30)
    assert m["MAP@10"] == pytest.approx((1 + 1 / 3) / 3)


def test_ranking_metrics_several_relevant_items_by_hand():
    # one user, list of 4, relevant at positions 1 and 3 (0-based), 3 relevant items in all
    hits = np.array([[False, True, False, True]])
    m = M.ranking_metrics(hits, n_relevant=np.array([3]))
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["NDCG@4"] == pytest.approx(dcg / idcg)
    assert m["Recall@4"] == pytest.approx(2 / 3)
    assert m["Precision@4"] == pytest.approx(2 / 4)
    assert m["MRR@4"] == pytest.approx(1 / 2)
    assert m["MAP@4"] == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert m["HR@4"] == 1.0


def test_perfect_and_empty_lists():
    assert M.ranking_metrics(M.hits_from_rank(np.zeros(5, int), 10))["NDCG@10"] == 1.0
    none = M.ranking_metrics(np.zeros((4, 10), bool))
    assert all(v == 0 for v in none.values())


def test_positive_rank_ties_never_favour_the_positive():
    rng = np.random.default_rng(0)
    scores = np.ones((2000, 100))  # a model that scores every item the same
    rank = M.positive_rank(scores, seed=1)
    hr = M.ranking_metrics(M.hits_from_rank(rank, 10))["HR@10"]
    assert 0.08 < hr < 0.12  # about 10/100, never 1.0
    # strict order: the positive is beaten by exactly the two larger scores
    s = np.array([[0.5, 0.9, 0.1, 0.7, 0.2]])
    assert M.positive_rank(s)[0] == 2
    # padded candidates do not count
    valid = np.array([[True, False, True, False, True]])
    assert M.positive_rank(s, valid)[0] == 0
    del rng


def test_auc_by_hand():
    s = np.array([[0.5, 0.9, 0.1, 0.5, 0.2], [1.0, 0.0, 0.0, 0.0, 0.0]])
    # user 0: beats 0.1, 0.2, ties 0.5 (half) -> 2.5 / 4; user 1: 4 / 4
    assert M.auc(s) == pytest.approx((2.5 / 4 + 1) / 2)


def test_rmse_mae():
    assert M.rmse(np.array([1, 2, 3]), np.array([1, 2, 5])) == pytest.approx(math.sqrt(4 / 3))
    assert M.mae(np.array([1, 2, 3]), np.array([1, 2, 5])) == pytest.approx(2 / 3)


def test_beyond_accuracy_by_hand():
    topk = np.array([[0, 1], [0, 2]])
    counts = np.array([4, 2, 1, 0])
    assert M.coverage(topk, 4) == 3 / 4
    # novelty with 4 users: p = 4/4, 2/4, 4/4, 1/4 -> -log2: 0, 1, 0, 2
    assert M.novelty(topk, counts, 4) == pytest.approx((0 + 1 + 0 + 2) / 4)
    assert M.mean_popularity(topk, counts) == pytest.approx((4 + 2 + 4 + 1) / 4)
    genres = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], float)
    # list 0: cos(item0, item1) = 1/sqrt2; list 1: cos(item0, item2) = 0
    assert M.diversity(topk, genres) == pytest.approx(((1 - 1 / math.sqrt(2)) + 1) / 2)
    assert math.isnan(M.diversity(topk, None))
    # exposure counts [2, 1, 1, 0] -> sorted [0, 1, 1, 2]; Gini = 2*sum(i*x)/(n*sum) - (n+1)/n
    assert M.gini(topk, 4) == pytest.approx(2 * (0 * 1 + 1 * 2 + 1 * 3 + 2 * 4) / (4 * 4) - 5 / 4)
    assert M.gini(np.array([[0], [1], [2], [3]]), 4) == pytest.approx(0.0)


def test_top_in_order_is_a_stable_descending_sort_cut_at_k():
    import torch

    from recsys_core.evaluation.scoring import top_in_order

    rng = np.random.default_rng(1)
    for _ in range(200):
        n, b = int(rng.integers(2, 300)), int(rng.integers(1, 8))
        s = rng.integers(-3, 3, (b, n)).astype(np.float32) * np.float32(rng.choice([1, 0.5, 1e-3, 1e30]))
        s[rng.random((b, n)) < 0.2] = -np.inf
        s[rng.random((b, n)) < 0.2] = -0.0  # ties with 0.0, as in a sort
        k = int(rng.integers(1, n + 1))
        values, indices = torch.sort(torch.as_tensor(s), dim=1, descending=True, stable=True)
        got_values, got = top_in_order(s, k)
        assert (got == indices[:, :k].numpy()).all() and np.array_equal(got_values, values[:, :k].numpy())

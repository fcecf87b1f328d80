"""Protocols, evaluation negatives and training samplers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from recsys_core.data import synthetic
from recsys_core.data.interactions import interactions
from recsys_core.evaluation.scoring import evaluate
from recsys_core.evaluation.splits import loo_split, ratings_folds, ratings_split
from recsys_core.training.fitting import fit_model
from recsys_core.training.sampling import NegativeSampler
from tests.helpers import constant_scores, tiny_dataset


def test_loo_holds_out_latest_and_second_latest():
    rows = [(1, 1, 5, 10), (1, 2, 4, 30), (1, 3, 3, 20), (1, 4, 2, 40), (2, 1, 5, 5), (2, 2, 5, 6), (3, 3, 1, 1)]
    ds = tiny_dataset(rows, n_items=6)
    s = loo_split(ds, n_negatives=2, use_cache=False)
    assert s.test_items[0] == 3 and s.valid_items[0] == 1  # item 4 (ts 40) test, item 2 (ts 30) valid
    assert s.test_items[1] == -1 and s.test_items[2] == -1  # fewer than 3 interactions: train only
    assert s.train_only_users == 2
    assert sorted(zip(s.train.users.tolist(), s.train.items.tolist())) == [(0, 0), (0, 2), (1, 0), (1, 1), (2, 2)]


def test_eval_negatives_are_unseen_distinct_and_deterministic():
    ds = synthetic(users=150, items=200, seed=2)
    a = loo_split(ds, seed=5, use_cache=False)
    b = loo_split(ds, seed=5)  # computed, then cached
    c = loo_split(ds, seed=5)  # from the cache
    for kind in ("uniform", "popularity"):
        for stage in (0, 1):
            np.testing.assert_array_equal(a.negatives[kind][stage], b.negatives[kind][stage])
            np.testing.assert_array_equal(b.negatives[kind][stage], c.negatives[kind][stage])
    users = a.eval_users
    neg = a.negatives["uniform"][1][users]
    assert (neg >= 0).all() and neg.shape[1] == 99
    seen = a.seen[users].toarray().astype(bool)
    assert not np.take_along_axis(seen, neg, 1).any()
    assert all(len(set(row)) == 99 for row in neg)
    assert not np.array_equal(loo_split(ds, seed=6, use_cache=False).negatives["uniform"][1], a.negatives["uniform"][1])


def test_popularity_negatives_are_more_popular_than_uniform():
    ds = synthetic(users=300, items=300, seed=0)
    s = loo_split(ds, use_cache=False)
    pop = s.train.item_counts
    u = s.eval_users
    assert pop[s.negatives["popularity"][1][u]].mean() > 1.2 * pop[s.negatives["uniform"][1][u]].mean()


def test_corrupt_split_cache_is_rebuilt(tmp_path):
    ds = synthetic(users=60, items=120, seed=1)
    a = loo_split(ds)
    from recsys_core.evaluation.splits import _cache_path

    path = _cache_path(ds.fingerprint, "loo-99", 0)
    path.write_bytes(b"garbage")
    b = loo_split(ds)
    np.testing.assert_array_equal(a.negatives["uniform"][1], b.negatives["uniform"][1])


def test_constant_model_gets_chance_level_hr():
    ds = synthetic(users=600, items=300, seed=0)
    s = loo_split(ds, use_cache=False)
    m = constant_scores(ds.n_users, ds.n_items)
    fit_model(m, s.train)
    for p in ("loo-uniform", "loo-popularity"):
        assert 0.06 < evaluate(m, s, p)["HR@10"] < 0.14  # about 10/100, never 1.0


def test_ratings_split_and_folds_partition_the_ratings():
    ds = synthetic(users=100, items=80, seed=0)
    r = ratings_split(ds, seed=0)
    n = ds.n_ratings
    assert len(r.train) + len(r.valid) + len(r.test) == n
    assert abs(len(r.test) / n - 0.1) < 0.03
    folds = ratings_folds(ds, 5, seed=0)
    test_keys = np.concatenate([f.test.users * 1000 + f.test.items for f in folds])
    assert len(test_keys) == n and len(np.unique(test_keys)) == n
    for f in folds:
        assert len(f.train) + len(f.valid) + len(f.test) == n


# ------------------------------------------------------------------ training samplers


@pytest.mark.parametrize("kind", ["uniform", "popularity", "inverse-popularity"])
def test_sampler_never_returns_a_positive_on_a_dense_case(kind):
    # 5 users x 8 items, each user has seen 6 or 7 of the 8 items
    rows = [(u, i, 4, i) for u in range(1, 6) for i in range(1, 9) if i not in (u, u + 1) or (u == 5 and i == 5)]
    tr = interactions(tiny_dataset(rows, n_items=8))
    sampler = NegativeSampler(tr, kind)
    users = torch.as_tensor(np.repeat(np.arange(5), 200))
    neg = sampler.sample(users, 3, torch.Generator().manual_seed(0))
    seen = tr.binary.toarray().astype(bool)
    assert not seen[users.numpy()[:, None], neg.numpy()].any()


@pytest.mark.parametrize("kind", ["uniform", "popularity", "inverse-popularity"])
def test_sampler_distribution_matches_weights(kind):
    ds = synthetic(users=200, items=60, seed=3)
    tr = interactions(ds)
    sampler = NegativeSampler(tr, kind)
    user = 0
    draws = sampler.sample(torch.zeros(60_000, dtype=torch.long), 1, torch.Generator().manual_seed(1)).numpy().ravel()
    allowed = ~tr.binary[user].toarray().ravel().astype(bool)
    w = sampler.probabilities() * allowed
    expected = w / w.sum() * len(draws)
    observed = np.bincount(draws, minlength=ds.n_items)
    assert observed[~allowed].sum() == 0
    _, p = chisquare(observed[allowed], expected[allowed])
    assert p > 0.001


def test_per_user_counts_follow_history():
    ds = synthetic(users=50, items=100, seed=0)
    tr = interactions(ds)
    users, items = NegativeSampler(tr).per_user(2.0, torch.Generator().manual_seed(0))
    got = np.bincount(users.numpy(), minlength=ds.n_users)
    np.testing.assert_array_equal(got, np.round(2.0 * tr.user_counts))
    assert not tr.binary.toarray()[users.numpy(), items.numpy()].any()


def test_hr_standard_error_counts_the_evaluated_users():
    from recsys_core.runs.results import hr_standard_error

    rows = [(u, i, 4, i) for u in (1, 2, 3, 4) for i in (1, 2, 3)] + [(5, 1, 4, 1), (5, 2, 4, 2)]
    se, n = hr_standard_error(tiny_dataset(rows, n_items=4), 0.5)
    assert n == 4  # user 5 has 2 ratings: train only
    assert se == pytest.approx(0.25)  # sqrt(0.5 * 0.5 / 4)


def test_full_ranking_validation_ranks_the_validation_item_against_every_item_never_interacted_with():
    from recsys_core.evaluation.scoring import evaluate_full_valid, evaluate_sampled
    from recsys_core.models.base import Recommender

    ds = synthetic(users=120, items=400, seed=4)
    split = loo_split(ds, use_cache=False)
    scores = np.random.default_rng(0).random((ds.n_users, ds.n_items)).astype(np.float32)  # no ties

    class Fixed(Recommender):
        def fit(self, train, valid=None, callbacks=(), cancel=None):
            self.remember_seen(train)

        def score(self, users, items=None):
            rows = scores[np.asarray(users)]
            return torch.as_tensor(rows if items is None else np.take_along_axis(rows, np.asarray(items), 1))

    model = Fixed(ds.n_users, ds.n_items)
    fit_model(model, split.train)
    seen = split.seen.toarray().astype(bool)
    hits, gains = [], []
    for u in np.flatnonzero(split.valid_items >= 0):  # by hand
        v = split.valid_items[u]
        rank = int((scores[u][~seen[u]] > scores[u, v]).sum())
        hits.append(rank < 10)
        gains.append(1 / np.log2(rank + 2) if rank < 10 else 0.0)
    got = evaluate_full_valid(model, split)
    assert got["HR@10"] == pytest.approx(np.mean(hits)) and got["NDCG@10"] == pytest.approx(np.mean(gains))
    sampled = evaluate_sampled(model, split, "uniform", 10, "valid")["HR@10"]
    assert got["HR@10"] < sampled  # every item is a harder field than 99


def test_a_fit_validated_on_full_ranking_monitors_the_full_ranking_figure():
    from recsys_core.evaluation.scoring import evaluate_full_valid, evaluate_sampled
    from recsys_core.runs import zoo

    ds = synthetic(users=80, items=300, seed=5)
    split = loo_split(ds, use_cache=False)
    rows = {}
    for on in ("uniform", "full"):
        model = zoo.make(
            "sasrec", ds.n_users, ds.n_items, {"epochs": 1, "hidden": 16, "max_len": 10, "validate_on": on}
        )
        rows[on] = fit_model(model, split.train, split).epochs[0]
        want = (
            evaluate_full_valid(model, split)
            if on == "full"
            else evaluate_sampled(model, split, "uniform", 10, "valid")
        )
        assert rows[on]["NDCG@10"] == pytest.approx(want["NDCG@10"])
    assert rows["full"]["HR@10"] < rows["uniform"]["HR@10"]

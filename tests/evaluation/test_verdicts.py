"""Verdicts: the temporal split, full-ranking figures by hand with ties, paired tests both
ways, Holm, segments that partition, calibration by hand, and the CLI's one-line refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from recsys_core.cli import main
from recsys_core.data import synthetic
from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError
from recsys_core.evaluation import metrics as M
from recsys_core.evaluation.metrics import Ranks
from recsys_core.evaluation.paired import holm, paired, paired_test, parse_metric, segment_context, segments
from recsys_core.evaluation.protocols import HEADLINE, PROTOCOLS, RANKING
from recsys_core.evaluation.scoring import evaluate_temporal
from recsys_core.evaluation.temporal import temporal_split
from recsys_core.models.base import Recommender
from tests.helpers import tiny_dataset

# user, item, rating, time: user 4 appears only in the test window (cold)
ROWS = [
    (1, 1, 5, 1),
    (1, 2, 4, 2),
    (1, 3, 3, 9),
    (1, 4, 3, 10),
    (2, 2, 5, 3),
    (2, 5, 5, 8),
    (3, 3, 4, 4),
    (3, 4, 4, 5),
    (4, 5, 3, 10),
]


class Fixed(Recommender):
    """Scores from a fixed [users, items] matrix."""

    def __init__(self, scores):
        super().__init__(*np.asarray(scores).shape)
        self.table = torch.as_tensor(np.asarray(scores, dtype=np.float32))

    def fit(self, train, valid=None, callbacks=(), cancel=None):
        self.remember_seen(train)

    def score(self, users, items=None):
        s = self.table[torch.as_tensor(users)]
        return s if items is None else torch.gather(s, 1, torch.as_tensor(items))


def test_full_ranking_is_the_headline_and_sampled_protocols_say_so():
    assert HEADLINE == "full" and RANKING[0] == "full"
    assert PROTOCOLS["loo-uniform"].sampled and "Krichene" in PROTOCOLS["loo-uniform"].note
    assert not PROTOCOLS["full"].sampled and not PROTOCOLS["temporal"].sampled
    assert PROTOCOLS["ratings"].mode == "min" and PROTOCOLS["full"].better(0.3, 0.2)


def test_temporal_split_never_trains_on_the_future_and_counts_what_it_leaves_out():
    ds = tiny_dataset(ROWS, 5)
    ts = temporal_split(ds, test_share=0.2, valid_share=0.2)
    assert ts.cut_test == 10 and ts.cut_valid == 8
    assert ts.train.timestamps.max() < ts.cut_valid  # no training interaction at or after the cut-off
    assert sorted(ts.valid_rows.timestamps) == [8, 9] and sorted(ts.test_rows.timestamps) == [10, 10]
    t = ts.targets("test")
    assert t.report == {
        "users": 1,
        "targets": 1,
        "cold_users": 1,  # user 4: no training history, counted, not silently dropped
        "cold_user_targets": 1,
        "repeat_targets": 0,
        "new_item_targets": 0,
    }
    # every test-window interaction is either a target or counted
    rep = t.report
    assert rep["targets"] + rep["cold_user_targets"] + rep["repeat_targets"] == len(ts.test_rows)


def test_temporal_cutoffs_that_leave_nothing_are_refused():
    ds = tiny_dataset(ROWS, 5)
    with pytest.raises(ConfigError, match="leave no training data"):
        temporal_split(ds, test_share=0.6, valid_share=0.5)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        temporal_split(ds, test_share=0)
    same_time = tiny_dataset([(u, i, 4, 7) for u, i, _, _ in ROWS], 5)
    with pytest.raises(ConfigError, match="leaves no training data"):
        temporal_split(same_time)


def test_temporal_full_ranking_by_hand_with_ties():
    ds = tiny_dataset(ROWS, 5)
    ts = temporal_split(ds, test_share=0.2, valid_share=0.2)
    u1, item4 = 0, 3
    # user 1 had items 1-3 before the test window: only items 4 and 5 are candidates; a tie
    scores = np.zeros((4, 5))
    scores[u1] = [9, 9, 9, 0.5, 0.5]  # seen items score highest: they must not count
    m, _, _, ranks = evaluate_temporal(Fixed(scores), ts, k=1)
    draw = np.floor(np.random.default_rng(ts.seed).random(1) * 2).astype(int)[0]  # 0 greater, 1 tie
    assert ranks.users.tolist() == [u1] and ranks.items.tolist() == [item4] and ranks.ranks.tolist() == [draw]
    assert m["HR@1"] == float(draw == 0) and m["users"] == 1 and m["cold_users"] == 1
    scores[u1, 4] = 0.1  # now item 4 is first among the candidates: HR@1 = NDCG@1 = 1
    m = evaluate_temporal(Fixed(scores), ts, k=1)[0]
    assert m["HR@1"] == 1.0 and m["NDCG@1"] == 1.0


def test_per_user_metrics_from_ranks_by_hand():
    # user 0: targets at ranks 0 and 3; user 1: one target at rank 12 (outside)
    r = Ranks(np.array([0, 0, 1]), np.array([5, 6, 7]), np.array([0, 3, 12]))
    users, per = r.per_user(10)
    assert users.tolist() == [0, 1]
    dcg = 1 + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert per["NDCG@10"] == pytest.approx([dcg / idcg, 0.0])
    assert per["Recall@10"] == pytest.approx([1.0, 0.0])
    assert per["MAP@10"] == pytest.approx([(1 + 2 / 4) / 2, 0.0])


def test_paired_test_finds_a_planted_difference_both_ways():
    rng = np.random.default_rng(0)
    base = rng.random(800)
    better = base + 0.05 + rng.normal(0, 0.05, 800)
    ab = paired_test(better, base, resamples=2000)
    assert ab["p_value"] < 1e-6 and ab["ci95"][0] < 0.05 < ab["ci95"][1] and ab["diff"] > 0
    ba = paired_test(base, better, resamples=2000)
    assert ba["diff"] == pytest.approx(-ab["diff"]) and ba["ci95"][1] < 0 and ba["wins"] == ab["losses"]
    # as records: the verdict names the model ahead, whichever is given first
    ra = Ranks(np.arange(50), np.zeros(50, int), np.zeros(50, int))  # every user hits at rank 0
    rb = Ranks(np.arange(50), np.zeros(50, int), np.full(50, 20))  # every user misses
    assert paired(ra, rb, "HR@10", ("A", "B"), resamples=500).verdict().startswith("A is ahead of B")
    assert paired(rb, ra, "HR@10", ("B", "A"), resamples=500).verdict().startswith("A is ahead of B")
    # a small gap on few users is within noise, said the same both ways
    rc = Ranks(np.arange(50), np.zeros(50, int), np.r_[np.zeros(26, int), np.full(24, 20)])
    rd = Ranks(np.arange(50), np.zeros(50, int), np.r_[np.zeros(25, int), np.full(25, 20)])
    for x, y, names in ((rc, rd, ("C", "D")), (rd, rc, ("D", "C"))):
        assert "within noise" in paired(x, y, "HR@10", names, resamples=500).verdict()


def test_a_model_against_itself_is_a_zero_difference_with_p_one():
    r = Ranks(np.arange(30), np.zeros(30, int), np.arange(30))
    p = paired(r, r, "NDCG@10", ("m", "m"), resamples=500)
    assert p.diff == 0 and p.p_value == 1.0 and p.ties == 30 and p.ci95 == (0.0, 0.0) and not p.significant


def test_bootstrap_interval_covers_the_true_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = 0
    trials = 200
    for t in range(trials):
        x = rng.exponential(1.0, 300)
        y = x - 0.1 + rng.normal(0, 0.5, 300)  # true mean difference x - y: 0.1
        lo, hi = paired_test(x, y, resamples=1000, seed=t)["ci95"]
        covered += lo <= 0.1 <= hi
    assert 0.90 <= covered / trials <= 0.99


def test_holm_by_hand():
    got = holm([0.01, 0.04, 0.03, 0.2])
    # sorted 0.01, 0.03, 0.04, 0.2 -> 0.04, 0.09, max(0.09, 0.08) = 0.09, max(0.09, 0.2) = 0.2
    assert got == pytest.approx([0.04, 0.09, 0.09, 0.2])


def test_metric_names_are_checked():
    assert parse_metric("ndcg@20") == ("NDCG", 20)
    for bad in ("AUC", "coverage@10", "NDCG@0", "NDCG"):
        with pytest.raises(ConfigError, match="per-user ranking metric"):
            parse_metric(bad)


def test_segments_partition_the_rows_they_are_made_from():
    ds = synthetic(users=80, items=40, seed=0)
    for protocol in ("full", "temporal"):
        train, ref = segment_context(ds, protocol)
        rng = np.random.default_rng(0)
        users = np.sort(rng.integers(0, ds.n_users, 200))
        r = Ranks(users, rng.integers(0, ds.n_items, 200), rng.integers(0, 40, 200))
        for kind in ("activity", "popularity", "recency"):
            masks = [m for _, m in segments(kind, r, train, ref)]
            assert (np.sum(masks, axis=0) == 1).all(), (protocol, kind)  # each row in exactly one segment
            if kind != "popularity":  # a user's rows stay together
                for m in masks:
                    assert not set(users[m]) & set(users[~m])
    with pytest.raises(ConfigError, match="unknown segment"):
        segments("age", r, train, ref)


def test_popularity_groups_by_hand():
    # 100 interactions: item 0 has 30 (head: the first 20 %), items 1-3 have 20 each, item 4 has 10 (tail)
    groups = M.popularity_groups(np.array([30, 20, 20, 20, 10, 0]))
    assert groups.tolist() == [0, 1, 1, 2, 2, 2]


def test_calibration_by_hand():
    history = Interactions(np.array([0, 0]), np.array([0, 1]), np.ones(2, np.float32), np.zeros(2, int), 1, 4).binary
    features = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    same = np.array([[0, 1]])  # the list's genre mix equals the history's: 0
    assert M.genre_calibration(same, history, features) == pytest.approx(0.0, abs=1e-12)
    other = np.array([[2, 3]])  # all genre 2 against a history of genre 1: KL(1 || 0.01)
    assert M.genre_calibration(other, history, features) == pytest.approx(-math.log(0.01))
    counts = np.array([50, 30, 15, 5])  # head: item 0; mid: item 1; tail: items 2 and 3
    # history (head 1/2, mid 1/2, tail 0) against a list of head items only: mixture m = (3/4, 1/4, 0)
    js = 0.5 * (0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)) + 0.5 * math.log2(1 / 0.75)
    assert M.popularity_calibration(np.array([[0, 0]]), history, counts) == pytest.approx(js)
    assert M.popularity_calibration(np.array([[0, 1]]), history, counts) == pytest.approx(0.0, abs=1e-12)


def test_compare_cli_json_and_one_line_refusals(capsys):
    src = "synthetic:users=60,items=40,seed=0"
    assert main(["compare", "popularity", "popularity", "--dataset", src, "--json", "--resamples", "200"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "a",
        "b",
        "metric",
        "protocol",
        "mean_a",
        "mean_b",
        "diff",
        "ci95",
        "p_value",
        "wins",
        "ties",
        "losses",
        "users",
    }
    assert out["diff"] == 0 and out["p_value"] == 1 and out["protocol"] == "full" and out["metric"] == "NDCG@10"
    for argv, said in (
        (["compare", "nosuch", "ease"], "unknown model"),
        (["compare", "run:999", "ease"], "no stored run"),
        (["compare", "ease", "popularity", "--metric", "AUC"], "per-user ranking metric"),
        (["compare", "ease", "popularity", "--protocol", "ratings"], "ranking protocol"),
        (["evaluate", "ease", "--protocol", "temporal", "--test-share", "0.95"], "no training data"),
    ):
        assert main([*argv, "--dataset", src]) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_compare_ease_with_popularity_in_segments_and_evaluate_by(capsys):
    src = "synthetic:users=80,items=40,seed=0"
    argv = ["compare", "ease", "popularity", "--dataset", src, "--by", "popularity", "--json", "--resamples", "200"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["segment"] for s in out["segments"]] == ["head items", "mid items", "tail items"]
    assert sum(s["users"] for s in out["segments"]) == out["users"]
    assert main(["evaluate", "popularity", "--dataset", src, "--protocol", "temporal", "--by", "activity"]) == 0
    text = capsys.readouterr().out
    assert "temporal, by activity" in text and "Q1 (fewest)" in text and "left out" in text


def test_a_sequential_model_reads_a_whole_window_in_time_order():
    from recsys_core.models.sequential import SequentialRecommender

    class Reader:  # the state `read` works on, without a trained model
        n_users, seen_ = 3, None
        cfg = type("Cfg", (), {"max_len": 4})()
        history = torch.tensor([[0, 0, 5, 6], [1, 2, 3, 4], [0, 0, 0, 0]])

    r = Reader()
    # user 0 reads item 9; user 1 items 8 (t=1) then 7 (t=2), given out of order; user 2 item 1
    rows = Interactions(
        np.array([0, 1, 1, 2]), np.array([9, 7, 8, 1]), np.ones(4, np.float32), np.array([1, 2, 1, 5]), 3, 10
    )
    SequentialRecommender.read(r, rows)
    assert r.history.tolist() == [[0, 5, 6, 10], [3, 4, 9, 8], [0, 0, 0, 2]]  # ids + 1, latest last, max_len kept


def test_why_this_names_the_history_item_that_contributes_most():
    from recsys_core.runs.embeddings import because

    weights = np.zeros((5, 5))
    weights[0, 3], weights[1, 3], weights[1, 4] = 0.2, 0.6, 0.1  # EASE-like: history 0, 1 -> items 3, 4
    source, share = because(np.array([0, 1]), np.array([3, 4]), weights=weights[np.ix_([0, 1], [3, 4])])
    assert source.tolist() == [1, 1] and share == pytest.approx([0.6, 0.1])  # B[j, i] itself
    vectors = np.array([[1.0, 0], [0, 1.0], [0.7, 0.7], [0.9, 0.1], [0.1, 0.9]])
    source, _ = because(np.array([0, 1]), np.array([3, 4]), vectors=vectors)
    assert source.tolist() == [0, 1]  # the most similar history movie
    source, _ = because(np.array([0, 1]), np.array([3, 4]), vectors=vectors, attention=np.array([0.01, 0.99]))
    assert source.tolist() == [1, 1]  # attention moves the reason to what the model reads
    source, share = because(np.array([], dtype=int), np.array([3]), vectors=vectors)
    assert source.tolist() == [-1] and np.isnan(share[0])

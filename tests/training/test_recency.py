"""Recency weights: hand-computed values, and models that use them follow a planted drift
of taste (leave-one-out by time asks for the next interaction)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from recsys_core.data.interactions import interactions
from recsys_core.evaluation.scoring import evaluate
from recsys_core.evaluation.splits import loo_split
from recsys_core.runs import zoo
from recsys_core.training.fitting import fit_model
from tests.helpers import tiny_dataset


@functools.cache
def drift_data():
    """Built at first use, once for this module (never at import)."""
    return drifting()


@functools.cache
def drift_split():
    """Built at first use, once for this module (never at import)."""
    return loo_split(drift_data(), n_negatives=40, use_cache=False)


def test_recency_weights_hand_computed():
    rows = [(1, 1, 5, 10), (1, 2, 4, 30), (1, 3, 3, 20), (1, 4, 2, 40), (2, 1, 5, 7), (2, 2, 5, 7), (2, 3, 1, 9)]
    full = interactions(tiny_dataset(rows, n_items=5))
    by_row = {(int(u), int(i)): k for k, (u, i) in enumerate(zip(full.users, full.items))}
    rank = full.recency_rank
    assert [rank[by_row[0, i]] for i in (3, 1, 2, 0)] == [0, 1, 2, 3]  # ts 40, 30, 20, 10
    assert rank[by_row[1, 2]] == 0 and sorted(rank[[by_row[1, 0], by_row[1, 1]]]) == [1, 2]  # a tie at ts 7
    w = full.recency_weights(2.0)
    assert w[by_row[0, 3]] == pytest.approx(1.0)
    assert w[by_row[0, 1]] == pytest.approx(2**-0.5)
    assert w[by_row[0, 0]] == pytest.approx(2**-1.5)
    assert (full.recency_weights(0.0) == 1).all()
    m = full.weighted_matrix(2.0).toarray()
    assert m[0, 2] == pytest.approx(0.5) and m[0, 4] == 0


def drifting(users: int = 240, groups: int = 4, per_group: int = 30, old: int = 14, new: int = 6, seed: int = 0):
    """Every user first rates `old` movies of one group, then `new` of the next group:
    the held-out (latest) movies come from the new taste."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        g = u % groups
        first = rng.choice(per_group, old, replace=False) + g * per_group
        then = rng.choice(per_group, new, replace=False) + ((g + 1) % groups) * per_group
        for t, item in enumerate([*first, *then]):
            rows.append((u + 1, int(item) + 1, 4, 1000 + 10 * t))
    return tiny_dataset(rows, n_items=groups * per_group)


FAST = {
    "ease": {},
    "cdae": {"epochs": 30, "batch_size": 32, "lr": 0.003, "hidden": 32, "patience": 30},
    "mf": {"epochs": 30, "batch_size": 256, "lr": 0.01, "dim": 16, "patience": 30, "n_negatives": 4},
}


def _hr(name: str, half_life: float, extra: dict) -> float:
    m = zoo.make(
        name, drift_data().n_users, drift_data().n_items, {**FAST[name], **extra, "recency_half_life": half_life}
    )
    assert fit_model(m, drift_split().train, drift_split()).status == "done"
    return evaluate(m, drift_split(), "loo-uniform")["HR@10"]


@pytest.mark.parametrize("name,extra", [("ease", {}), ("cdae", {}), ("mf", {}), ("mf", {"loss": "bce"})])
def test_recency_weights_follow_a_drift_of_taste(name, extra):
    """MF weights its positives in its shipped sampled softmax and in BCE alike."""
    plain, recent = _hr(name, 0.0, extra), _hr(name, 3.0, extra)
    assert recent > plain + 0.1, (name, extra, plain, recent)


def test_recency_option_is_validated():
    with pytest.raises(Exception, match="recency_half_life"):
        zoo.config_for("ncf", {"recency_half_life": "-1"})

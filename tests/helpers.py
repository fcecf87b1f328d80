"""Small shared helpers for tests."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from recsys_core.data.dataset import Dataset, build_dataset
from recsys_core.data.synthetic import synthetic
from recsys_core.evaluation.splits import LooSplit, loo_split
from recsys_core.sweeps.spec import Sweep


@functools.cache
def planted(users: int = 300, items: int = 200, seed: int = 0) -> Dataset:
    """A planted synthetic dataset (genre tastes, popularity skew), built at first use and once
    a test process (never at import)."""
    return synthetic(users=users, items=items, seed=seed)


@functools.cache
def planted_split(users: int = 300, items: int = 200, seed: int = 0) -> LooSplit:
    """Its leave-one-out split, built once (the split cache is not used: tests stay apart)."""
    return loo_split(planted(users, items, seed), use_cache=False)


def tiny_dataset(rows: list[tuple[int, int, float, int]], n_items: int, genres: list[str] | None = None):
    """A Dataset from (user, item, rating, timestamp) rows with 1-based ids; every item listed."""
    r = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"]).astype(
        {"user_id": str, "item_id": str}
    )
    items = pd.DataFrame(
        {
            "item_id": [str(i + 1) for i in range(n_items)],
            "title": [f"Item {i + 1} (2000)" for i in range(n_items)],
            "year": 2000,
            "genres": [(genres[i % len(genres)] if genres else "") for i in range(n_items)],
        }
    )
    return build_dataset("tiny", r, items, None, sorted(set(genres or [])), drop_unrated=False)


def constant_scores(n_users: int, n_items: int):
    from recsys_core.models.base import Recommender

    class Constant(Recommender):
        def fit(self, train, valid=None, callbacks=(), cancel=None):
            self.remember_seen(train)

        def score(self, users, items=None):
            import torch

            shape = (len(users), n_items) if items is None else tuple(np.asarray(items).shape)
            return torch.zeros(shape)

    return Constant(n_users, n_items)


def failing_middle_sweep(name: str, base: dict) -> Sweep:
    """Three NCF points whose middle one cannot train (per-user negatives need BCE): it
    ends failed and the other two run."""
    return Sweep(
        name,
        "ncf",
        "point",
        (("a", {"mf_dim": 2}), ("bad", {"loss": "bpr", "negatives_per_user": 1.0}), ("c", {"mf_dim": 6})),
        base,
    )

"""Synthetic ratings with planted structure, so tests can assert that models learn.

Each of `n_genres` genres has a latent "taste" direction. An item's latent vector is the
mean of its genres' directions plus a little noise; a user's is a mix of one or two
favourite genres. Users pick items with probability softmax(sharpness * u.v + log pop),
where pop is a Zipf-like popularity skew, so both taste and popularity matter but taste
dominates. Ratings rise with u.v; timestamps increase per user.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.data.dataset import Dataset, build_dataset
from recsys_core.errors import DataError

GENRE_NAMES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Documentary", "Animation"]


def parse_spec(spec: str) -> dict:
    """ "synthetic:users=200,items=100,seed=0" -> {"users": 200, "items": 100, "seed": 0}."""
    body = spec.split(":", 1)[1] if ":" in spec else ""
    out = {}
    allowed = {"users", "items", "seed", "genres", "per_user"}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, _, value = part.partition("=")
        if key not in allowed or not value.strip().isdigit():
            raise DataError(
                f"bad synthetic option {part!r}: use synthetic:users=N,items=M,seed=S"
                f" (keys: {', '.join(sorted(allowed))}, positive integers)"
            )
        out[key] = int(value)
    return out


def synthetic(
    users: int = 300,
    items: int = 200,
    seed: int = 0,
    genres: int = 6,
    per_user: int = 30,
    sharpness: float = 6.0,
) -> Dataset:
    """Generate a planted dataset (see module docstring). Deterministic for its arguments.

    long: one seeded story (genres, tastes, popularity, ratings, times) in the order it draws."""
    if users < 2 or items < 10 or not 1 <= genres <= len(GENRE_NAMES):
        raise DataError(f"synthetic data needs users >= 2, items >= 10, 1 <= genres <= {len(GENRE_NAMES)}")
    per_user = min(per_user, items // 2)
    rng = np.random.default_rng(seed)
    dim = genres
    directions = np.eye(dim)
    # items: a primary genre (round robin so every genre has items) and sometimes a second
    primary = np.arange(items) % genres
    rng.shuffle(primary)
    second = np.where(rng.random(items) < 0.3, rng.integers(0, genres, items), primary)
    item_multi = np.zeros((items, genres), dtype=bool)
    item_multi[np.arange(items), primary] = True
    item_multi[np.arange(items), second] = True
    item_vec = item_multi @ directions / item_multi.sum(1, keepdims=True) + 0.1 * rng.normal(size=(items, dim))
    # users: one favourite genre, sometimes a second
    fav = rng.integers(0, genres, users)
    fav2 = np.where(rng.random(users) < 0.4, rng.integers(0, genres, users), fav)
    user_vec = 0.5 * (directions[fav] + directions[fav2]) + 0.1 * rng.normal(size=(users, dim))
    log_pop = -0.8 * np.log1p(rng.permutation(items))  # Zipf-like skew, random item order
    logits = sharpness * user_vec @ item_vec.T + log_pop  # [users, items]
    # Gumbel top-k = sampling without replacement from softmax(logits)
    counts = np.clip(rng.poisson(per_user, users), 5, items // 2)
    keys = logits + rng.gumbel(size=logits.shape)
    order = np.argsort(-keys, axis=1)
    rows, cols = [], []
    for u in range(users):  # generator only: a few hundred users, not a hot path
        rows.append(np.full(counts[u], u))
        cols.append(order[u, : counts[u]])
    u_idx = np.concatenate(rows)
    i_idx = np.concatenate(cols)
    affinity = (user_vec[u_idx] * item_vec[i_idx]).sum(1)
    rating = np.clip(np.round(3 + 4 * affinity - 1 + rng.normal(0, 0.5, len(u_idx))), 1, 5)
    start = 1_000_000_000 + rng.integers(0, 10_000_000, users)
    ts = start[u_idx] + rng.integers(0, 5_000_000, len(u_idx))
    ratings = pd.DataFrame(
        {
            "user_id": (u_idx + 1).astype(str),
            "item_id": (i_idx + 1).astype(str),
            "rating": rating.astype(np.float32),
            "timestamp": ts.astype(np.int64),
        }
    )
    names = GENRE_NAMES[:genres]
    item_table = pd.DataFrame(
        {
            "item_id": (np.arange(items) + 1).astype(str),
            "title": [f"Movie {i + 1} ({1950 + i % 70})" for i in range(items)],
            "year": 1950 + np.arange(items) % 70,
            "genres": ["|".join(n for n, f in zip(names, row) if f) for row in item_multi],
        }
    )
    name = f"synthetic:users={users},items={items},seed={seed}"
    ds = build_dataset(name, ratings, item_table, None, names)
    ds.extra["planted_favourite_genre"] = [names[g] for g in fav]
    return ds

"""The training-data container every model, objective and split shares: (user, item, rating,
timestamp) rows over a fixed user and item range, with the views the models read (CSR
matrices, each user's items in time order, the training windows of the sequential models).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from recsys_core.data import Dataset
from recsys_core.errors import ConfigError


@dataclass
class Interactions:
    """A set of (user, item, rating, timestamp) rows over a fixed user and item range."""

    users: np.ndarray  # int64 [n]
    items: np.ndarray  # int64 [n]
    ratings: np.ndarray  # float32 [n]
    timestamps: np.ndarray  # int64 [n]
    n_users: int
    n_items: int
    item_features: np.ndarray | None = None  # [n_items, n_genres] multi-hot, when the data has genres
    rating_range: tuple[float, float] = (1.0, 5.0)

    def __len__(self) -> int:
        return len(self.users)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """Users x items CSR of ratings (explicit values)."""
        return sp.csr_matrix(
            (self.ratings.astype(np.float32), (self.users, self.items)), shape=(self.n_users, self.n_items)
        )

    @cached_property
    def binary(self) -> sp.csr_matrix:
        """Users x items CSR of ones where an interaction exists."""
        m = self.matrix.copy()
        m.data[:] = 1.0
        return m

    @cached_property
    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    @cached_property
    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    @cached_property
    def recency_rank(self) -> np.ndarray:
        """Per row: how many of the same user's rows are later in time (0 = the latest).
        Equal timestamps keep row order (the dataset's tie rule)."""
        order = np.lexsort((np.arange(len(self)), self.timestamps, self.users))
        ends = np.cumsum(np.bincount(self.users, minlength=self.n_users))
        rank = np.empty(len(self), dtype=np.int64)
        rank[order] = ends[self.users[order]] - 1 - np.arange(len(self))
        return rank

    def sequences(self, length: int, order: str = "time", seed: int = 0) -> np.ndarray:
        """int64 [n_users, length]: each user's latest `length` items in order, as item id + 1,
        left-padded with 0 (the last column is the latest). `order`: "time" (equal
        timestamps in row order, the tie rule), "shuffle-ties" (the order inside each run of
        equal timestamps shuffled, seeded) or "shuffle" (the whole history shuffled)."""
        users, items, _, back = self._by_user(order, seed)
        keep = back < length
        out = np.zeros((self.n_users, length), dtype=np.int64)
        out[users[keep], length - 1 - back[keep]] = items[keep] + 1
        return out

    def windows(
        self,
        length: int,
        order: str = "time",
        seed: int = 0,
        latest: bool = False,
        times: bool = False,
        stride: int | None = None,
    ) -> np.ndarray:
        """int64 [n_windows, length]: every user's whole history cut, from the latest back,
        into windows of `length` items whose last items lie `stride` apart (default length - 1:
        windows that overlap by one), left-padded with 0 (item id + 1). Reading each window's
        items up to every position and predicting the next, with only each window's last
        `stride` targets counted, makes every interaction but a user's first a target exactly
        once; a shorter stride reads each of them after more of its history (at least length
        - 1 - stride items where the user has them). Users with fewer than two interactions
        give none. Ordered as `sequences`. `latest`: only each user's latest window (their
        latest `length` items), one a user. `times`: the same windows holding each item's
        timestamp instead of its id (0 in the padding)."""
        step = length - 1 if stride is None else stride
        if not 1 <= step <= length - 1:
            raise ValueError(f"stride {step} must be between 1 and the window's length - 1 ({length - 1})")
        users, items, counts, back = self._by_user(order, seed, times)
        if times:
            items = items.astype(np.int64) - 1  # the + 1 below undoes it
        n_win = np.where(counts >= 2, (counts - 2) // step + 1, 0)
        first = np.concatenate([[0], np.cumsum(n_win)[:-1]])
        out = np.zeros((int(n_win.sum()), length), dtype=np.int64)
        for o in range(-(-(length - 1) // step) + 1):  # the windows an item sits in: k = back // step - o
            k = back // step - o
            col = length - 1 - (back - k * step)
            inside = (k >= 0) & (col >= 0) & (k < n_win[users])
            out[first[users[inside]] + k[inside], col[inside]] = items[inside] + 1
        return out[first[n_win > 0]] if latest else out

    def _by_user(self, order: str, seed: int, times: bool = False):
        """(users, items; `times`: their timestamps instead) sorted by user then `order`, each
        user's count, and per row how many of its user's rows come after it (0 for the latest)."""
        rows = self._ordered(order, seed)
        users, items = self.users[rows], (self.timestamps if times else self.items)[rows]
        counts = np.bincount(users, minlength=self.n_users)
        back = np.cumsum(counts)[users] - 1 - np.arange(len(rows))
        return users, items, counts, back

    def _ordered(self, order: str, seed: int) -> np.ndarray:
        noise = np.random.default_rng(seed).random(len(self))
        if order == "time":
            return np.lexsort((np.arange(len(self)), self.timestamps, self.users))
        if order == "shuffle-ties":
            return np.lexsort((noise, self.timestamps, self.users))
        if order == "shuffle":
            return np.lexsort((noise, self.users))
        raise ConfigError(f"unknown order {order!r}: time, shuffle-ties or shuffle")

    def recency_weights(self, half_life: float) -> np.ndarray:
        """float32 weight per row, halved every `half_life` later interactions of the same
        user (1 for the latest); all ones when half_life is 0 (off)."""
        if half_life <= 0:
            return np.ones(len(self), dtype=np.float32)
        return np.exp2(-self.recency_rank / half_life).astype(np.float32)

    def weighted_matrix(self, half_life: float) -> sp.csr_matrix:
        """Users x items CSR of recency weights (the binary matrix when half_life is 0)."""
        w = self.recency_weights(half_life)
        return sp.csr_matrix((w, (self.users, self.items)), shape=(self.n_users, self.n_items))

    def concat(self, other: Interactions) -> Interactions:
        """These rows followed by `other`'s (same user and item ranges)."""
        return Interactions(
            *(
                np.concatenate([a, b])
                for a, b in (
                    (self.users, other.users),
                    (self.items, other.items),
                    (self.ratings, other.ratings),
                    (self.timestamps, other.timestamps),
                )
            ),
            self.n_users,
            self.n_items,
            self.item_features,
            self.rating_range,
        )

    def subset(self, mask: np.ndarray) -> Interactions:
        return Interactions(
            self.users[mask],
            self.items[mask],
            self.ratings[mask],
            self.timestamps[mask],
            self.n_users,
            self.n_items,
            self.item_features,
            self.rating_range,
        )


def interactions(ds: Dataset) -> Interactions:
    r = ds.ratings
    lo, hi = float(r["rating"].min()), float(r["rating"].max())
    return Interactions(
        r["user"].to_numpy(np.int64),
        r["item"].to_numpy(np.int64),
        r["rating"].to_numpy(np.float32),
        r["timestamp"].to_numpy(np.int64),
        ds.n_users,
        ds.n_items,
        ds.genre_matrix if ds.has_genres else None,
        (lo, hi),
    )


# ------------------------------------------------------------------ leave-one-out


# ------------------------------------------------------------------ ratings


# ------------------------------------------------------------------ cache

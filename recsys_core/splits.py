"""Evaluation protocols: how a dataset is split and which candidates are ranked.

Protocols (DESIGN.md, "Evaluation"):
- `loo-uniform`, `loo-popularity`: leave-one-out by time (the NCF protocol). Each user's
  latest interaction is test, the one before validation, the rest train; users with fewer
  than 3 interactions stay in train only (counted). The test item is ranked against 99
  items the user never interacted with, drawn once with a fixed seed: uniformly, or in
  proportion to item popularity (the CDAE study's "random" and "popularity" tests).
- `full` (the headline): the same split, ranked against every item the user has not
  interacted with. The records of every protocol, the temporal split's among them, are in
  `protocols.py`; the temporal split itself in `temporal.py`.
  By default the test figures come from the model trained on train alone (validation held
  out, as RecBole does); with `refit` (`evaluate --refit`) it is trained again on train +
  validation, every interaction before the test item (the NCF paper's training set), for
  the epochs validation picked.
- `ratings`: seeded random 80/10/10 of the explicit ratings (RMSE/MAE);
  `ratings-5fold`: 5-fold cross-validation, comparable with Surprise's published figures:
  a tenth of each fold's training ratings picks the number of epochs, then the model is
  refit on all of the fold's training ratings (4/5 of the data, as Surprise trains).

Splits are deterministic for (dataset fingerprint, protocol, seed) and cached as .npz under
the artifacts folder.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys_core.data import Dataset
from recsys_core.errors import ConfigError
from recsys_core.paths import artifacts_dir
from recsys_core.protocols import PROTOCOLS, RANKING, RATING, check_protocol  # noqa: F401 - the records' home

N_NEGATIVES = 99
MIN_LOO_HISTORY = 3  # interactions a user needs to be evaluated (train, validation, test)
SPLIT_VERSION = 1


REFIT = "refit on train + validation (every interaction before the test item) for the epochs validation picked"


def describe(protocol: str, refit: bool = False) -> str:
    """The protocol in words; `refit` (leave-one-out only) says the model was trained again
    on train + validation before the test (`runner.fit_and_evaluate(refit=True)`)."""
    check_protocol(protocol)
    text = PROTOCOLS[protocol].description
    return f"{text}; {REFIT}" if refit and protocol in RANKING else text


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

    def windows(self, length: int, order: str = "time", seed: int = 0) -> np.ndarray:
        """int64 [n_windows, length]: every user's whole history cut, from the latest back,
        into windows of `length` items that overlap by one, left-padded with 0 (item id + 1),
        so that reading each window's items up to every position and predicting the next
        makes every interaction but a user's first a target exactly once. Users with fewer
        than two interactions give none. Ordered as `sequences`."""
        step = length - 1
        users, items, counts, back = self._by_user(order, seed)
        n_win = np.where(counts >= 2, (counts - 2) // step + 1, 0)
        first = np.concatenate([[0], np.cumsum(n_win)[:-1]])
        out = np.zeros((int(n_win.sum()), length), dtype=np.int64)
        k, r = back // step, back % step
        main = k < n_win[users]  # the window where it sits at column length-1-r
        out[first[users[main]] + k[main], length - 1 - r[main]] = items[main] + 1
        edge = (r == 0) & (k >= 1) & (k - 1 < n_win[users])  # also the first input of the window after it
        out[first[users[edge]] + k[edge] - 1, 0] = items[edge] + 1
        return out

    def _by_user(self, order: str, seed: int):
        """(users, items) sorted by user then `order`, each user's count, and per row how
        many of its user's rows come after it (0 for the latest)."""
        rows = self._ordered(order, seed)
        users, items = self.users[rows], self.items[rows]
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


@dataclass
class LooSplit:
    """Leave-one-out by time, with evaluation negatives for both sampled protocols."""

    train: Interactions
    valid_items: np.ndarray  # int64 [n_users], -1 where the user is train-only
    test_items: np.ndarray  # int64 [n_users], -1 where the user is train-only
    negatives: dict[str, tuple[np.ndarray, np.ndarray]]  # kind -> (valid [U, C], test [U, C]); -1 pads
    seen: sp.csr_matrix  # every interaction of the user (train + valid + test), binary
    train_only_users: int
    seed: int
    fingerprint: str
    meta: dict = field(default_factory=dict)
    valid_rows: Interactions | None = None  # the held-out rows themselves (with ratings)
    test_rows: Interactions | None = None

    @property
    def eval_users(self) -> np.ndarray:
        return np.flatnonzero(self.test_items >= 0)

    def candidates(self, kind: str, stage: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """(users, [positive, negatives...]) for kind 'uniform' or 'popularity'."""
        users = self.eval_users
        pos = (self.test_items if stage == "test" else self.valid_items)[users]
        neg = self.negatives[kind][1 if stage == "test" else 0][users]
        return users, np.concatenate([pos[:, None], neg], axis=1)


@dataclass
class RatingSplit:
    """Random split of explicit ratings: train / valid / test interactions."""

    train: Interactions
    valid: Interactions
    test: Interactions
    seed: int
    fingerprint: str
    fold: int | None = None


# ------------------------------------------------------------------ leave-one-out


def loo_split(ds: Dataset, seed: int = 0, n_negatives: int = N_NEGATIVES, use_cache: bool = True) -> LooSplit:
    """Leave-one-out by time (see module docstring). Cached per (fingerprint, seed)."""
    path = _cache_path(ds.fingerprint, f"loo-{n_negatives}", seed)
    if use_cache:
        cached = _load_loo(path, ds, seed, n_negatives)
        if cached is not None:
            return cached
    full = interactions(ds)
    in_train, valid_items, test_items, valid_rows, test_rows = _leave_last_two(full)
    eligible = test_items >= 0
    seen = full.binary
    rng = np.random.default_rng(seed)
    eval_users = np.flatnonzero(eligible)
    pop = full.item_counts.astype(np.float64)
    negatives = {}
    for kind, weights in (("uniform", None), ("popularity", pop / pop.sum())):
        valid_neg = np.full((ds.n_users, n_negatives), -1, dtype=np.int64)
        test_neg = np.full((ds.n_users, n_negatives), -1, dtype=np.int64)
        valid_neg[eval_users] = sample_unseen(seen, eval_users, n_negatives, rng, weights)
        test_neg[eval_users] = sample_unseen(seen, eval_users, n_negatives, rng, weights)
        negatives[kind] = (valid_neg, test_neg)
    split = LooSplit(
        full.subset(in_train),
        valid_items,
        test_items,
        negatives,
        seen,
        int((~eligible).sum()),
        seed,
        ds.fingerprint,
        {"n_negatives": n_negatives},
        valid_rows,
        test_rows,
    )
    if use_cache:
        _save_loo(path, split)
    return split


def _leave_last_two(full: Interactions):
    """(train row mask, valid item per user, test item per user, valid rows, test rows);
    -1 for users with < 3 interactions, who stay in train. Rows are sorted by (user, timestamp)."""
    counts = np.bincount(full.users, minlength=full.n_users)
    ends = np.cumsum(counts)
    eligible = counts >= MIN_LOO_HISTORY
    test_pos, valid_pos = ends[eligible] - 1, ends[eligible] - 2
    in_train = np.ones(len(full), dtype=bool)
    in_train[test_pos] = False
    in_train[valid_pos] = False
    test_items = np.full(full.n_users, -1, dtype=np.int64)
    valid_items = np.full(full.n_users, -1, dtype=np.int64)
    test_items[eligible] = full.items[test_pos]
    valid_items[eligible] = full.items[valid_pos]
    valid_rows = np.zeros(len(full), dtype=bool)
    valid_rows[valid_pos] = True
    test_rows = np.zeros(len(full), dtype=bool)
    test_rows[test_pos] = True
    return in_train, valid_items, test_items, full.subset(valid_rows), full.subset(test_rows)


def sample_unseen(
    seen: sp.csr_matrix, users: np.ndarray, k: int, rng: np.random.Generator, weights: np.ndarray | None = None
) -> np.ndarray:
    """k distinct items per user that the user never interacted with, drawn uniformly or by
    `weights` (successive sampling without replacement). Vectorised rejection sampling
    against sorted (user, item) keys; rows with too few unseen items are padded with -1."""
    n_items = seen.shape[1]
    coo = seen.tocoo()
    keys = np.sort(coo.row.astype(np.int64) * n_items + coo.col)
    out = np.full((len(users), k), -1, dtype=np.int64)
    filled = np.zeros(len(users), dtype=np.int64)
    available = n_items - np.diff(seen.indptr)[users]
    want = np.minimum(k, available)
    todo = np.flatnonzero(filled < want)
    for _ in range(200):
        if not len(todo):
            break
        m = 2 * k + 16
        if weights is None:
            cand = rng.integers(0, n_items, size=(len(todo), m))
        else:
            cand = rng.choice(n_items, size=(len(todo), m), p=weights)
        u = users[todo][:, None]
        ok = ~_contains(keys, u * n_items + cand) & ~_repeats(cand)
        if filled[todo].any():  # reject items this row already took in an earlier round
            ok &= ~(cand[:, :, None] == out[todo][:, None, :]).any(-1)
        pos = filled[todo][:, None] + np.cumsum(ok, axis=1) - 1
        keep = ok & (pos < want[todo][:, None])
        out[np.repeat(todo, keep.sum(1)), pos[keep]] = cand[keep]
        filled[todo] += keep.sum(1)
        todo = todo[filled[todo] < want[todo]]
    return out


def _contains(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_keys, queries)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return sorted_keys[pos] == queries


def _repeats(cand: np.ndarray) -> np.ndarray:
    """True where a value already appeared earlier in its row."""
    order = np.argsort(cand, axis=1, kind="stable")
    s = np.take_along_axis(cand, order, axis=1)
    dup_sorted = np.zeros_like(s, dtype=bool)
    dup_sorted[:, 1:] = s[:, 1:] == s[:, :-1]
    out = np.zeros_like(dup_sorted)
    np.put_along_axis(out, order, dup_sorted, axis=1)
    return out


# ------------------------------------------------------------------ ratings


def ratings_split(ds: Dataset, seed: int = 0) -> RatingSplit:
    """Seeded random 80/10/10 of the explicit ratings."""
    full = interactions(ds)
    part = np.random.default_rng(seed).random(len(full))
    return RatingSplit(
        full.subset(part < 0.8),
        full.subset((part >= 0.8) & (part < 0.9)),
        full.subset(part >= 0.9),
        seed,
        ds.fingerprint,
    )


def ratings_folds(ds: Dataset, k: int = 5, seed: int = 0) -> list[RatingSplit]:
    """k-fold cross-validation (like Surprise): fold f tests on 1/k of the ratings; a tenth
    of the remaining ratings is held out for validation (early stopping picks the epochs;
    `runner.fit_and_evaluate` then refits on train + valid)."""
    full = interactions(ds)
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(full)) % k
    inner = rng.random(len(full)) < 0.1
    return [
        RatingSplit(
            full.subset((fold != f) & ~inner),
            full.subset((fold != f) & inner),
            full.subset(fold == f),
            seed,
            ds.fingerprint,
            f,
        )
        for f in range(k)
    ]


# ------------------------------------------------------------------ cache


def _cache_path(fingerprint: str, kind: str, seed: int) -> Path:
    return artifacts_dir() / "splits" / f"{fingerprint}-{kind}-seed{seed}-v{SPLIT_VERSION}.npz"


def _save_loo(path: Path, s: LooSplit) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"valid_items": s.valid_items, "test_items": s.test_items}
    for kind, (v, t) in s.negatives.items():
        arrays[f"neg_{kind}_valid"], arrays[f"neg_{kind}_test"] = v, t
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def _load_loo(path: Path, ds: Dataset, seed: int, n_negatives: int) -> LooSplit | None:
    """The cached split, or None when missing, unreadable or not this data's (rebuilt then).
    The train rows are recomputed (cheap); the cache holds the sampled negatives."""
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        negatives = {k: (a[f"neg_{k}_valid"], a[f"neg_{k}_test"]) for k in ("uniform", "popularity")}
    except Exception:  # noqa: BLE001 - a corrupt cache is rebuilt
        return None
    full = interactions(ds)
    in_train, valid_items, test_items, valid_rows, test_rows = _leave_last_two(full)
    if not (np.array_equal(valid_items, a["valid_items"]) and np.array_equal(test_items, a["test_items"])):
        return None
    if any(v.shape != (ds.n_users, n_negatives) for pair in negatives.values() for v in pair):
        return None
    return LooSplit(
        full.subset(in_train),
        valid_items,
        test_items,
        negatives,
        full.binary,
        int((test_items < 0).sum()),
        seed,
        ds.fingerprint,
        {"n_negatives": n_negatives},
        valid_rows,
        test_rows,
    )

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
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys_core.data import Dataset
from recsys_core.data.interactions import Interactions, interactions
from recsys_core.evaluation.candidates import sample_unseen
from recsys_core.evaluation.protocols import PROTOCOLS, RANKING, check_protocol
from recsys_core.paths import artifacts_dir

N_NEGATIVES = 99
MIN_LOO_HISTORY = 3  # interactions a user needs to be evaluated (train, validation, test)
SPLIT_VERSION = 1


REFIT = "refit on train + validation (every interaction before the test item) for the epochs validation picked"


def describe(protocol: str, refit: bool = False) -> str:
    """The protocol in words; `refit` (leave-one-out only) says the model was trained again
    on train + validation before the test (`runs.experiment.fit_and_evaluate(refit=True)`)."""
    check_protocol(protocol)
    text = PROTOCOLS[protocol].description
    return f"{text}; {REFIT}" if refit and protocol in RANKING else text


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
    `runs.experiment.fit_and_evaluate` then refits on train + valid)."""
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

"""The global temporal split: one cut-off time for every user, so no model trains on what
happened after the interactions it is tested on (Ji et al., TOIS 2023).

The interactions are ordered by time (equal timestamps in row order, the tie rule). The
latest `test_share` of them (default 10 %) start the test window, the `valid_share` before
them (10 %) the validation window; every interaction at or after a window's first timestamp
belongs to it, so a training interaction is always strictly earlier than the validation
cut-off. Models train on the rows before it; early stopping ranks the validation window;
the test ranks the test window after the validation window has been read (the sequential
models read each user's history up to the window they are evaluated on).

Targets are every window interaction of a user with at least one training interaction,
ranked against every item the user had not interacted with before the window. What is
left out is counted and reported, never dropped silently: users with no training history
(cold users, and their interactions), and interactions with an item the user had already
interacted with before the window (repeats; MovieLens keeps one rating per pair, so none).
Targets whose item has no training interaction (new items) stay targets and are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from recsys_core.data import Dataset
from recsys_core.data.interactions import Interactions, interactions
from recsys_core.errors import ConfigError

TEST_SHARE = 0.1
VALID_SHARE = 0.1


@dataclass
class Targets:
    """One stage's targets, sorted by user: (user, item) pairs and what was left out."""

    users: np.ndarray  # int64 [n_targets]
    items: np.ndarray  # int64 [n_targets]
    report: dict  # counts: users, targets, cold_users, cold_user_targets, repeat_targets, new_item_targets


@dataclass
class TemporalSplit:
    train: Interactions
    valid_rows: Interactions
    test_rows: Interactions
    cut_valid: int  # first timestamp of the validation window
    cut_test: int  # first timestamp of the test window
    valid_share: float
    test_share: float
    seed: int
    fingerprint: str

    @cached_property
    def before_test(self) -> sp.csr_matrix:
        """Users x items, 1 where the user interacted before the test window (train + validation)."""
        return self.train.concat(self.valid_rows).binary

    def before(self, stage: str) -> sp.csr_matrix:
        return self.train.binary if stage == "valid" else self.before_test

    def targets(self, stage: str = "test") -> Targets:
        """The stage's targets (see the module docstring) and the counts of what was left out."""
        rows = self.valid_rows if stage == "valid" else self.test_rows
        before = self.before(stage)
        warm = self.train.user_counts > 0
        keys = np.unique(rows.users * rows.n_items + rows.items)  # one target per (user, item), sorted by user
        users, items = keys // rows.n_items, keys % rows.n_items
        is_warm = warm[users]
        repeat = np.asarray(before[users, items]).ravel() > 0
        keep = is_warm & ~repeat
        report = {
            "users": int(len(np.unique(users[keep]))),
            "targets": int(keep.sum()),
            "cold_users": int(len(np.unique(users[~is_warm]))),
            "cold_user_targets": int((~is_warm).sum()),
            "repeat_targets": int((is_warm & repeat).sum()),
            "new_item_targets": int((keep & (self.train.item_counts[items] == 0)).sum()),
        }
        return Targets(users[keep], items[keep], report)

    def describe(self) -> str:
        return (
            f"global temporal split: test window from {_date(self.cut_test)} (the latest {self.test_share:.0%} of "
            f"interactions), validation from {_date(self.cut_valid)} (the {self.valid_share:.0%} before); "
            f"{len(self.train):,} training interactions, all earlier than {_date(self.cut_valid)}"
        )


def _date(ts: int) -> str:
    return str(np.datetime64(int(ts), "s").astype("datetime64[D]"))


def temporal_split(
    ds: Dataset, test_share: float = TEST_SHARE, valid_share: float = VALID_SHARE, seed: int = 0
) -> TemporalSplit:
    """The split of `ds` at the cut-offs the shares give (see the module docstring).
    ConfigError when a share is out of range or a cut-off leaves no training data."""
    for name, v in (("test_share", test_share), ("valid_share", valid_share)):
        if not 0 < v < 1:
            raise ConfigError(f"temporal split: {name} {v} must be between 0 and 1 (a share of the interactions)")
    if test_share + valid_share >= 1:
        raise ConfigError(f"temporal split: test_share {test_share} + valid_share {valid_share} leave no training data")
    full = interactions(ds)
    order = np.lexsort((np.arange(len(full)), full.timestamps))
    n = len(full)
    cut_test = int(full.timestamps[order[min(n - 1, n - max(1, round(test_share * n)))]])
    cut_valid = int(full.timestamps[order[max(0, n - round((test_share + valid_share) * n))]])
    t = full.timestamps
    train = full.subset(t < cut_valid)
    if not len(train):
        raise ConfigError(
            f"temporal split: the validation cut-off ({_date(cut_valid)}) leaves no training data: every interaction "
            "is at or after it (lower valid_share or test_share)"
        )
    valid = full.subset((t >= cut_valid) & (t < cut_test))
    test = full.subset(t >= cut_test)
    if not len(valid) or not len(test):
        raise ConfigError(
            f"temporal split: an empty window (validation {len(valid)}, test {len(test)} interactions): the data's "
            "timestamps are too few to cut at these shares"
        )
    return TemporalSplit(train, valid, test, cut_valid, cut_test, valid_share, test_share, seed, ds.fingerprint)

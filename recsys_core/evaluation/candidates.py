"""The items a held-out interaction is ranked against under the sampled protocols: drawn once,
seeded, among the items the user never interacted with (uniformly or by popularity).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# ------------------------------------------------------------------ leave-one-out


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


# ------------------------------------------------------------------ cache

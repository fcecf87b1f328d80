"""Baselines every honest comparison needs: most popular items, and EASE.

EASE: H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019. A
closed-form item-item linear model: B = I - P diag(1 / diag(P)), P = (X^T X + lambda I)^-1,
with a zero diagonal; scores are X_u B. With `recency_half_life` the user's row X_u weighs
recent interactions more (B itself is learnt from the binary matrix). X is kept sparse, so
memory is the item-item matrix (n_items squared); above `max_items` (10,000: 400 MB in float32,
the inverse 800 MB in float64) EASE is bounded to the most popular items (MovieLens-25M's
59,047 items would need 14 GB).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.models.base import History, Recommender, closed_form_history
from recsys_core.models.configs import EASEConfig, PopularityConfig


class Popularity(Recommender):
    """Scores every item by its number of train interactions, the same for every user."""

    name = "popularity"
    score_cells = 1_000_000  # the same row of counts for every user: exact, cheap, large batches

    def __init__(self, n_users: int, n_items: int, cfg: PopularityConfig | None = None):
        cfg = cfg if cfg is not None else PopularityConfig()
        super().__init__(n_users, n_items)
        self.cfg = cfg
        self.counts_ = torch.zeros(n_items)

    def fit(self, train: Interactions, valid=None, callbacks=(), cancel=None) -> History:
        t = time.perf_counter()
        self.remember_seen(train)
        self.counts_ = torch.as_tensor(train.item_counts, dtype=torch.float32)
        return closed_form_history(time.perf_counter() - t)

    def score(self, users, items=None):
        users = torch.as_tensor(users)
        if items is None:
            return self.counts_.expand(len(users), -1).clone()
        return self.counts_[torch.as_tensor(items)]


class EASE(Recommender):
    """Closed-form item-item model; one matrix inverse of size n_items (or of `max_items`: a
    catalogue larger than that is bounded to its `max_items` most popular train items, the
    others never recommended and without item-item weights; `bounded` says so)."""

    has_item_item = True
    keeps_state = True  # `state_arrays` / `restore`: reloaded without a refit on a large catalogue
    score_cells = 1_000_000  # X[users] @ B: one matmul a batch, 4 MB of scores

    name = "ease"
    UNSCORED = -1e9  # the score of an item outside a bounded model: below any weight sum

    def __init__(self, n_users: int, n_items: int, cfg: EASEConfig | None = None):
        cfg = cfg if cfg is not None else EASEConfig()
        super().__init__(n_users, n_items)
        self.cfg = cfg
        self.reads_history = cfg.reads_latest  # declared by its config: `read` the validation item before a test
        self.train_: Interactions | None = None  # the rows the users' scores read (train, then what it read)
        self.B_ = torch.zeros(0, 0)
        self.X_ = sp.csr_matrix((n_users, 0), dtype=np.float32)
        self.kept_: np.ndarray | None = None  # catalogue indices of a bounded model's items

    @property
    def bounded(self) -> bool:
        return self.kept_ is not None

    def fit(self, train: Interactions, valid=None, callbacks=(), cancel=None) -> History:
        t = time.perf_counter()
        self.remember_seen(train)
        X = train.binary.astype(np.float32)
        self.kept_ = None
        if self.cfg.max_items and self.n_items > self.cfg.max_items:
            counts = np.asarray(X.sum(0)).ravel()
            self.kept_ = np.sort(np.argsort(-counts, kind="stable")[: self.cfg.max_items])
            X = X[:, self.kept_].tocsr()
        # the Gram matrix from the sparse rows: counts, exact in float32, as the dense product was
        G = torch.as_tensor((X.T @ X).toarray(), dtype=torch.float64)
        G.diagonal().add_(self.cfg.lam)
        P = torch.linalg.inv(G)
        del G
        B = -P / P.diagonal()[None, :]
        del P
        B.fill_diagonal_(0.0)
        self.B_, self.X_ = self._weights(B.float()), self._rows(train, X)
        self.train_ = train
        return closed_form_history(time.perf_counter() - t)

    def read(self, rows: Interactions) -> None:
        """Add `rows` (the leave-one-out validation items, a temporal window) to the users' rows
        the scores read, the item-item weights unchanged (not refit): the test item is scored
        from everything before it, as a sequential model reads it. What it read is seen."""
        if rows is None or not len(rows):
            return
        both = self.train_.concat(rows)
        X = both.binary.astype(np.float32)
        self.X_ = self._rows(both, X[:, self.kept_].tocsr() if self.bounded else X)
        self.train_ = both
        self.remember_seen(both)

    def _weights(self, B: torch.Tensor) -> torch.Tensor:
        """B as the scores read it. The inverse comes back column-major; a bounded model's
        sparse rows read B row by row, so it gets a row-major copy (its scores at 35,000 items
        took 10 minutes column-major). An unbounded one keeps the layout its figures came from."""
        return B.contiguous() if self.bounded else B

    def _rows(self, train: Interactions, binary) -> sp.csr_matrix:
        """The users' rows the scores read: binary, or weighted by recency (the kept items)."""
        if self.cfg.recency_half_life <= 0:
            return binary.tocsr()
        X = train.weighted_matrix(self.cfg.recency_half_life).astype(np.float32).tocsr()
        return X[:, self.kept_].tocsr() if self.bounded else X

    def state_arrays(self) -> dict:
        """What a refit would compute again: the item-item weights and the kept items (on a
        large catalogue the refit takes a minute; the pages reload these instead)."""
        kept = self.kept_ if self.bounded else np.zeros(0, dtype=np.int64)
        return {"B": self.B_.numpy(), "kept": kept}

    def restore(self, train: Interactions, arrays: dict) -> None:
        """The fitted model from `state_arrays` and the training rows, without the inverse."""
        self.remember_seen(train)
        kept = np.asarray(arrays["kept"], dtype=np.int64)
        self.kept_ = kept if len(kept) else None
        X = train.binary.astype(np.float32)
        X = X[:, self.kept_].tocsr() if self.bounded else X
        self.B_, self.X_ = (
            self._weights(torch.as_tensor(np.asarray(arrays["B"], dtype=np.float32))),
            self._rows(train, X),
        )
        self.train_ = train

    def item_item(self, rows=None, cols=None) -> np.ndarray:
        """B[i, j], how much having item i raises the score of item j, for the catalogue
        indices `rows` x `cols` (every item where not given; 0 for an item outside a bounded
        model)."""
        rows = np.arange(self.n_items) if rows is None else np.asarray(rows, dtype=np.int64)
        cols = np.arange(self.n_items) if cols is None else np.asarray(cols, dtype=np.int64)
        if not self.bounded:
            return self.B_.numpy()[np.ix_(rows, cols)]
        pos = np.full(self.n_items, -1)
        pos[self.kept_] = np.arange(len(self.kept_))
        r, c = pos[rows], pos[cols]
        out = np.zeros((len(rows), len(cols)), dtype=np.float32)
        ok_r, ok_c = r >= 0, c >= 0
        out[np.ix_(ok_r, ok_c)] = self.B_.numpy()[np.ix_(r[ok_r], c[ok_c])]
        return out

    def strongest(self, k: int) -> dict:
        """Each item's k strongest item-item weights: {"items": [n_items, k] int32 (-1 where an
        item of a bounded model has none), "weights": [n_items, k]}."""
        top = strongest(self.B_.numpy(), k)
        if not self.bounded:
            return top
        items = np.full((self.n_items, top["items"].shape[1]), -1, dtype=np.int32)
        weights = np.full(items.shape, np.nan, dtype=np.float32)
        items[self.kept_] = self.kept_[top["items"]]
        weights[self.kept_] = top["weights"]
        return {"items": items, "weights": weights}

    def score(self, users, items=None):
        users = np.asarray(users)
        if self.bounded:  # a large catalogue: the sparse rows times B (a dense row would cost n_kept squared)
            s = torch.as_tensor(np.asarray(self.X_[users] @ self.B_.numpy(), dtype=np.float32))
            full = torch.full((len(users), self.n_items), self.UNSCORED)
            full[:, torch.as_tensor(self.kept_)] = s
            s = full
        else:
            s = torch.as_tensor(self.X_[users].toarray()) @ self.B_  # [batch, n_items]
        return s if items is None else torch.gather(s, 1, torch.as_tensor(items))


def strongest(weights: np.ndarray, k: int) -> dict:
    """Each row's k largest off-diagonal entries: {"items": [n, k] int32, "weights": [n, k]}."""
    w = np.asarray(weights, dtype=np.float32).copy()
    np.fill_diagonal(w, -np.inf)
    k = min(k, w.shape[1] - 1)
    top = np.argpartition(-w, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(w, top, 1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, 1)
    return {"items": top.astype(np.int32), "weights": np.take_along_axis(w, top, 1)}

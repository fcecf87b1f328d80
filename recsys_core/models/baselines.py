"""Baselines every honest comparison needs: most popular items, and EASE.

EASE: H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019. A
closed-form item-item linear model: B = I - P diag(1 / diag(P)), P = (X^T X + lambda I)^-1,
with a zero diagonal; scores are X_u B. With `recency_half_life` the user's row X_u weighs
recent interactions more (B itself is learnt from the binary matrix).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from recsys_core.models.base import History, Recommender, closed_form_history
from recsys_core.models.configs import EASEConfig, PopularityConfig
from recsys_core.splits import Interactions


class Popularity(Recommender):
    """Scores every item by its number of train interactions, the same for every user."""

    name = "popularity"

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
    """Closed-form item-item model; one matrix inverse of size n_items."""

    has_item_item = True
    score_cells = 1_000_000  # X[users] @ B: one matmul a batch, 4 MB of scores

    name = "ease"

    def __init__(self, n_users: int, n_items: int, cfg: EASEConfig | None = None):
        cfg = cfg if cfg is not None else EASEConfig()
        super().__init__(n_users, n_items)
        self.cfg = cfg
        self.B_ = torch.zeros(n_items, n_items)
        self.X_ = torch.zeros(n_users, n_items)

    def fit(self, train: Interactions, valid=None, callbacks=(), cancel=None) -> History:
        t = time.perf_counter()
        self.remember_seen(train)
        X = torch.as_tensor(train.binary.toarray(), dtype=torch.float32)
        G = (X.T @ X).double()
        G.diagonal().add_(self.cfg.lam)
        P = torch.linalg.inv(G)
        B = -P / P.diagonal()[None, :]
        B.fill_diagonal_(0.0)
        if self.cfg.recency_half_life > 0:
            X = torch.as_tensor(train.weighted_matrix(self.cfg.recency_half_life).toarray(), dtype=torch.float32)
        self.B_, self.X_ = B.float(), X
        return closed_form_history(time.perf_counter() - t)

    def item_item(self) -> np.ndarray:
        """[n_items, n_items]: B[i, j], how much having item i raises the score of item j."""
        return self.B_.numpy()

    def score(self, users, items=None):
        users = torch.as_tensor(users)
        s = self.X_[users] @ self.B_  # [batch, n_items]
        return s if items is None else torch.gather(s, 1, torch.as_tensor(items))

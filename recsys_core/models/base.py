"""The one interface every recommender shares (DESIGN.md, "Models").

A subclass implements `score`; `recommend` is written once, here: score, mask what the user
has seen, top-k. Closed-form models implement `fit(train, valid, callbacks, cancel)`
themselves; neural ones are fitted by the one training loop, and every caller goes through
`recsys_core.training.fitting.fit_model`, which serves both.
"""

from __future__ import annotations

import abc
import contextlib

import numpy as np
import scipy.sparse as sp
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.models.history import History

# (user, item) scores a batch of scoring holds at most (evaluation, validation, `recommend`):
# 25,000 kept `train ncf` on ml-100k level with RecBole's NeuMF in peak memory, where
# 100,000 cost about 100 MiB more and 1 s less on ml-1m's full evaluation
# (docs/benchmarks.md, "Memory")
SCORE_CELLS = 25_000


class Recommender(abc.ABC):
    """Fit on train interactions, score users against items, recommend top-k.

    Ids are contiguous ints in [0, n_users) / [0, n_items). Higher scores are better.
    """

    name: str = "model"
    # what a model can do, declared here and set by the classes that can (never probed)
    predicts_ratings: bool = False  # True: score() is on the rating scale (RMSE applies)
    reads_history: bool = False  # sequential: `read(rows)` appends what it reads before a test
    has_item_item: bool = False  # `item_item()`: an item-item weight matrix (EASE)
    keeps_state: bool = False  # a closed-form model with `state_arrays()` and `restore(train, arrays)`
    refits_slowly: bool = False  # its state is kept on any catalogue (a blend: a refit trains networks)
    has_cold_start: bool = False  # `score_new_user()`: scores for a user with no history (NCF)
    has_attention: bool = False  # `attention(user)`: what its last position attends to (SASRec)
    # score cells a batch of users may take: small for models with activations per cell (NeuMF's
    # tower), large for a product with a matrix (EASE), so scoring is not a thousand tiny matmuls
    score_cells: int = SCORE_CELLS

    def __init__(self, n_users: int, n_items: int):
        self.n_users, self.n_items = n_users, n_items
        self.seen_: sp.csr_matrix | None = None  # train interactions, for exclude_seen

    @abc.abstractmethod
    def score(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """items None -> [len(users), n_items]; items [len(users), C] -> [len(users), C]."""

    def remember_seen(self, train: Interactions) -> None:
        self.seen_ = train.binary

    @torch.no_grad()
    def recommend(self, users, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (items, scores) per user: [len(users), k] arrays (1-D for one int user).

        Seen (train) items are excluded; users with fewer than k unseen items get -1 pads.
        """
        single = np.isscalar(users)
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        if len(users) and (users.min() < 0 or users.max() >= self.n_users):
            raise ValueError(f"user index out of range [0, {self.n_users})")
        k = min(k, self.n_items)
        items_out, scores_out = [], []
        step = max(1, min(1024, self.score_cells // max(self.n_items, 1)))  # users a batch: bounded scores
        for start in range(0, len(users), step):
            batch = users[start : start + step]
            s = self.score(torch.as_tensor(batch)).float().cpu()
            if exclude_seen and self.seen_ is not None:
                rows = self.seen_[batch]
                r, c = rows.nonzero()
                s[torch.as_tensor(r), torch.as_tensor(c)] = -torch.inf
            # a stable sort: equal scores keep item order, so a list never depends on the batch
            values, indices = torch.sort(s, dim=1, descending=True, stable=True)
            values, indices = values[:, :k], indices[:, :k]
            items = indices.numpy().astype(np.int64)
            items[~torch.isfinite(values).numpy()] = -1
            items_out.append(items)
            scores_out.append(values.numpy())
        items = np.concatenate(items_out) if items_out else np.zeros((0, k), np.int64)
        scores = np.concatenate(scores_out) if scores_out else np.zeros((0, k), np.float32)
        return (items[0], scores[0]) if single else (items, scores)

    def frozen(self):
        """A context in which the weights do not change (a validation pass): a model may keep
        what it computes for scoring until the context ends (a sequential model's user
        states, read by the validation loss and the validation figures alike)."""
        return contextlib.nullcontext()

    def item_embeddings(self) -> np.ndarray | None:
        """[n_items, d] for PCA maps and neighbours; None when the model has none."""
        return None

    def user_embeddings(self) -> np.ndarray | None:
        return None


def closed_form_history(seconds: float, **metrics) -> History:
    return History(epochs=[{"epoch": 1, "seconds": seconds, **metrics}], best_epoch=1)

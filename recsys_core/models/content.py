"""Content-based recommendations from genre vectors (the content + NCF study).

Item-to-item: cosine similarity of (optionally TF-IDF weighted) multi-hot genre vectors,
with the shared genres as the "why". User profile: the mean genre vector of the movies the
user liked (rated at or above `like_threshold`, or all of them when none is), scored by
cosine against every movie. Ties (movies with identical genres) go to the more popular one.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.errors import DataError
from recsys_core.models.base import History, Recommender, closed_form_history
from recsys_core.models.configs import GenreConfig

_POP_TIEBREAK = 1e-4  # popularity share added to cosine scores; smaller than any genre difference


class GenreSimilarity(Recommender):
    name = "genre"

    def __init__(self, n_users: int, n_items: int, cfg: GenreConfig | None = None):
        cfg = cfg if cfg is not None else GenreConfig()
        super().__init__(n_users, n_items)
        self.cfg = cfg
        self.unit_ = torch.zeros(n_items, 0)
        self.profiles_ = torch.zeros(n_users, 0)
        self.pop_ = torch.zeros(n_items)
        self.genres_: np.ndarray | None = None

    def fit(self, train: Interactions, valid=None, callbacks=(), cancel=None) -> History:
        t = time.perf_counter()
        if train.item_features is None or train.item_features.shape[1] == 0:
            raise DataError("this dataset has no genres, so genre similarity is not available")
        self.remember_seen(train)
        f = train.item_features.astype(np.float32)
        self.genres_ = f > 0
        if self.cfg.tfidf:
            df = np.maximum(f.sum(0), 1)
            f = f * np.log(self.n_items / df)[None, :]
        norms = np.linalg.norm(f, axis=1, keepdims=True)
        unit = torch.as_tensor(np.divide(f, norms, out=np.zeros_like(f), where=norms > 0))
        liked = train.matrix.copy()
        liked.data = (liked.data >= self.cfg.like_threshold).astype(np.float32)
        liked.eliminate_zeros()
        none_liked = np.diff(liked.indptr) == 0
        fallback = train.binary[none_liked]
        profile = np.asarray(liked @ unit.numpy())
        profile[none_liked] = np.asarray(fallback @ unit.numpy())
        counts = np.maximum(np.asarray(liked.sum(1)).ravel(), 1)
        counts[none_liked] = np.maximum(np.asarray(fallback.sum(1)).ravel(), 1)
        profile = profile / counts[:, None]
        pn = np.linalg.norm(profile, axis=1, keepdims=True)
        self.profiles_ = torch.as_tensor(np.divide(profile, pn, out=np.zeros_like(profile), where=pn > 0))
        self.unit_ = unit
        pop = train.item_counts.astype(np.float32)
        self.pop_ = torch.as_tensor(pop / max(pop.max(), 1))
        return closed_form_history(time.perf_counter() - t)

    def score(self, users, items=None):
        s = self.profiles_[torch.as_tensor(users)] @ self.unit_.T + _POP_TIEBREAK * self.pop_
        return s if items is None else torch.gather(s, 1, torch.as_tensor(items))

    def similar(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The k items most similar to `item` by genre (itself excluded): (items, cosine)."""
        sims = self.unit_ @ self.unit_[item]
        ranked = sims + _POP_TIEBREAK * self.pop_
        ranked[item] = -torch.inf
        top = torch.topk(ranked, min(k, self.n_items - 1)).indices
        return top.numpy(), sims[top].numpy()

    def shared_genres(self, a: int, b: int) -> np.ndarray:
        """Boolean mask over the genre vocabulary: genres both items have."""
        return self.genres_[a] & self.genres_[b]

    def item_embeddings(self) -> np.ndarray:
        return self.unit_.numpy()

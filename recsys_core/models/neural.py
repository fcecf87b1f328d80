"""What every neural model shares: training parameters in its config, and the inference
state it keeps itself (`prepare`). How a model is fitted lives beside the training loop
(`recsys_core.training.fitting`): nothing here imports it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from recsys_core.data.interactions import Interactions
from recsys_core.models.base import History, Recommender


class NeuralRecommender(Recommender, nn.Module):
    """A Recommender that is an nn.Module trained by `recsys_core.training.loop.fit`.

    Subclasses set `objective` (a name in `recsys_core.training.objectives.OBJECTIVES`), build layers
    in `__init__`, and implement `forward` (training path) and `score` (inference path).
    """

    objective = "pointwise"

    def __init__(self, n_users: int, n_items: int, cfg, item_features: np.ndarray | None = None):
        Recommender.__init__(self, n_users, n_items)
        nn.Module.__init__(self)
        self.cfg = cfg
        features = item_features if item_features is not None else np.zeros((n_items, 0), np.float32)
        self.register_buffer("item_features", torch.as_tensor(features, dtype=torch.float32), persistent=False)

    def prepare(self, train: Interactions) -> None:
        """Take the inference state that comes from the training data (what the user has
        seen; user vectors for the autoencoders, the rating range): before a fit, and when a
        stored run is reloaded. Subclasses extend it; learned state lives in parameters and
        buffers, so a state_dict plus `prepare` rebuilds a fitted model."""
        self.remember_seen(train)

    def refit_config(self, history: History):
        """The config that retrains this model without validation (on train + validation)
        for the epochs this fit's validation picked."""
        return replace(self.cfg, epochs=history.best_epoch) if history.best_epoch else self.cfg

    def forward_candidates(self, users, items) -> torch.Tensor:
        """[batch] users and [batch, m] items -> [batch, m] logits, with gradients: `forward`
        on every (user, item) pair. Dot-product models override it to gather each user once."""
        u = users[:, None].expand_as(items)
        return self.forward(u.reshape(-1), items.reshape(-1)).view(items.shape)

    @torch.no_grad()
    def score_pairs(self, users, items=None) -> torch.Tensor:
        """Scores by `forward(user, item)` on every (user, candidate) pair: for models whose
        score is not a dot product (NCF's tower, EmbeddingNet)."""
        users = torch.as_tensor(users, device=self.device)
        if items is None:
            items = torch.arange(self.n_items, device=self.device).expand(len(users), -1)
        return self.forward_candidates(users, torch.as_tensor(items, device=self.device))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

"""What every neural model shares: training parameters in its config, and `fit` delegating
to the one training loop."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from recsys_core.config import param
from recsys_core.models.base import History, Recommender

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "cosine-restarts")
SAMPLERS = ("uniform", "popularity", "inverse-popularity")


@dataclass(frozen=True)
class TrainParams:
    """Training parameters every neural model's config carries (one flat config per run)."""

    epochs: int = param(20, min=1, max=1000, help="upper bound; early stopping usually ends sooner")
    batch_size: int = param(1024, min=1, max=1_000_000)
    lr: float = param(1e-3, min=0, max=10, min_open=True, help="learning rate")
    weight_decay: float = param(0.0, min=0, max=1)
    optimizer: str = param("adam", choices=OPTIMIZERS)
    momentum: float = param(0.9, min=0, max=1, max_open=True, help="SGD momentum")
    schedule: str = param("none", choices=SCHEDULES, help="cosine annealing with warm restarts (seed 003)")
    restart_epochs: int = param(2, min=1, max=100, help="epochs per cosine cycle")
    patience: int = param(3, min=1, max=100, help="validation checks without improvement before stopping")
    average_half_life: float = param(
        0.0, min=0, max=100, help="validate and keep a moving average of the weights, half-life in epochs (0 = off)"
    )
    seed: int = param(0, min=0)
    device: str = param("auto", choices=("auto", "cpu", "cuda", "mps"))


class NeuralRecommender(Recommender, nn.Module):
    """A Recommender that is an nn.Module trained by `recsys_core.train.fit`.

    Subclasses set `objective` (a name in `recsys_core.objectives.OBJECTIVES`), build layers
    in `__init__`, and implement `forward` (training path) and `score` (inference path).
    """

    objective = "pointwise"

    def __init__(self, n_users: int, n_items: int, cfg, item_features: np.ndarray | None = None):
        Recommender.__init__(self, n_users, n_items)
        nn.Module.__init__(self)
        self.cfg = cfg
        features = item_features if item_features is not None else np.zeros((n_items, 0), np.float32)
        self.register_buffer("item_features", torch.as_tensor(features, dtype=torch.float32), persistent=False)

    def fit(self, train, valid=None, callbacks=(), cancel=None) -> History:
        # The loop sits above models in the dependency order; import it when a fit runs.
        from recsys_core.train import fit

        self.remember_seen(train)
        return fit(self, train, valid, self.cfg, callbacks, cancel)

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

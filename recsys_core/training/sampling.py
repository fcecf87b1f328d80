"""Training negative samplers: items a user has not interacted with in train.

Vectorised on the device: draw candidates for every row at once (uniform, or by a weight
vector through its CDF and `searchsorted`), test membership of (user, item) in the train
set, and redraw only the rejected cells. Never returns a train positive. Membership is one
gather from a dense users x items bit mask when that fits (ml-1m: 22 MB), else a
`searchsorted` into the sorted (user, item) keys.

Kinds:
- `uniform`: every unseen item equally likely.
- `popularity`: weight (count + 1) ** alpha (word2vec's 0.75 by default).
- `inverse-popularity`: weight 1 / (count + 1), the NCF study's sampler (rare items as negatives).
Per-user counts (the NCF study): `per_user(ratio)` draws round(ratio * n_u) negatives for a user
with n_u train interactions, instead of a fixed number per positive.
"""

from __future__ import annotations

import numpy as np
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError

KINDS = ("uniform", "popularity", "inverse-popularity")
DENSE_LIMIT = 400_000_000  # users x items cells up to which membership is a dense bool mask


class NegativeSampler:
    def __init__(self, train: Interactions, kind: str = "uniform", alpha: float = 0.75, device="cpu"):
        if kind not in KINDS:
            raise ConfigError(f"unknown sampler {kind!r}: choose one of {', '.join(KINDS)}")
        self.kind, self.n_items, self.device = kind, train.n_items, torch.device(device)
        keys = torch.as_tensor(
            np.unique(train.users.astype(np.int64) * train.n_items + train.items), device=self.device
        )
        self.keys, self.mask = keys, None
        if train.n_users * train.n_items <= DENSE_LIMIT:
            self.mask = torch.zeros(train.n_users * train.n_items, dtype=torch.bool, device=self.device)
            self.mask[keys] = True
        self.user_counts = torch.as_tensor(train.user_counts, device=self.device)
        counts = train.item_counts.astype(np.float64)
        if kind == "uniform":
            self.weights = None
        else:
            w = (counts + 1) ** alpha if kind == "popularity" else 1.0 / (counts + 1)
            self.weights = torch.as_tensor(w / w.sum(), dtype=torch.float64, device=self.device)
        self._cdf = None if self.weights is None else torch.cumsum(self.weights, 0)
        full = self.user_counts >= self.n_items
        self._full_users = full

    def probabilities(self) -> np.ndarray:
        """The item weights before excluding a user's positives (sums to 1)."""
        if self.weights is None:
            return np.full(self.n_items, 1.0 / self.n_items)
        return self.weights.cpu().numpy()

    def _draw(self, shape, generator) -> torch.Tensor:
        if self._cdf is None:
            return torch.randint(0, self.n_items, shape, generator=generator, device=self.device)
        u = torch.rand(shape, generator=generator, device=self.device, dtype=torch.float64) * self._cdf[-1]
        return torch.searchsorted(self._cdf, u).clamp_(max=self.n_items - 1)

    def is_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        q = users * self.n_items + items
        if self.mask is not None:
            return self.mask[q]
        pos = torch.searchsorted(self.keys, q).clamp_(max=len(self.keys) - 1)
        return self.keys[pos] == q

    def sample(self, users: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """[len(users), n] negatives, each not a train positive of its row's user."""
        users = users.to(self.device)
        if self._full_users[users].any():
            raise ConfigError("a user has interacted with every item: no negative can be drawn")
        items = self._draw((len(users), n), generator)
        flat = items.view(-1)
        # only the rejected cells are redrawn: work on their flat indices from here on
        idx = torch.nonzero(self.is_positive(users[:, None], items).view(-1)).squeeze(1)
        for _ in range(1000):
            if not len(idx):
                return items
            redraw = self._draw((len(idx),), generator)
            flat[idx] = redraw
            idx = idx[self.is_positive(users[idx // n], redraw)]
        raise ConfigError("negative sampling did not converge: users with almost every item seen")

    def per_user(self, ratio: float, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The NCF study's scheme: round(ratio * n_u) negatives for each user u (at least one
        for a user with history). Returns flat (users, items)."""
        counts = torch.clamp(torch.round(ratio * self.user_counts.double()).long(), min=0)
        counts[(self.user_counts > 0) & (counts == 0)] = 1
        users = torch.repeat_interleave(torch.arange(len(counts), device=self.device), counts)
        return users, self.sample(users, 1, generator)[:, 0]

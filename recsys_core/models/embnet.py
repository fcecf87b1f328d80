"""EmbeddingNet (the embedding-network study, after fast.ai): a rating regressor.

User and movie embeddings, concatenated, embedding dropout, hidden layers with their own
dropouts (lists), and a sigmoid output rescaled to the rating range; MSE loss, Adam with
weight decay, cosine annealing with warm restarts, early stopping. Its movie embeddings
are what the embedding map's PCA reads ("seriousness" along the first component).
"""

from __future__ import annotations

import torch
from torch import nn

from recsys_core.models.configs import EmbNetConfig
from recsys_core.models.neural import NeuralRecommender


class EmbeddingNet(NeuralRecommender):
    name = "embnet"
    objective = "rating-mse"
    predicts_ratings = True

    def __init__(self, n_users, n_items, cfg: EmbNetConfig | None = None, item_features=None):
        cfg = cfg if cfg is not None else EmbNetConfig()
        super().__init__(n_users, n_items, cfg, item_features)
        self.user = nn.Embedding(n_users, cfg.dim)
        self.item = nn.Embedding(n_items, cfg.dim)
        self.drop = nn.Dropout(cfg.embedding_dropout)
        layers, n_in = [], 2 * cfg.dim
        for j, n_out in enumerate(cfg.hidden):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
            if j < len(cfg.dropouts) and cfg.dropouts[j] > 0:
                layers.append(nn.Dropout(cfg.dropouts[j]))
            n_in = n_out
        self.hidden = nn.Sequential(*layers)
        self.fc = nn.Linear(n_in, 1)
        nn.init.uniform_(self.user.weight, -0.05, 0.05)
        nn.init.uniform_(self.item.weight, -0.05, 0.05)
        for m in self.hidden:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.constant_(m.bias, 0.01)
        self.register_buffer("rating_bounds", torch.tensor([1.0, 5.0]))  # the train rating range

    def prepare(self, train):
        super().prepare(train)
        self.rating_bounds.copy_(torch.tensor(train.rating_range, dtype=torch.float32))

    def forward(self, users, items):  # [batch] -> [batch] ratings in the rating range
        x = self.drop(torch.cat([self.user(users), self.item(items)], -1))  # [batch, 2*dim]
        lo, hi = self.rating_bounds[0], self.rating_bounds[1]
        return torch.sigmoid(self.fc(self.hidden(x)))[:, 0] * (hi - lo + 1) + lo - 0.5

    @torch.no_grad()
    def score(self, users, items=None):
        return self.score_pairs(users, items)

    @torch.no_grad()
    def predict(self, users, items):
        users, items = torch.as_tensor(users, device=self.device), torch.as_tensor(items, device=self.device)
        return self.forward(users, items).clamp(self.rating_bounds[0], self.rating_bounds[1])

    def item_embeddings(self):
        return self.item.weight.detach().cpu().numpy()

    def user_embeddings(self):
        return self.user.weight.detach().cpu().numpy()

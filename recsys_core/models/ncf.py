"""Matrix factorisation and Neural Collaborative Filtering.

X. He et al., "Neural Collaborative Filtering", WWW 2017: GMF (element-wise product of
user and item embeddings), an MLP tower (the content + NCF study: 64-32-16-8 with ReLU), and NeuMF (both,
concatenated before the output layer), optionally pre-trained from GMF and MLP weights.
Options from the NCF study: an item genre-feature embedding added to the item side, dropout
after the hidden layers, and user-id dropout that maps a share of training rows to one
shared "new user" embedding (row n_users), learned for cold-start users.
S. Rendle et al., "Neural Collaborative Filtering vs. Matrix Factorization Revisited",
RecSys 2020, for the dot-product MF baseline with biases.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn
from torch.nn import functional as F

from recsys_core.errors import ConfigError
from recsys_core.models.configs import LOSSES, MFConfig, NCFConfig, PointwiseParams
from recsys_core.models.neural import NeuralRecommender


def objective_for(cfg: PointwiseParams) -> str:
    """The objective a pointwise model trains with; the NCF study's per-user negatives are drawn
    for the user's whole history, not per positive, so only BCE can use them."""
    if cfg.loss != "bce" and cfg.negatives_per_user > 0:
        raise ConfigError(f"negatives_per_user works with loss=bce only (loss={cfg.loss} pairs negatives per positive)")
    return LOSSES[cfg.loss]


class MF(NeuralRecommender):
    """score(u, i) = <p_u, q_i> + b_u + b_i."""

    name = "mf"

    def __init__(self, n_users, n_items, cfg: MFConfig | None = None, item_features=None):
        cfg = cfg if cfg is not None else MFConfig()
        super().__init__(n_users, n_items, cfg, item_features)
        self.objective = objective_for(cfg)
        self.user = nn.Embedding(n_users, cfg.dim)
        self.item = nn.Embedding(n_items, cfg.dim)
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        for e in (self.user, self.item):
            nn.init.normal_(e.weight, std=0.01)
        for b in (self.user_bias, self.item_bias):
            nn.init.zeros_(b.weight)

    def forward(self, users, items):  # [batch] -> [batch] logits
        return (self.user(users) * self.item(items)).sum(-1) + self.user_bias(users)[:, 0] + self.item_bias(items)[:, 0]

    def forward_candidates(self, users, items):  # [batch], [batch, m] -> [batch, m]: each user gathered once
        return (
            (self.user(users)[:, None, :] * self.item(items)).sum(-1)
            + self.user_bias(users)
            + self.item_bias(items)[..., 0]
        )

    @torch.no_grad()
    def score(self, users, items=None):
        users = torch.as_tensor(users, device=self.device)
        if items is None:
            s = self.user(users) @ self.item.weight.T + self.item_bias.weight[:, 0]
        else:
            items = torch.as_tensor(items, device=self.device)
            s = (self.user(users)[:, None, :] * self.item(items)).sum(-1) + self.item_bias(items)[..., 0]
        return s + self.user_bias(users)  # [batch, n] (user bias does not change a ranking)

    def item_embeddings(self):
        return self.item.weight.detach().cpu().numpy()

    def user_embeddings(self):
        return self.user.weight.detach().cpu().numpy()


class NCF(NeuralRecommender):
    """GMF, MLP or NeuMF; embeddings have one extra user row: the learned 'new user'."""

    has_cold_start = True

    name = "ncf"

    def __init__(self, n_users, n_items, cfg: NCFConfig | None = None, item_features=None):
        cfg = cfg if cfg is not None else NCFConfig()
        super().__init__(n_users, n_items, cfg, item_features)
        if len(cfg.pretrain_epochs) > 2:
            raise ConfigError(f"pretrain_epochs {list(cfg.pretrain_epochs)}: give GMF's and MLP's, or one for both")
        self.objective = objective_for(cfg)
        self.pretrain_best_: dict[str, int] = {}  # pre-training epochs validation picked (GMF, MLP)
        self.new_user = n_users  # index of the shared cold-start embedding
        n_genres = self.item_features.shape[1]
        self.use_gmf = cfg.variant in ("gmf", "neumf")
        self.use_mlp = cfg.variant in ("mlp", "neumf")
        out_in = 0
        if self.use_gmf:
            self.gmf_user = nn.Embedding(n_users + 1, cfg.mf_dim)
            self.gmf_item = nn.Embedding(n_items, cfg.mf_dim)
            out_in += cfg.mf_dim
        if self.use_mlp:
            half = cfg.layers[0] // 2
            self.mlp_user = nn.Embedding(n_users + 1, half)
            self.mlp_item = nn.Embedding(n_items, cfg.layers[0] - half)
            tower = []
            for n_in, n_out in zip(cfg.layers[:-1], cfg.layers[1:]):
                tower += [nn.Linear(n_in, n_out), nn.ReLU()]
                if cfg.dropout > 0:
                    tower.append(nn.Dropout(cfg.dropout))
            self.tower = nn.Sequential(*tower)
            out_in += cfg.layers[-1]
        self.genre = None
        if cfg.genre_features and n_genres:
            dims = (cfg.mf_dim if self.use_gmf else 0) + (cfg.layers[0] - cfg.layers[0] // 2 if self.use_mlp else 0)
            self.genre = nn.Linear(n_genres, dims, bias=False)
        self.out = nn.Linear(out_in, 1)
        for m in self.modules():
            if isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, std=0.01)
            elif isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)

    def _item_side(self, items):
        """(gmf item vectors, mlp item vectors), with the genre embedding added."""
        g = self.genre(self.item_features[items]) if self.genre is not None else None
        split = self.cfg.mf_dim if self.use_gmf else 0
        gi = self.gmf_item(items) if self.use_gmf else None
        mi = self.mlp_item(items) if self.use_mlp else None
        if g is not None:
            gi = gi + g[..., :split] if gi is not None else None
            mi = mi + g[..., split:] if mi is not None else None
        return gi, mi

    def forward(self, users, items):  # [batch], [batch] -> [batch] logits
        gi, mi = self._item_side(items)
        parts = []
        if self.use_gmf:
            parts.append(self.gmf_user(users) * gi)  # [batch, mf_dim]
        if self.use_mlp:
            parts.append(self.tower(torch.cat([self.mlp_user(users), mi], -1)))  # [batch, layers[-1]]
        return self.out(torch.cat(parts, -1))[:, 0]

    def forward_candidates(self, users, items):  # [batch], [batch, m] -> [batch, m]
        """`forward` on every (user, candidate) pair, computed per user and per item where it
        can be: the user embeddings are gathered once per row, and the tower's first layer is
        split into its user half (once per row) and its item half (once per catalogue item,
        then gathered; `F.embedding`, whose backward is much faster on the CPU than
        indexing's), so only the layers after it run per pair."""
        gi_all, mi_all = self._item_side(torch.arange(self.n_items, device=items.device))
        parts = []
        if self.use_gmf:
            parts.append(self.gmf_user(users)[:, None, :] * F.embedding(items, gi_all))  # [batch, m, mf_dim]
        if self.use_mlp:
            u = self.mlp_user(users)
            if len(self.tower):
                first, half = self.tower[0], u.shape[-1]
                user_half = u @ first.weight[:, :half].T + first.bias  # [batch, layers[1]]
                item_half = mi_all @ first.weight[:, half:].T  # [n_items, layers[1]]
                parts.append(self.tower[1:](user_half[:, None, :] + F.embedding(items, item_half)))
            else:  # a one-entry tower: the concatenated embeddings go to the output layer
                parts.append(torch.cat([u[:, None, :].expand(-1, items.shape[1], -1), F.embedding(items, mi_all)], -1))
        return self.out(torch.cat(parts, -1))[..., 0]

    @torch.no_grad()
    def score(self, users, items=None):
        return self.score_pairs(users, items)

    @torch.no_grad()
    def score_new_user(self) -> torch.Tensor:
        """Scores for a user with no history: the learned cold-start embedding."""
        return self.score(torch.tensor([self.new_user], device=self.device))[0]

    def item_embeddings(self):
        parts = []
        if self.use_gmf:
            parts.append(self._item_side(torch.arange(self.n_items, device=self.device))[0])
        if self.use_mlp:
            parts.append(self._item_side(torch.arange(self.n_items, device=self.device))[1])
        return torch.cat(parts, -1).detach().cpu().numpy()

    def user_embeddings(self):
        parts = [self.gmf_user.weight[:-1]] if self.use_gmf else []
        if self.use_mlp:
            parts.append(self.mlp_user.weight[:-1])
        return torch.cat(parts, -1).detach().cpu().numpy()

    def load_pretrained(self, gmf: NCF, mlp: NCF, alpha: float = 0.5) -> None:
        """NeuMF from trained GMF and MLP (He et al. 2017, section 3.4.1)."""
        with torch.no_grad():
            self.gmf_user.weight.copy_(gmf.gmf_user.weight)
            self.gmf_item.weight.copy_(gmf.gmf_item.weight)
            self.mlp_user.weight.copy_(mlp.mlp_user.weight)
            self.mlp_item.weight.copy_(mlp.mlp_item.weight)
            self.tower.load_state_dict(mlp.tower.state_dict())
            self.out.weight.copy_(torch.cat([alpha * gmf.out.weight, (1 - alpha) * mlp.out.weight], 1))
            self.out.bias.copy_(alpha * gmf.out.bias + (1 - alpha) * mlp.out.bias)
            if self.genre is not None and gmf.genre is not None and mlp.genre is not None:
                self.genre.weight.copy_(torch.cat([gmf.genre.weight, mlp.genre.weight], 0))

    def refit_config(self, history):
        """As for every neural model, plus the pre-training epochs GMF's and MLP's
        validation picked."""
        cfg = super().refit_config(history)
        if self.pretrain_best_:
            cfg = replace(cfg, pretrain_epochs=(self.pretrain_best_["GMF"], self.pretrain_best_["MLP"]))
        return cfg

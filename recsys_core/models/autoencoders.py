"""Autoencoders over user vectors.

AutoRec (the AutoRec study; Kuchaiev & Ginsburg 2017, "Training Deep AutoEncoders for Collaborative
Filtering"): a user's rating vector over all items -> encoder/decoder of SELU layers
(sizes as a list; the decoder mirrors the encoder), masked MSE (loss only on observed
ratings), dropout on the code, optional tied decoder weights (W_d = W_e^T) and dense
re-feeding. It predicts ratings (RMSE) and ranks items by predicted rating. With
`item_based` the vectors are items' ratings over users (I-AutoRec, Sedhain et al. 2015).

CDAE (the CDAE study; Wu et al. 2016, "Collaborative Denoising Auto-Encoders for Top-N
Recommender Systems"): a corrupted binary user vector plus a user node -> one tanh hidden
layer -> sigmoid outputs, BCE with per-item positive weights computed per batch (rare items
weigh more). With `recency_half_life` the input vector holds recency weights instead of
ones and the loss on a user's items weighs recent ones more.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from recsys_core.models.configs import AutoRecConfig, CDAEConfig
from recsys_core.models.neural import NeuralRecommender


class AutoRec(NeuralRecommender):
    name = "autorec"
    objective = "masked-mse"
    predicts_ratings = True

    def __init__(self, n_users, n_items, cfg: AutoRecConfig | None = None, item_features=None):
        cfg = cfg if cfg is not None else AutoRecConfig()
        super().__init__(n_users, n_items, cfg, item_features)
        n_in = n_users if cfg.item_based else n_items
        sizes = [n_in, *cfg.layers]
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        back = sizes[::-1]
        if cfg.tied:
            self.dec_bias = nn.ParameterList(nn.Parameter(torch.zeros(b)) for b in back[1:])
        else:
            self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(back[:-1], back[1:]))
        self.drop = nn.Dropout(cfg.dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        # inference state: the train rating vectors (rebuilt by `prepare`, never saved), and
        # the train mean and rating range (saved with the weights)
        self.register_buffer("inputs", torch.zeros(0), persistent=False)  # [rows, n_in]
        self.register_buffer("mean", torch.tensor(3.5))
        self.register_buffer("rating_bounds", torch.tensor([1.0, 5.0]))

    def prepare(self, train):
        super().prepare(train)
        x = torch.as_tensor(train.matrix.toarray(), dtype=torch.float32, device=self.device)
        self.inputs = x.T.contiguous() if self.cfg.item_based else x
        self.mean.fill_(float(train.ratings.mean()) if len(train) else 3.5)
        self.rating_bounds.copy_(torch.tensor(train.rating_range, dtype=torch.float32))

    def encode(self, x):  # [batch, n_in] -> [batch, code]
        for layer in self.enc:
            x = F.selu(layer(x))
        return self.drop(x)

    def decode(self, z):  # [batch, code] -> [batch, n_in]
        n = len(self.enc)
        for j in range(n):
            if self.cfg.tied:
                z = F.linear(z, self.enc[n - 1 - j].weight.T, self.dec_bias[j])
            else:
                z = self.dec[j](z)
            if j < n - 1:
                z = F.selu(z)
        return z + self.mean  # ratings are centred on the train mean

    def forward(self, x):
        return self.decode(self.encode(x))

    @torch.no_grad()
    def reconstruct(self) -> torch.Tensor:
        """[n_users, n_items] predicted ratings from the train rating vectors."""
        out = self.forward(self.inputs)
        return out.T if self.cfg.item_based else out

    def _reconstruction(self) -> torch.Tensor:
        """The full reconstruction, computed once while the weights stay as they are (their
        in-place version counters unchanged): item-based scoring reconstructs every user at
        once, so scoring users batch by batch recomputed it for each batch (full ranking on
        ml-1m: 294 s, `benchmarks/bench_full_ranking.py`)."""
        stamp = tuple(p._version for p in self.parameters())
        if self.training or getattr(self, "_rec_stamp", None) != stamp:
            rec = self.reconstruct()
            if self.training:
                return rec
            self._rec, self._rec_stamp = rec, stamp
        return self._rec

    @torch.no_grad()
    def score(self, users, items=None):
        users = torch.as_tensor(users, device=self.device)
        if self.cfg.item_based:
            s = self._reconstruction()[users]
        else:
            s = self.forward(self.inputs[users])
        return s if items is None else torch.gather(s, 1, torch.as_tensor(items, device=self.device))

    @torch.no_grad()
    def predict(self, users, items):
        users, items = torch.as_tensor(users, device=self.device), torch.as_tensor(items, device=self.device)
        if self.cfg.item_based:
            rec = self._reconstruction()
            return rec[users, items].clamp(self.rating_bounds[0], self.rating_bounds[1])
        out = torch.empty(len(users), device=self.device)
        for s in range(0, len(users), 4096):  # rows of distinct users, one forward each chunk
            u, i = users[s : s + 4096], items[s : s + 4096]
            uniq, inv = torch.unique(u, return_inverse=True)
            out[s : s + 4096] = self.forward(self.inputs[uniq])[inv, i]
        return out.clamp(self.rating_bounds[0], self.rating_bounds[1])

    def item_embeddings(self):
        w = self.enc[0].weight.detach()  # [code, n_in]
        return (w.T if not self.cfg.item_based else self._codes()).cpu().numpy()

    def user_embeddings(self):
        return (self._codes() if not self.cfg.item_based else self.enc[0].weight.detach().T).cpu().numpy()

    @torch.no_grad()
    def _codes(self):
        was = self.training
        self.eval()
        z = self.encode(self.inputs)
        self.train(was)
        return z


class CDAE(NeuralRecommender):
    name = "cdae"
    objective = "weighted-bce"

    def __init__(self, n_users, n_items, cfg: CDAEConfig | None = None, item_features=None):
        cfg = cfg if cfg is not None else CDAEConfig()
        super().__init__(n_users, n_items, cfg, item_features)
        self.enc = nn.Linear(n_items, cfg.hidden)
        self.user_node = nn.Embedding(n_users, cfg.hidden)
        self.dec = nn.Linear(cfg.hidden, n_items)
        nn.init.zeros_(self.user_node.weight)
        # [n_users, n_items]: the train vectors, binary or recency-weighted (rebuilt by `prepare`)
        self.register_buffer("inputs", torch.zeros(0), persistent=False)

    def prepare(self, train):
        super().prepare(train)
        half_life = self.cfg.recency_half_life
        m = train.weighted_matrix(half_life) if half_life > 0 and len(train) else train.binary
        self.inputs = torch.as_tensor(m.toarray(), dtype=torch.float32, device=self.device)

    def forward(self, users, x):  # [batch], [batch, n_items] -> logits [batch, n_items]
        return self.dec(torch.tanh(self.enc(x) + self.user_node(users)))

    @torch.no_grad()
    def score(self, users, items=None):
        users = torch.as_tensor(users, device=self.device)
        s = self.forward(users, self.inputs[users])
        return s if items is None else torch.gather(s, 1, torch.as_tensor(items, device=self.device))

    def item_embeddings(self):
        return self.dec.weight.detach().cpu().numpy()  # [n_items, hidden]

    def user_embeddings(self):
        with torch.no_grad():
            return torch.tanh(self.enc(self.inputs) + self.user_node.weight).cpu().numpy()

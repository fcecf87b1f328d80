"""Autoencoders over user vectors.

AutoRec (seed 001; Kuchaiev & Ginsburg 2017, "Training Deep AutoEncoders for Collaborative
Filtering"): a user's rating vector over all items -> encoder/decoder of SELU layers
(sizes as a list; the decoder mirrors the encoder), masked MSE (loss only on observed
ratings), dropout on the code, optional tied decoder weights (W_d = W_e^T) and dense
re-feeding. It predicts ratings (RMSE) and ranks items by predicted rating. With
`item_based` the vectors are items' ratings over users (I-AutoRec, Sedhain et al. 2015).

CDAE (seed 004; Wu et al. 2016, "Collaborative Denoising Auto-Encoders for Top-N
Recommender Systems"): a corrupted binary user vector plus a user node -> one tanh hidden
layer -> sigmoid outputs, BCE with per-item positive weights computed per batch (rare items
weigh more). With `recency_half_life` the input vector holds recency weights instead of
ones and the loss on a user's items weighs recent ones more.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from recsys_core.config import param, recency_param
from recsys_core.models.neural import NeuralRecommender, TrainParams


@dataclass(frozen=True)
class AutoRecConfig(TrainParams):
    layers: tuple[int, ...] = param((128,), min=1, max=8192, help="encoder sizes; the decoder mirrors them")
    dropout: float = param(0.0, min=0, max=1, max_open=True, help="on the encoder output (the code)")
    tied: bool = param(False, help="decoder weights are the encoder's transposed")
    refeeding: bool = param(False, help="dense re-feeding: also train f(f(x)) ~ f(x)")
    item_based: bool = param(False, help="I-AutoRec: encode items' rating vectors over users")


class AutoRec(NeuralRecommender):
    name = "autorec"
    objective = "masked-mse"
    predicts_ratings = True

    def __init__(self, n_users, n_items, cfg: AutoRecConfig = AutoRecConfig(), item_features=None):
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
        self.register_buffer("inputs", torch.zeros(0), persistent=False)  # [rows, n_in], set by the objective
        self.mean = 3.5  # train mean rating, set by the objective
        self.rating_range = (1.0, 5.0)  # set from the train data by the objective

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

    @torch.no_grad()
    def score(self, users, items=None):
        users = torch.as_tensor(users, device=self.device)
        if self.cfg.item_based:
            s = self.reconstruct()[users]
        else:
            s = self.forward(self.inputs[users])
        return s if items is None else torch.gather(s, 1, torch.as_tensor(items, device=self.device))

    @torch.no_grad()
    def predict(self, users, items):
        users, items = torch.as_tensor(users, device=self.device), torch.as_tensor(items, device=self.device)
        if self.cfg.item_based:
            rec = self.reconstruct()
            return rec[users, items].clamp(*self.rating_range)
        out = torch.empty(len(users), device=self.device)
        for s in range(0, len(users), 4096):  # rows of distinct users, one forward each chunk
            u, i = users[s : s + 4096], items[s : s + 4096]
            uniq, inv = torch.unique(u, return_inverse=True)
            out[s : s + 4096] = self.forward(self.inputs[uniq])[inv, i]
        lo, hi = self.rating_range
        return out.clamp(lo, hi)

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


@dataclass(frozen=True)
class CDAEConfig(TrainParams):
    hidden: int = param(50, min=1, max=8192, help="hidden units (tanh)")
    corruption: float = param(0.2, min=0, max=1, max_open=True, help="share of input ones dropped")
    pos_weight: bool = param(True, help="per-batch positive weights: batch size / item count (seed 004)")
    recency_half_life: float = recency_param()


class CDAE(NeuralRecommender):
    name = "cdae"
    objective = "weighted-bce"

    def __init__(self, n_users, n_items, cfg: CDAEConfig = CDAEConfig(), item_features=None):
        super().__init__(n_users, n_items, cfg, item_features)
        self.enc = nn.Linear(n_items, cfg.hidden)
        self.user_node = nn.Embedding(n_users, cfg.hidden)
        self.dec = nn.Linear(cfg.hidden, n_items)
        nn.init.zeros_(self.user_node.weight)
        self.register_buffer("inputs", torch.zeros(0), persistent=False)  # [n_users, n_items] binary

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

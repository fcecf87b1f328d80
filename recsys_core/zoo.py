"""The named models the dashboard ships, with their tuned default configs.

An explicit dict, name -> entry: no importlib string search. `make(name, ...)` builds a
model from its defaults plus overrides (validated: unknown keys and bad values raise
`ConfigError` with the valid keys and ranges).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recsys_core.config import override
from recsys_core.errors import ConfigError
from recsys_core.models.autoencoders import CDAE, AutoRec, AutoRecConfig, CDAEConfig
from recsys_core.models.base import Recommender
from recsys_core.models.baselines import EASE, EASEConfig, Popularity, PopularityConfig
from recsys_core.models.content import GenreConfig, GenreSimilarity
from recsys_core.models.embnet import EmbeddingNet, EmbNetConfig
from recsys_core.models.ncf import MF, NCF, MFConfig, NCFConfig
from recsys_core.models.neural import NeuralRecommender


@dataclass(frozen=True)
class Entry:
    name: str
    cls: type
    config: object  # the tuned default config
    family: str
    task: str  # "ranking" (implicit top-k) or "rating" (explicit, RMSE; also ranks)
    summary: str


# Tuned defaults (README, "Models": how they were chosen).
# NeuMF, MF, AutoRec, CDAE and EASE re-tuned on validation only (benchmarks/tune_defaults.py;
# README "Models"); recency_half_life: recent interactions weigh more (leave-one-out by time)
# MF's loss: sampled softmax over 16 negatives (the fifth pass, tune_defaults.py --losses)
MF_DEFAULT = MFConfig(dim=128, batch_size=2048, lr=0.003, weight_decay=1e-6, recency_half_life=10, loss="softmax",
                      n_negatives=16)  # fmt: skip
NCF_DEFAULT = NCFConfig(mf_dim=32, layers=(64, 32, 16, 8), batch_size=4096, lr=0.005, pretrain=True,
                        schedule="cosine-restarts", recency_half_life=10)  # fmt: skip
EASE_DEFAULT = EASEConfig(recency_half_life=20)
# AutoRec's dropout, patience and weight averaging: the fourth pass, picked on the 5 folds'
# inner validation (benchmarks/tune_defaults.py --folds)
AUTOREC_DEFAULT = AutoRecConfig(layers=(128, 128), dropout=0.85, item_based=True, batch_size=32, lr=0.0005,
                                weight_decay=1e-5, epochs=100, patience=10, average_half_life=10.0)  # fmt: skip
CDAE_DEFAULT = CDAEConfig(hidden=600, batch_size=32, lr=0.001, epochs=100, patience=5, pos_weight=False,
                          recency_half_life=5)  # fmt: skip
# embnet's regularisation (embedding dropout, weight decay, size) and weight averaging: the
# same fourth pass
EMBNET_DEFAULT = EmbNetConfig(dim=100, embedding_dropout=0.4, batch_size=1024, lr=0.003, weight_decay=1e-3,
                              epochs=80, patience=10, average_half_life=3.0)  # fmt: skip

ZOO: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry("popularity", Popularity, PopularityConfig(), "baseline", "ranking", "most popular unseen items"),
        Entry("genre", GenreSimilarity, GenreConfig(), "content", "ranking", "cosine of genre vectors (seed 002)"),
        Entry("ease", EASE, EASE_DEFAULT, "baseline", "ranking", "closed-form item-item model (Steck 2019)"),
        Entry(
            "mf", MF, MF_DEFAULT, "factorisation", "ranking", "dot-product MF with biases (BCE, BPR or sampled softmax)"
        ),
        Entry("ncf", NCF, NCF_DEFAULT, "neural", "ranking", "NeuMF: GMF + MLP tower (seeds 000, 002)"),
        Entry("autorec", AutoRec, AUTOREC_DEFAULT, "autoencoder", "rating", "deep autoencoder, SELU (seed 001)"),
        Entry("cdae", CDAE, CDAE_DEFAULT, "autoencoder", "ranking", "denoising autoencoder (seed 004)"),
        Entry("embnet", EmbeddingNet, EMBNET_DEFAULT, "neural", "rating", "embedding regressor (seed 003)"),
    ]
}


def entry(name: str) -> Entry:
    if name not in ZOO:
        raise ConfigError(f"unknown model {name!r}: choose one of {', '.join(ZOO)}")
    return ZOO[name]


def config_for(name: str, overrides: dict | None = None):
    return override(entry(name).config, overrides or {})


def make(
    name: str, n_users: int, n_items: int, overrides: dict | None = None, cfg=None, item_features=None
) -> Recommender:
    """A fresh, unfitted model (neural weights initialised from the config's seed)."""
    e = entry(name)
    cfg = cfg if cfg is not None else config_for(name, overrides)
    if issubclass(e.cls, NeuralRecommender):
        torch.manual_seed(cfg.seed)
        return e.cls(n_users, n_items, cfg, item_features)
    return e.cls(n_users, n_items, cfg)


def is_neural(name: str) -> bool:
    return issubclass(entry(name).cls, NeuralRecommender)

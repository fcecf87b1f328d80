"""The model classes of the catalog's entries, and `make`: a fresh, unfitted model.

The entries themselves (names, tuned defaults, tasks) are in the torch-free
`recsys_core.runs.catalog`; this module adds the classes, which need torch.
"""

from __future__ import annotations

import torch

from recsys_core.models.autoencoders import CDAE, AutoRec
from recsys_core.models.base import Recommender
from recsys_core.models.baselines import EASE, Popularity
from recsys_core.models.blend import Blend
from recsys_core.models.content import GenreSimilarity
from recsys_core.models.embnet import EmbeddingNet
from recsys_core.models.ncf import MF, NCF
from recsys_core.models.sequential import BERT4Rec, GRU4Rec, SASRec
from recsys_core.runs.catalog import ZOO, config_for, entry, is_neural

__all__ = ["CLASSES", "ZOO", "config_for", "entry", "is_neural", "make"]

CLASSES: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "genre": GenreSimilarity,
    "ease": EASE,
    "mf": MF,
    "ncf": NCF,
    "autorec": AutoRec,
    "cdae": CDAE,
    "embnet": EmbeddingNet,
    "sasrec": SASRec,
    "gru4rec": GRU4Rec,
    "bert4rec": BERT4Rec,
    "blend": Blend,
}
assert list(CLASSES) == list(ZOO), "every catalog entry has its class, in the same order"


def make(
    name: str,
    n_users: int,
    n_items: int,
    overrides: dict | None = None,
    cfg=None,
    item_features=None,
    split: str | None = None,
    dataset: str | None = None,
) -> Recommender:
    """A fresh, unfitted model (neural weights initialised from the config's seed); `split`:
    the split it will be trained on (`catalog.split_of`), and `dataset` the dataset (by name),
    whose shipped settings it and a blend's components take."""
    entry(name)
    cfg = cfg if cfg is not None else config_for(name, overrides, dataset, split)
    cls = CLASSES[name]
    if cls is Blend:  # its components at their shipped defaults, with the blend's seed (or each of its seeds)
        parts, groups = [], []
        for g, c in enumerate(cfg.components):
            for seed in (cfg.seeds or (cfg.seed,)) if is_neural(c) else (None,):
                over = None if seed is None else {"seed": seed}
                parts.append(make(c, n_users, n_items, over, item_features=item_features, split=split, dataset=dataset))
                groups.append(g)
        return Blend(n_users, n_items, cfg, parts, groups)
    if is_neural(name):
        torch.manual_seed(cfg.seed)
        return cls(n_users, n_items, cfg, item_features)
    return cls(n_users, n_items, cfg)

"""The named models the dashboard ships, with their tuned default configs.

An explicit dict, name -> entry: no importlib string search. `make(name, ...)` builds a
model from its defaults plus overrides (validated: unknown keys and bad values raise
`ConfigError` with the valid keys and ranges).
"""

from __future__ import annotations

from dataclasses import dataclass

from recsys_core.config import override
from recsys_core.errors import ConfigError
from recsys_core.models.base import Recommender
from recsys_core.models.baselines import EASE, EASEConfig, Popularity, PopularityConfig
from recsys_core.models.content import GenreConfig, GenreSimilarity


@dataclass(frozen=True)
class Entry:
    name: str
    cls: type
    config: object  # the tuned default config
    family: str
    task: str  # "ranking" (implicit top-k) or "rating" (explicit, RMSE; also ranks)
    summary: str


ZOO: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry("popularity", Popularity, PopularityConfig(), "baseline", "ranking", "most popular unseen items"),
        Entry("genre", GenreSimilarity, GenreConfig(), "content", "ranking", "cosine of genre vectors (seed 002)"),
        Entry("ease", EASE, EASEConfig(), "baseline", "ranking", "closed-form item-item model (Steck 2019)"),
    ]
}


def entry(name: str) -> Entry:
    if name not in ZOO:
        raise ConfigError(f"unknown model {name!r}: choose one of {', '.join(ZOO)}")
    return ZOO[name]


def config_for(name: str, overrides: dict | None = None):
    return override(entry(name).config, overrides or {})


def make(name: str, n_users: int, n_items: int, overrides: dict | None = None, cfg=None) -> Recommender:
    e = entry(name)
    return e.cls(n_users, n_items, cfg if cfg is not None else config_for(name, overrides))

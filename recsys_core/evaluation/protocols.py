"""Evaluation protocols as records: how the data is split, which candidates each held-out
item is ranked against, the validation figure a training monitors and its direction.

Full ranking is the headline: every item the user has not interacted with is ranked.
The sampled protocols (the held-out item against 99 sampled items) are kept to compare with
the papers that report them, and say so: Krichene and Rendle (KDD 2020, "On Sampled Metrics
for Item Recommendation") showed that sampled metrics can reorder models, even in
expectation. The global temporal split trains on what came before one cut-off time for
every user, so no model learns from interactions later than the ones it is tested on (Ji et
al., TOIS 2023, "A Critical Study on Data Leakage in Recommender System Offline
Evaluation"). Torch-free; imports nothing of the package but its errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from recsys_core.errors import ConfigError

SAMPLED_WHY = (
    "sampled: kept to compare with the papers that report it; sampled metrics can reorder models "
    "(Krichene and Rendle, KDD 2020), so full ranking is the headline"
)
WHY_URL = "https://dl.acm.org/doi/10.1145/3394486.3403226"  # Krichene and Rendle, the reason in the UI's link


@dataclass(frozen=True)
class Protocol:
    name: str
    split: str  # "leave-one-out" | "temporal" | "ratings"
    candidates: str  # "full" | "uniform" | "popularity" | "" (ratings)
    description: str
    monitor: str = "NDCG@10"  # what early stopping, pruning and search compare on validation
    mode: str = "max"  # the monitor's better direction

    @property
    def sampled(self) -> bool:
        return self.candidates in ("uniform", "popularity")

    @property
    def ranking(self) -> bool:
        return self.split != "ratings"

    @property
    def headline(self) -> bool:
        return self.name == HEADLINE

    def better(self, a: float, b: float) -> bool:
        """Whether figure `a` of the monitored metric beats `b`."""
        return a > b if self.mode == "max" else a < b

    @property
    def note(self) -> str:
        """One line on why the protocol is shown: the headline, or why a sampled one is kept."""
        if self.sampled:
            return SAMPLED_WHY
        if self.name == "temporal":
            return "never sees the future: one cut-off time for every user"
        return ""


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in [
        Protocol(
            "full",
            "leave-one-out",
            "full",
            "leave-one-out by time; test item vs every item the user has not interacted with",
        ),
        Protocol(
            "temporal",
            "temporal",
            "full",
            "global temporal split: the latest 10% of interactions by time are the test window, the 10% before "
            "them validation; trained on what came before; every test-window interaction of a user with a "
            "training history is a target, ranked against every item the user had not interacted with before",
        ),
        Protocol(
            "loo-uniform",
            "leave-one-out",
            "uniform",
            "leave-one-out by time; test item vs 99 uniformly sampled unseen items",
        ),
        Protocol(
            "loo-popularity",
            "leave-one-out",
            "popularity",
            "leave-one-out by time; test item vs 99 popularity-sampled unseen items",
        ),
        Protocol("ratings", "ratings", "", "random 80/10/10 split of the explicit ratings", "RMSE", "min"),
        Protocol(
            "ratings-5fold",
            "ratings",
            "",
            "5-fold cross-validation of the explicit ratings (mean over folds; trained on 4/5 as Surprise)",
            "RMSE",
            "min",
        ),
    ]
}
HEADLINE = "full"
# the leave-one-out ranking protocols: one fit serves all three (full first: the headline)
RANKING = tuple(p.name for p in PROTOCOLS.values() if p.split == "leave-one-out")
RATING = tuple(p.name for p in PROTOCOLS.values() if p.split == "ratings")
TEMPORAL = "temporal"
ALL_RANKING = tuple(p.name for p in PROTOCOLS.values() if p.ranking)  # full, temporal, then the sampled ones


def protocol(name: str) -> Protocol:
    """The record of a protocol; ConfigError naming the choices for an unknown one."""
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}: choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def check_protocol(name: str) -> None:
    protocol(name)

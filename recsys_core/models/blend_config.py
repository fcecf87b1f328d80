"""The blend's config: which shipped models it mixes and how their weights are picked.
Torch-free, as `configs` is, so the catalog reads it without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from recsys_core.config import param

BLEND_GRID = 1_000  # weightings a blend tries on validation at most (each ranks every item for every user)
# the models a blend may mix: every catalog entry but the blend itself (a test checks the list
# against the catalog)
BLENDABLE = (
    "popularity",
    "genre",
    "ease",
    "mf",
    "ncf",
    "autorec",
    "cdae",
    "embnet",
    "sasrec",
    "gru4rec",
    "bert4rec",
)
# the blendable models that are networks (a seed makes another one of them; a test checks the
# list against the catalog's `neural` flags)
BLEND_NETWORKS = ("mf", "ncf", "autorec", "cdae", "embnet", "sasrec", "gru4rec", "bert4rec")
BLEND_SEEDS = 5  # networks a seed ensemble averages at most (each is a whole training run)


@dataclass(frozen=True)
class BlendConfig:
    """A blend of shipped models: each trained at its shipped defaults, their scores
    standardised per user and added with weights picked on validation."""

    components: tuple[str, ...] = param(
        ("sasrec", "gru4rec", "ease"), choices=BLENDABLE, help="the models whose scores are added"
    )
    step: float = param(
        0.05,
        min=0.01,
        max=0.5,
        help="the spacing of the weights tried on validation (0.05: 0, 0.05, ..., 1 for each model, summing to 1)",
    )
    weights: tuple[float, ...] = param(
        (), min=0, max=1, help="fixed weights, one a model (empty: picked on validation)"
    )
    seed: int = param(0, min=0, help="the components' seed")
    seeds: tuple[int, ...] = param(
        (),
        min=0,
        help="each network component the average of its networks trained at these seeds (a seed"
        " ensemble; empty: one network, at `seed`)",
        added=True,
    )

    def grid_size(self) -> int:
        """How many weightings validation tries: every split of 1 into `round(1 / step)`
        steps among the components."""
        n = round(1 / self.step)
        return math.comb(n + len(self.components) - 1, len(self.components) - 1)

    def problems(self) -> str | None:
        networks = [c for c in self.components if c in BLEND_NETWORKS]
        if self.seeds and (len(set(self.seeds)) != len(self.seeds) or not 2 <= len(self.seeds) <= BLEND_SEEDS):
            return f"seeds: two to {BLEND_SEEDS} different seeds, or none; got {', '.join(map(str, self.seeds))}"
        if self.seeds and self.seed:
            return f"seed {self.seed} and seeds {', '.join(map(str, self.seeds))}: give one of them"
        if self.seeds and not networks:
            return f"seeds make a network's seed ensemble, and {', '.join(self.components)} has no network"
        if len(set(self.components)) != len(self.components) or not self.components:
            return f"a blend mixes different models, each once, not {', '.join(self.components) or 'none'}"
        if len(self.components) < 2 and not self.seeds:
            return (
                f"a blend mixes two or more different models (or one network at two or more `seeds`),"
                f" not {self.components[0]} alone"
            )
        if self.weights and (len(self.weights) != len(self.components) or abs(sum(self.weights) - 1) > 1e-6):
            return (
                f"weights: one a model ({len(self.components)}), adding up to 1, or none (picked on validation);"
                f" got {self.weights}"
            )
        if not self.weights and self.grid_size() > BLEND_GRID:
            return (
                f"{self.grid_size():,} weightings of {len(self.components)} models at step {self.step:g} are too many to"
                f" try on validation (at most {BLEND_GRID:,}): a larger step, or fewer models"
            )
        return None

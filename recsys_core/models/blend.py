"""A blend: shipped models whose scores are standardised per user and added with weights.

The weights are picked on validation (`recsys_core.training.fitting` fits the components,
then tries every weighting on a grid), never on the test, so a blend's figures are as fair as
any model's (the issue's rule: "blends are fair if picked on validation"). Standardising each
component's scores over the catalogue (mean 0, spread 1 a user) puts a softmax's logits and
EASE's weight sums on one scale. A component that reads history reads what the blend reads.
A network component may be a seed ensemble (`seeds`): its networks trained at each seed, their
standardised scores averaged and standardised again, so it weighs in as one model.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from recsys_core.data.interactions import Interactions
from recsys_core.models.base import Recommender
from recsys_core.models.blend_config import BlendConfig

UNSCORED = -1e8  # a score at or below this is an item a component does not score (bounded EASE)
FLOOR = -10.0  # where an unscored item lands on the standardised scale: below any scored item


def standardise(scores: torch.Tensor) -> torch.Tensor:
    """Each row's scores less their mean over the items the row scores, over their spread
    (a row with one value everywhere becomes 0); unscored items at FLOOR."""
    s = scores.float()
    scored = s > UNSCORED
    n = scored.sum(1, keepdim=True).clamp(min=1)
    x = torch.where(scored, s, 0.0)
    mean = x.sum(1, keepdim=True) / n
    spread = torch.sqrt((torch.where(scored, s - mean, 0.0) ** 2).sum(1, keepdim=True) / n)
    z = (s - mean) / torch.where(spread > 0, spread, 1.0)
    return torch.where(scored, z, FLOOR)


def ensemble(scores: list[torch.Tensor]) -> torch.Tensor:
    """Standardised scores of one model at several seeds as one: their mean, standardised
    again; an item none of them scores stays unscored (at FLOOR)."""
    stacked = torch.stack(scores)
    unscored = (stacked == FLOOR).all(0)
    return standardise(stacked.mean(0).masked_fill(unscored, 2 * UNSCORED))


class Blend(Recommender):
    """Scores: sum_i weights[i] * standardise(component_i's scores). Fitted by
    `fit_model` (each component, then the weights on validation); kept as its components'
    weights and its own (`state_arrays`), so a reload never trains again."""

    name = "blend"
    keeps_state = True
    refits_slowly = True  # its state is kept on any catalogue: a refit would train its networks again

    def __init__(
        self,
        n_users: int,
        n_items: int,
        cfg: BlendConfig,
        parts: list[Recommender],
        groups: list[int] | None = None,
    ):
        """`parts`: the fitted models, `groups` the component (index in `cfg.components`) each
        belongs to (default: one part a component; a seed ensemble's networks share one)."""
        super().__init__(n_users, n_items)
        self.cfg = cfg
        self.parts = list(parts)
        self.groups = list(range(len(self.parts))) if groups is None else list(groups)
        if sorted(set(self.groups)) != list(range(len(cfg.components))) or len(self.groups) != len(self.parts):
            raise ValueError(f"parts' groups {self.groups} do not cover the components {cfg.components}")
        self.weights = np.full(len(cfg.components), 1 / len(cfg.components))
        if cfg.weights:
            self.weights = np.asarray(cfg.weights, dtype=np.float64)
        self.stored: dict[int, int] = {}  # part index -> the stored run it was loaded from (not trained)
        self.reads_history = any(p.reads_history for p in self.parts)
        self.score_cells = min(p.score_cells for p in self.parts)

    @property
    def names(self) -> tuple[str, ...]:
        """The components, one weight each."""
        return tuple(self.cfg.components)

    @property
    def part_names(self) -> list[str]:
        """The model each part is (a seed ensemble's networks share their component's name)."""
        return [self.names[g] for g in self.groups]

    @property
    def labels(self) -> list[str]:
        """Each part as a person reads it: its model, and its seed where the component is a
        seed ensemble ("sasrec seed 1")."""
        many = {g for g in self.groups if self.groups.count(g) > 1}
        return [
            f"{self.names[g]} seed {p.cfg.seed}" if g in many else self.names[g]
            for g, p in zip(self.groups, self.parts)
        ]

    # ------------------------------------------------------------ scoring

    def part_scores(self, users, which=None) -> list[torch.Tensor]:
        """Each component's standardised scores of every item for `users` ([batch, n_items]
        on the CPU; a seed ensemble's, the mean of its networks' standardised again): what
        validation mixes with each weighting it tries. `which`: those components only."""
        users = torch.as_tensor(users)
        out = []
        for g in range(len(self.names)) if which is None else which:
            own = [standardise(p.score(users).float().cpu()) for p, pg in zip(self.parts, self.groups) if pg == g]
            out.append(own[0] if len(own) == 1 else ensemble(own))
        return out

    @staticmethod
    def mix(parts: list[torch.Tensor], weights) -> torch.Tensor:
        out = torch.zeros_like(parts[0])
        for w, s in zip(weights, parts):
            if w:
                out.add_(s, alpha=float(w))
        return out

    @torch.no_grad()
    def score(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        live = [g for g, w in enumerate(self.weights) if w]  # a zero weight: not scored
        out = self.mix(self.part_scores(users, live), [self.weights[g] for g in live])
        if items is not None:
            out = out.gather(1, torch.as_tensor(items, dtype=torch.long).cpu())
        return out

    def frozen(self):
        """Every component's own `frozen` context (a sequential model keeps its user states)."""
        stack = contextlib.ExitStack()
        for p in self.parts:
            stack.enter_context(p.frozen())
        return stack

    # ------------------------------------------------------------ what it reads and keeps

    def read(self, rows: Interactions) -> None:
        """Each component that reads history reads `rows`; what was read is seen."""
        for p in self.parts:
            if p.reads_history:
                p.read(rows)
        seen = [p.seen_ for p in self.parts if p.reads_history and p.seen_ is not None]
        if seen:
            self.seen_ = seen[0]

    def state_arrays(self) -> dict:
        """The weights, and each component's: a network's parameters (its state_dict), a
        closed-form model's fitted arrays where it keeps them (else it is refit: seconds)."""
        out = {"weights": np.asarray(self.weights, dtype=np.float64)}
        for i, p in enumerate(self.parts):
            if isinstance(p, nn.Module):
                out |= {f"{i}/{k}": v.detach().cpu().numpy() for k, v in p.state_dict().items()}
            elif p.keeps_state:
                out |= {f"{i}/{k}": np.asarray(v) for k, v in p.state_arrays().items()}
        return out

    def restore(self, train: Interactions, arrays: dict) -> None:
        """The fitted blend from `state_arrays` and the training rows, nothing trained."""
        self.remember_seen(train)
        for i, p in enumerate(self.parts):
            mine = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(f"{i}/")}
            if isinstance(p, nn.Module):
                p.prepare(train)
                p.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in mine.items()})
                p.eval()
            elif p.keeps_state and mine:
                p.restore(train, mine)
            else:
                p.fit(train)
        self.weights = np.asarray(arrays["weights"], dtype=np.float64)

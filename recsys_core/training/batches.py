"""The interface every objective keeps (`Objective`: setup, the epoch's batches, the loss of
a batch, a validation loss) and an epoch's lazily gathered `Batches`.
"""

from __future__ import annotations

import abc

import torch

from recsys_core.data.interactions import Interactions


class Objective(abc.ABC):
    def setup(self, model, train: Interactions, cfg, generator: torch.Generator) -> None:
        self.model, self.cfg, self.gen = model, cfg, generator
        self.device = model.device

    @abc.abstractmethod
    def epoch_batches(self) -> Batches:
        """The batches of one epoch (tuples of device tensors), freshly shuffled."""

    @abc.abstractmethod
    def loss(self, batch: tuple) -> torch.Tensor:
        """The mean loss of one batch."""

    def valid_loss(self, valid) -> float | None:
        return None

    def _shuffled(self, n: int, *rows: torch.Tensor | None) -> Batches:
        """The epoch's `n` rows in a fresh random order, cut into batches of the config's
        size: each batch is `rows` indexed by its slice of the permutation (None stays
        None), or the slice alone when no rows are given."""
        if not rows:
            return self._shuffled_by(n, lambda b: (b,))
        return self._shuffled_by(n, lambda b: tuple(None if r is None else r[b] for r in rows))

    def _shuffled_by(self, n: int, gather) -> Batches:
        """As `_shuffled`, each batch made by `gather(its slice of the permutation)`."""
        perm = torch.randperm(n, generator=self.gen, device=self.device)
        return Batches(torch.split(perm, self.cfg.batch_size), gather)


class Batches:
    """One epoch's batches, each gathered when the loop reaches it: an epoch holds its rows
    and one permutation, never a gathered copy of every batch beside them (docs/benchmarks.md,
    "Memory")."""

    def __init__(self, slices, gather):
        self.slices, self.gather = list(slices), gather

    def __len__(self) -> int:
        return len(self.slices)

    def __iter__(self):
        for b in self.slices:
            yield self.gather(b)

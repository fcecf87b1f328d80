"""Dropout drawn cheaply on the CPU: the sequential models' `Dropout` layer and the mask
their attention weights' dropout takes (`keep_mask`)."""

from __future__ import annotations

import torch
from torch import nn

# how a dropout mask is drawn on the CPU: "bits", 16-bit draws, four from each 64-bit draw
# (`keep_mask`); "floats", one uniform float each (the code before; the benchmarks time both)
MASK_DRAW = "bits"


def keep_mask(x: torch.Tensor, p: float) -> tuple[torch.Tensor, float]:
    """Dropout's mask for `x` (True: kept) and the scale that keeps its expectation, from the
    default generator of `x`'s device. On the CPU each entry is a 16-bit draw, four from one
    64-bit draw, kept when at or above p (rounded to 1/65,536; the scale is exact for the
    rounded p): a quarter of the draws of one uniform float each, 0.8 ms against 2.3 ms for
    a [128, 50, 128] batch (`python benchmarks/bench_long_sequences.py dropout`)."""
    if x.device.type != "cpu" or MASK_DRAW == "floats":
        return torch.rand_like(x) >= p, 1 / (1 - p)
    n, drop = x.numel(), min(round(p * 65536), 65535)
    bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), None)  # every bit uniform
    return bits.view(torch.int16)[:n].view(x.shape) >= drop - 32768, 65536 / (65536 - drop)


class Dropout(nn.Dropout):
    """`nn.Dropout` with its mask drawn by `keep_mask`: the same distribution (p to 1/65,536)
    in a fraction of the time on the CPU: 0.9 ms of a [128, 50, 64] batch's forward and
    backward against 3.1 ms for `nn.Dropout` (`python benchmarks/bench_sequential.py`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)
        keep, scale = keep_mask(x, self.p)
        return x * keep.to(x.dtype).mul_(scale)

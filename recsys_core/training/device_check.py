"""The device cross-check (`python -m recsys_core devices --check`): every neural model trained
a few epochs with the same seed on the CPU and on each accelerator torch sees, its validation
figure compared with the CPU's. Only running it on a GPU shows that GPU code works.

The models come from the caller (the CLI hands it the catalog's neural models), so the
training layer knows no shipped model."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from recsys_core.data import Dataset
from recsys_core.evaluation.splits import loo_split, ratings_split
from recsys_core.models.base import Recommender
from recsys_core.training.devices import seen_devices
from recsys_core.training.fitting import fit_model


def describe_torch() -> str:
    """torch's version, the devices it sees and its CUDA build."""
    return f"torch {torch.__version__}: {seen_devices()}\nCUDA build: {torch.version.cuda or 'none (a CPU build of torch)'}"


def available_devices() -> list[str]:
    """The CPU, then every CUDA device, then MPS where torch has it."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{j}" for j in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


@dataclass(frozen=True)
class Candidate:
    """A model to cross-check: its name, whether it predicts ratings (checked by RMSE on the
    ratings split) and how to make it from overrides (epochs, device, patience)."""

    name: str
    rating: bool
    make: Callable[[dict], Recommender]


def cross_check(
    ds: Dataset, devices: list[str], epochs: int, tolerance: float, models: Iterable[Candidate], report=print
) -> float:
    """Train every model `epochs` epochs on each device (the same seed); report a line each,
    and return the largest gap of a validation figure to the CPU's."""
    loo, rs = loo_split(ds), ratings_split(ds)
    report(f"check: every neural model, {epochs} epochs on {ds.name} on {', '.join(devices)}; same seed")
    report(f"tolerance: validation metric within {tolerance} of the CPU's")
    worst = 0.0
    for candidate in models:
        base, name, rating = None, candidate.name, candidate.rating
        for device in devices:
            model = candidate.make({"epochs": epochs, "device": device, "patience": epochs})
            t = time.perf_counter()
            h = fit_model(model, rs.train if rating else loo.train, rs.valid if rating else loo, ())
            seconds = (time.perf_counter() - t) / max(len(h.epochs), 1)
            metric = "RMSE" if rating else "NDCG@10"
            value = h.epochs[-1].get(metric) if h.epochs else float("nan")
            note = ""
            if base is None:
                base = value
            else:
                gap = abs(value - base)
                worst = max(worst, gap)
                note = f"  gap to cpu {gap:.4f} " + ("ok" if gap <= tolerance else "OVER TOLERANCE")
            report(f"{name:<8} {device:<7} {h.status:<8} valid {metric} {value:.4f}  {seconds:.2f} s/epoch{note}")
    return worst

"""How a model is fitted: the one entry every caller uses (`fit_model`), beside the loop.

Closed-form models fit themselves. A neural model first takes its inference state from the
training data (`prepare`), then trains in the one loop (`recsys_core.training.loop.fit`), after the
recipe its family needs: NeuMF's pre-training of GMF and MLP (He et al. 2017, 3.4.1). Models
know nothing of this module, so `models/` never imports the loop.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import numpy as np

from recsys_core.data.interactions import Interactions
from recsys_core.evaluation.scoring import evaluate_full_valid_blends, evaluate_temporal
from recsys_core.evaluation.splits import LooSplit
from recsys_core.evaluation.temporal import TemporalSplit
from recsys_core.models.base import History, Recommender
from recsys_core.models.blend import Blend
from recsys_core.models.ncf import NCF
from recsys_core.models.neural import NeuralRecommender
from recsys_core.training import devices, loop


def fit_model(model: Recommender, train: Interactions, valid=None, callbacks=(), cancel=None) -> History:
    """Fit `model` on `train`; `valid` (a LooSplit or rating rows) drives early stopping.
    Neural models end on their best-epoch weights. torch's CPU threads are set first
    (`devices.use_threads`: RECSYS_THREADS, else one per core, fewer where the model's steps
    are too small to share: `devices.useful_threads`)."""
    devices.use_threads(devices.useful_threads(model.name, getattr(model, "cfg", None)))
    devices.return_freed_memory()
    if isinstance(model, Blend):
        return _fit_blend(model, train, valid, callbacks, cancel)
    if not isinstance(model, NeuralRecommender):
        return model.fit(train, valid, callbacks, cancel)
    model.prepare(train)
    if isinstance(model, NCF):
        h = _pretrain_neumf(model, train, valid, callbacks, cancel)
        if h is not None:
            return h
    return loop.fit(model, train, valid, model.cfg, callbacks, cancel)


def _pretrain_neumf(model: NCF, train, valid, callbacks, cancel) -> History | None:
    """NeuMF from trained GMF and MLP: both are built before either trains (their initial
    weights follow the model's seed), trained with early stopping (or for the fixed
    `pretrain_epochs`), and loaded into the model. Returns the failed phase's history, or
    None when the model may now train."""
    model.pretrain_best_ = {}
    cfg = model.cfg
    if cfg.variant != "neumf" or not cfg.pretrain:
        return None
    fixed = cfg.pretrain_epochs or (cfg.epochs, cfg.epochs)
    features = model.item_features.cpu().numpy()
    subs = {}
    for name, epochs in (("GMF", fixed[0]), ("MLP", fixed[-1])):
        sub_cfg = replace(cfg, variant=name.lower(), pretrain=False, pretrain_epochs=(), epochs=epochs)
        subs[name] = NCF(model.n_users, model.n_items, sub_cfg, features)
    for name, sub in subs.items():
        sub.to(model.device)
        sub.prepare(train)
        h = loop.fit(sub, train, valid, sub.cfg, [_Pretraining(cb, name) for cb in callbacks], cancel)
        if h.status != "done":
            h.message = f"pre-training {name}: {h.message}"
            return h
        model.pretrain_best_[name] = h.best_epoch or sub.cfg.epochs
    model.load_pretrained(subs["GMF"], subs["MLP"])
    subs.clear()  # GMF and MLP are in NeuMF now: let their weights and optimiser state go
    return None


def _fit_blend(model: Blend, train: Interactions, valid, callbacks, cancel) -> History:
    """Each component fitted as it would be alone (its early stopping on the same
    validation), then every weighting on the grid scored on validation and the best kept
    (the validation item ranked against every unseen item for leave-one-out, the validation
    window for the temporal split): the test is never looked at. Without validation (a refit)
    only fixed `weights` can serve."""
    t = time.perf_counter()
    model.remember_seen(train)
    if valid is None and not model.cfg.weights:
        return History(
            status="failed", message="a blend picks its weights on validation: give fixed weights to fit without"
        )
    if valid is not None and not isinstance(valid, (LooSplit, TemporalSplit)):
        return History(status="failed", message="a blend ranks: it is fitted on a leave-one-out or temporal split")
    row, device = {"epoch": 1}, devices.cpu_line()  # where its scoring ran, when it trained no component
    for i, (name, part) in enumerate(zip(model.labels, model.parts)):
        if i in model.stored:  # trained already: loaded from its stored run, as it was validated
            row[f"{name}_run"] = model.stored[i]
            continue
        h = fit_model(part, train, valid, [_Pretraining(cb, name, "component") for cb in callbacks], cancel)
        if h.status != "done":
            h.message = f"component {name}: {h.message}"
            return h
        row[f"{name}_seconds"] = h.seconds
        device = h.device if isinstance(part, NeuralRecommender) else device
        row[f"{name}_epochs"] = h.best_epoch or len(h.epochs)
        if cancel is not None and cancel.is_set():
            return History(status="cancelled", message=f"cancelled after component {name}")
    devices.use_threads()  # the blend's own threads again, whatever its last component's steps took
    for cb in callbacks:  # the blend's own step: its weights (after its components' phases)
        cb.on_train_begin({"device": device, "epochs": 1, "batches": 1})
    if not model.cfg.weights:
        grid = weight_grid(len(model.names), model.cfg.step)
        found = _validate_weightings(model, valid, grid)
        best = best_weighting(found)
        model.weights = grid[best]
        row |= {key: float(found[best][key]) for key in ("HR@10", "NDCG@10")}
        row["tried"] = len(grid)
    row |= {f"w_{name}": float(w) for name, w in zip(model.names, model.weights)}
    row["seconds"] = time.perf_counter() - t
    for cb in callbacks:
        cb.on_epoch_end(row)
    return History(epochs=[row], best_epoch=1, device=device)


def best_weighting(found: list[dict]) -> int:
    """The row of a weight grid a blend keeps: the highest validation NDCG@10, then HR@10,
    then the earliest row."""
    return max(range(len(found)), key=lambda j: (found[j]["NDCG@10"], found[j]["HR@10"], -j))


def weight_grid(k: int, step: float) -> np.ndarray:
    """Every weighting of `k` components in multiples of `step` that adds up to 1, as
    [n, k] rows; the first row puts everything on the first component."""
    n = round(1 / step)
    rows = [c + (n - sum(c),) for c in itertools.product(range(n, -1, -1), repeat=k - 1) if sum(c) <= n]
    return np.asarray(rows, dtype=np.float64) / n


def _validate_weightings(model: Blend, valid, grid: np.ndarray) -> list[dict]:
    """HR/NDCG@10 on validation of the blend at each row of `grid`."""
    with model.frozen():
        if isinstance(valid, LooSplit):
            return evaluate_full_valid_blends(model, valid, grid)
        out = []
        for w in grid:
            model.weights = w
            out.append(evaluate_temporal(model, valid, stage="valid", list_k=0)[0])
        return out


class _Pretraining(loop.Callback):
    """Forwards a phase's progress to a callback, marked with the phase ("pre-training GMF",
    "component sasrec"); its epochs go to `on_pretrain_epoch_end`, not into the run's history
    (NeuMF's own, the blend's)."""

    def __init__(self, inner, phase: str, label: str = "pre-training"):
        self.inner, self.phase, self.label = inner, phase, label

    def on_train_begin(self, info: dict) -> None:
        self.inner.on_train_begin({**info, "phase": f"{self.label} {self.phase}"})

    def on_batch_end(self, epoch: int, batch: int, n_batches: int, loss: float) -> None:
        self.inner.on_batch_end(epoch, batch, n_batches, loss)

    def on_epoch_end(self, row: dict) -> None:
        hook = getattr(self.inner, "on_pretrain_epoch_end", None)
        if hook is not None:
            hook(self.phase, row)

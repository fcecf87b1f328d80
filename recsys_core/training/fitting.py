"""How a model is fitted: the one entry every caller uses (`fit_model`), beside the loop.

Closed-form models fit themselves. A neural model first takes its inference state from the
training data (`prepare`), then trains in the one loop (`recsys_core.training.loop.fit`), after the
recipe its family needs: NeuMF's pre-training of GMF and MLP (He et al. 2017, 3.4.1). Models
know nothing of this module, so `models/` never imports the loop.
"""

from __future__ import annotations

from dataclasses import replace

from recsys_core.data.interactions import Interactions
from recsys_core.models.base import History, Recommender
from recsys_core.models.ncf import NCF
from recsys_core.models.neural import NeuralRecommender
from recsys_core.training import devices, loop


def fit_model(model: Recommender, train: Interactions, valid=None, callbacks=(), cancel=None) -> History:
    """Fit `model` on `train`; `valid` (a LooSplit or rating rows) drives early stopping.
    Neural models end on their best-epoch weights. torch's CPU threads are set first
    (`devices.use_threads`: RECSYS_THREADS, else one per core)."""
    devices.use_threads()
    devices.return_freed_memory()
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


class _Pretraining(loop.Callback):
    """Forwards a pre-training phase's progress to a callback, marked with the phase; its
    epochs go to `on_pretrain_epoch_end`, not into the run's history (NeuMF's own)."""

    def __init__(self, inner, phase: str):
        self.inner, self.phase = inner, phase

    def on_train_begin(self, info: dict) -> None:
        self.inner.on_train_begin({**info, "phase": f"pre-training {self.phase}"})

    def on_batch_end(self, epoch: int, batch: int, n_batches: int, loss: float) -> None:
        self.inner.on_batch_end(epoch, batch, n_batches, loss)

    def on_epoch_end(self, row: dict) -> None:
        hook = getattr(self.inner, "on_pretrain_epoch_end", None)
        if hook is not None:
            hook(self.phase, row)

"""The one training loop: every neural model trains here.

Device picked once (`devices.pick_device`: CUDA, then MPS, then CPU, or as asked; a device
that is not there is a ConfigError); everything seeded (same seed, same history on
the CPU), every random draw from a generator on the run's device; optional mixed precision
on CUDA (bf16 or fp16 with a gradient scaler) and on a CPU with bf16 instructions (bf16);
the objective keeps the data on the device and batches by indexing; Adam or SGD with
momentum, weight decay, cosine annealing with warm restarts; an optional moving average of
the weights; early stopping on a validation metric with the best weights
restored; per-epoch history; callbacks for progress; a cancel token checked every few
batches; status "diverged" when the loss stops being finite; GPU out-of-memory turned into
a clear message.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass

import torch

from recsys_core.data.interactions import Interactions
from recsys_core.evaluation.metrics import rmse
from recsys_core.evaluation.protocols import protocol
from recsys_core.evaluation.scoring import evaluate_full_valid, evaluate_sampled, evaluate_temporal, predict_ratings
from recsys_core.evaluation.splits import LooSplit
from recsys_core.evaluation.temporal import TemporalSplit
from recsys_core.models.base import History
from recsys_core.training.devices import amp_plan, cpu_line, describe_device, pick_device
from recsys_core.training.objectives import OBJECTIVES

CHECK_EVERY = 8  # batches between cancel checks and progress callbacks
# A run "diverges" when its loss stops being finite, or blows up far above the loss of the
# untrained model (its first batch): the NCF study's lr 1 on NeuMF jumps from 0.69 to 6.7.
BLOWUP_BATCH, BLOWUP_EPOCH = 10.0, 3.0


def _blown_up(value: float, first: float, factor: float) -> bool:
    return value > factor * first + 0.5


@dataclass
class EarlyStopping:
    """Lightning semantics: `patience` checks without an improvement of more than
    `min_delta` in `mode` direction stop the run. A tie is not an improvement."""

    mode: str = "max"
    patience: int = 3
    min_delta: float = 0.0
    best: float | None = None
    bad_checks: int = 0

    def update(self, value: float) -> tuple[bool, bool]:
        """(improved, should_stop) after one validation check."""
        if self.best is None:
            improved = math.isfinite(value)
        elif self.mode == "max":
            improved = value > self.best + self.min_delta
        else:
            improved = value < self.best - self.min_delta
        if improved:
            self.best, self.bad_checks = value, 0
        else:
            self.bad_checks += 1
        return improved, self.bad_checks >= self.patience


class Callback:
    """Hooks the loop calls; override what you need. No return values."""

    def on_train_begin(self, info: dict) -> None: ...

    def on_batch_end(self, epoch: int, batch: int, n_batches: int, loss: float) -> None: ...

    def on_epoch_end(self, row: dict) -> None: ...

    def on_pretrain_epoch_end(self, phase: str, row: dict) -> None:
        """An epoch of a pre-training phase (NeuMF's GMF and MLP): not the run's history."""


def validate(model, valid, on: str = "uniform") -> dict:
    """Validation metrics: NDCG/HR@10 of the leave-one-out validation item against its 99
    uniform samples or, `on="full"`, every item; on the temporal validation window (every
    item ranked); or RMSE."""
    if isinstance(valid, TemporalSplit):
        m = evaluate_temporal(model, valid, 10, stage="valid", list_k=0)[0]  # no lists: ranks only
        return {"HR@10": m["HR@10"], "NDCG@10": m["NDCG@10"]}
    if isinstance(valid, LooSplit):
        if on == "full":
            m = evaluate_full_valid(model, valid, 10)
        else:
            m = evaluate_sampled(model, valid, "uniform", 10, stage="valid")
        return {"HR@10": m["HR@10"], "NDCG@10": m["NDCG@10"]}
    if isinstance(valid, Interactions) and len(valid):
        return {"RMSE": rmse(predict_ratings(model, valid.users, valid.items), valid.ratings)}
    return {}


def fit(model, train: Interactions, valid, cfg, callbacks=(), cancel=None) -> History:
    """Train `model` with its objective; returns the History (best weights restored).

    long: the one training loop, every step of an epoch (batches, mixed precision, the
    cancel token, divergence, validation, early stopping, callbacks) in the order it runs;
    split, its state (device, generator, scaler, best weights) would travel between pieces."""
    device = pick_device(cfg.device)
    history = History(device=describe_device(device))
    if device.type == "cpu":
        history.device = cpu_line()
    torch.manual_seed(cfg.seed)
    # every draw (shuffles, negatives, dropout masks, corruption) on the device it fills
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    half, said = amp_plan(cfg, device)
    if said:
        history.device += f", {said}"
    autocast = (lambda: torch.autocast(device.type, dtype=half)) if half is not None else contextlib.nullcontext
    scaler = torch.amp.GradScaler("cuda") if half == torch.float16 else None
    try:
        model.to(device)
        objective = OBJECTIVES[model.objective]()
        objective.setup(model, train, cfg, gen)
        opt = _optimizer(model, cfg)
        batches = objective.epoch_batches()
        sched = lr_schedule(opt, cfg, len(batches))
        regression = isinstance(valid, Interactions)
        watched = protocol("ratings" if regression else "full")  # every ranking protocol watches the same
        stopper = EarlyStopping(watched.mode, cfg.patience)
        monitor = watched.monitor
        best_state = None
        average = WeightAverage(model, cfg.average_half_life, len(batches)) if cfg.average_half_life > 0 else None
        averaged = average.applied if average is not None else contextlib.nullcontext  # what validation sees
        for cb in callbacks:
            cb.on_train_begin({"device": history.device, "epochs": cfg.epochs, "batches": len(batches)})
        first_loss = None
        for epoch in range(1, cfg.epochs + 1):
            t = time.perf_counter()
            model.train()
            total = torch.zeros((), device=device)
            if epoch > 1:
                batches = None  # the last epoch's rows go before the next ones are drawn
                batches = objective.epoch_batches()
            for b, batch in enumerate(batches):
                with autocast():
                    loss = objective.loss(batch)
                opt.zero_grad(set_to_none=True)
                if scaler is not None:  # fp16: scale the loss so small gradients survive
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                if average is not None:
                    average.update()
                if sched is not None:
                    sched.step()
                total += loss.detach()
                if first_loss is None:
                    first_loss = float(loss.detach())
                if (b + 1) % CHECK_EVERY == 0 or b + 1 == len(batches):
                    value = float(loss.detach())
                    if not math.isfinite(value) or _blown_up(value, first_loss, BLOWUP_BATCH):
                        history.status = "diverged"
                        history.message = (
                            f"loss became {value:.4g} at epoch {epoch}, batch {b + 1} (untrained: {first_loss:.4g}; "
                            f"lr {cfg.lr:g}): the learning rate is too high for this model"
                        )
                        break
                    for cb in callbacks:
                        cb.on_batch_end(epoch, b + 1, len(batches), value)
                    if cancel is not None and cancel.is_set():
                        history.status, history.message = "cancelled", f"cancelled during epoch {epoch}"
                        break
            if history.status != "done":
                break
            model.eval()
            row = {"epoch": epoch, "train_loss": float(total) / max(len(batches), 1)}
            if valid is not None:
                with averaged(), model.frozen():
                    vl = objective.valid_loss(valid)
                    if vl is not None:
                        row["valid_loss"] = vl
                    row.update(validate(model, valid, cfg.validate_on))
            row["seconds"] = time.perf_counter() - t
            row["lr"] = opt.param_groups[0]["lr"]
            history.epochs.append(row)
            for cb in callbacks:
                cb.on_epoch_end(row)
            if not math.isfinite(row["train_loss"]) or _blown_up(row["train_loss"], first_loss, BLOWUP_EPOCH):
                history.status = "diverged"
                history.message = (
                    f"mean train loss {row['train_loss']:.4g} in epoch {epoch}, against {first_loss:.4g} untrained "
                    f"(lr {cfg.lr:g}): the learning rate is too high for this model"
                )
                break
            if monitor in row:
                improved, stop = stopper.update(row[monitor])
                if improved:
                    history.best_epoch = epoch
                    with averaged():
                        best_state = copy.deepcopy(model.state_dict())
                if stop:
                    history.message = f"early stop after epoch {epoch}: no better {monitor} for {cfg.patience} epochs"
                    break
            else:
                history.best_epoch = epoch
        if best_state is not None and history.status == "done":
            model.load_state_dict(best_state)
        elif average is not None and history.status == "done":
            average.copy_to_model()
    except torch.OutOfMemoryError as e:
        history.status = "failed"
        history.message = (
            f"out of GPU memory on {history.device}: lower the batch size or the model size ({str(e).splitlines()[0]})"
        )
        if device.type == "cuda":
            torch.cuda.empty_cache()
    model.eval()
    return history


class WeightAverage:
    """An exponential moving average of a model's parameters, updated after every step
    (Polyak-Ruppert averaging with a forgetting factor). Its half-life is given in epochs, so
    the same setting means the same window whatever the batch size. The average is what
    validation sees, what early stopping keeps, and what the fit returns."""

    def __init__(self, model, half_life_epochs: float, batches_per_epoch: int):
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone() for p in self.params]
        self.weight = 1 - 0.5 ** (1 / (half_life_epochs * max(batches_per_epoch, 1)))

    @torch.no_grad()
    def update(self) -> None:
        for s, p in zip(self.shadow, self.params):
            s.lerp_(p.detach(), self.weight)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        for p, s in zip(self.params, self.shadow):
            p.copy_(s)

    @contextlib.contextmanager
    def applied(self):
        """The model holds the averaged weights inside the block, its own after."""
        with torch.no_grad():
            own = [p.detach().clone() for p in self.params]
            self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                for p, o in zip(self.params, own):
                    p.copy_(o)


def lr_schedule(opt, cfg, steps: int):
    """The learning rate's scheduler, stepped after every batch (None: constant). A warm-up
    (`warmup_epochs`, n steps) takes the rate from lr / n to lr linearly, one step at a time;
    the schedule (a cosine over the rest of the fit, or warm restarts) starts once it ends."""
    lrs = torch.optim.lr_scheduler
    warm = round(cfg.warmup_epochs * steps)
    if cfg.schedule == "cosine-restarts":
        main = lrs.CosineAnnealingWarmRestarts(opt, T_0=cfg.restart_epochs * steps)
    elif cfg.schedule == "cosine":  # one half-cosine over the whole fit (after the warm-up), a step at a time
        main = lrs.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs * steps - warm))
    else:
        main = None
    if warm < 2:
        return main
    ramp = lrs.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    return ramp if main is None else lrs.SequentialLR(opt, [ramp, main], milestones=[warm])


def _optimizer(model, cfg) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

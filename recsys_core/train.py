"""The one training loop: every neural model trains here.

Device picked once (CUDA, then MPS, then CPU, or as asked: cpu, cuda, cuda:N, mps; a
device that is not there is a ConfigError); everything seeded (same seed, same history on
the CPU), every random draw from a generator on the run's device; optional mixed precision
on CUDA (bf16 or fp16 with a gradient scaler); the objective keeps the data on the device and batches by indexing; Adam or
SGD with momentum, weight decay, cosine annealing with warm restarts; an optional moving
average of the weights; early stopping on a validation metric with the best weights
restored; per-epoch history; callbacks for progress; a cancel token checked every few
batches; status "diverged" when the loss stops being finite; GPU out-of-memory turned into
a clear message.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import math
import os
import time
from dataclasses import dataclass

import torch

from recsys_core.errors import ConfigError
from recsys_core.evaluation import evaluate_sampled, evaluate_temporal, predict_ratings
from recsys_core.metrics import rmse
from recsys_core.models.base import History
from recsys_core.objectives import OBJECTIVES
from recsys_core.splits import Interactions, LooSplit
from recsys_core.temporal import TemporalSplit

CHECK_EVERY = 8  # batches between cancel checks and progress callbacks
# A run "diverges" when its loss stops being finite, or blows up far above the loss of the
# untrained model (its first batch): the NCF study's lr 1 on NeuMF jumps from 0.69 to 6.7.
BLOWUP_BATCH, BLOWUP_EPOCH = 10.0, 3.0


def _blown_up(value: float, first: float, factor: float) -> bool:
    return value > factor * first + 0.5


def pick_device(requested: str = "auto") -> torch.device:
    """The device a run will use: `auto` takes CUDA, then MPS, then the CPU; `cpu`, `cuda`,
    `cuda:N` and `mps` are taken as asked when present, and raise ConfigError (saying what
    torch sees) when not, so a run is refused before it is queued."""
    requested = str(requested or "auto")
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as e:
        raise ConfigError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps") from e
    if device.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ConfigError(f"device {requested!r}: torch sees no CUDA device here ({seen_devices()})")
        if device.index is not None and device.index >= n:
            raise ConfigError(f"device {requested!r}: torch sees {n} CUDA device(s), cuda:0 .. cuda:{n - 1}")
    elif device.type == "mps" and not _mps_available():
        raise ConfigError(f"device 'mps': no Apple GPU is available here ({seen_devices()})")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


def thread_count() -> int:
    """torch's CPU threads for a fit: `RECSYS_THREADS` when set, else one per core this
    process may run on. Never chosen from the load of the moment: the thread count changes
    the order of torch's sums and so a run's figures (SASRec on ml-100k, 5 epochs, HR@10
    0.638 with one thread, 0.646 with two), so a shipped model gives the same figures on a
    busy machine as on an idle one. Busy cores no longer call for fewer threads: with the
    OpenMP threads waiting passively (`recsys_core.WAIT_POLICY`), two threads beside a
    busy-loop process on 2 cores train as fast as one (docs/benchmarks.md, "Under load")."""
    raw = os.environ.get("RECSYS_THREADS", "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError as e:
            raise ConfigError(f"RECSYS_THREADS={raw!r}: expected a whole number of threads") from e
        if n < 1:
            raise ConfigError(f"RECSYS_THREADS={n}: at least one thread")
        return n
    return usable_cores()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform says, else
    every core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def return_freed_memory() -> bool:
    """With `RECSYS_MMAP_THRESHOLD=N` (bytes), ask glibc's malloc to serve blocks of N and
    more from their own mappings, given back to the system when freed, instead of from a
    heap it keeps at its high-water mark. Off by default: it lowers the peak (`train ncf` on
    ml-100k: 651 -> 504 MiB at 256 KiB) but costs a page fault per large tensor (MF's
    training 10 -> 21 s), measured in docs/benchmarks.md, "Memory". False where it is off or
    the C library is not glibc (macOS, Windows, musl)."""
    global _MALLOC_SET
    if _MALLOC_SET is None:
        _MALLOC_SET = False
        try:
            threshold = int(os.environ.get("RECSYS_MMAP_THRESHOLD", "0"))
            if threshold > 0:
                libc = ctypes.CDLL("libc.so.6")
                m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
                _MALLOC_SET = bool(libc.mallopt(m_mmap_threshold, threshold)) and bool(
                    libc.mallopt(m_trim_threshold, 4 * threshold)
                )
        except (OSError, AttributeError, ValueError):
            _MALLOC_SET = False
    return _MALLOC_SET


_MALLOC_SET: bool | None = None


def use_threads() -> int:
    """Apply `thread_count()` to torch (process-wide) and return it."""
    n = thread_count()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def seen_devices() -> str:
    """What torch sees: 'cpu (2 threads)', then each CUDA device or the Apple GPU."""
    parts = [f"cpu ({usable_cores()} cores; {_threads_rule()})"]
    if torch.cuda.is_available():
        parts += [f"cuda:{j} {torch.cuda.get_device_name(j)}" for j in range(torch.cuda.device_count())]
    if _mps_available():
        parts.append("mps (Apple GPU)")
    return ", ".join(parts)


def describe_device(device: torch.device | str | None = None) -> str:
    """'NVIDIA H100 80GB HBM3 (cuda:0)' or 'CPU, 2 torch threads (no GPU found)'."""
    device = pick_device() if device is None else pick_device(str(device))
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"{torch.cuda.get_device_name(index)} (cuda:{index})"
    if device.type == "mps":
        return "Apple GPU (mps)"
    gpu = "" if torch.cuda.is_available() or _mps_available() else " (no GPU found)"
    return f"CPU, {_threads_rule()}{gpu}"


def _threads_rule() -> str:
    """'2 torch threads (RECSYS_THREADS)' (set), or '2 torch threads, one per core' (the rule)."""
    n = thread_count()
    if os.environ.get("RECSYS_THREADS", "").strip():
        return f"{n} torch thread{'s' * (n != 1)} (RECSYS_THREADS)"
    return f"{n} torch thread{'s' * (n != 1)}, one per core"


def amp_dtype(cfg, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a run: bf16 or fp16 on CUDA when asked for, else None (mixed
    precision is off on the CPU and MPS, whatever the config says)."""
    mode = getattr(cfg, "amp", "off")
    if device.type != "cuda" or mode == "off":
        return None
    return torch.bfloat16 if mode == "bf16" else torch.float16


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


def validate(model, valid) -> dict:
    """Validation metrics: NDCG/HR@10 on the leave-one-out validation candidates, on the
    temporal validation window (every item ranked), or RMSE."""
    if isinstance(valid, TemporalSplit):
        m = evaluate_temporal(model, valid, 10, stage="valid", list_k=0)[0]  # no lists: ranks only
        return {"HR@10": m["HR@10"], "NDCG@10": m["NDCG@10"]}
    if isinstance(valid, LooSplit):
        m = evaluate_sampled(model, valid, "uniform", 10, stage="valid")
        return {"HR@10": m["HR@10"], "NDCG@10": m["NDCG@10"]}
    if isinstance(valid, Interactions) and len(valid):
        return {"RMSE": rmse(predict_ratings(model, valid.users, valid.items), valid.ratings)}
    return {}


def fit(model, train: Interactions, valid, cfg, callbacks=(), cancel=None) -> History:
    """Train `model` with its objective; returns the History (best weights restored)."""
    device = pick_device(cfg.device)
    history = History(device=describe_device(device))
    if device.type == "cpu":  # the threads this fit really has (use_threads picked them)
        n = torch.get_num_threads()
        history.device = f"CPU, {n} torch thread{'s' * (n != 1)}"
    torch.manual_seed(cfg.seed)
    # every draw (shuffles, negatives, dropout masks, corruption) on the device it fills
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    half = amp_dtype(cfg, device)
    if half is not None:
        history.device += f", {cfg.amp} mixed precision"
    autocast = (lambda: torch.autocast("cuda", dtype=half)) if half is not None else contextlib.nullcontext
    scaler = torch.amp.GradScaler("cuda") if half == torch.float16 else None
    try:
        model.to(device)
        objective = OBJECTIVES[model.objective]()
        objective.setup(model, train, cfg, gen)
        opt = _optimizer(model, cfg)
        batches = objective.epoch_batches()
        sched = None
        if cfg.schedule == "cosine-restarts":
            sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=cfg.restart_epochs * len(batches))
        regression = isinstance(valid, Interactions)
        stopper = EarlyStopping("min" if regression else "max", cfg.patience)
        monitor = "RMSE" if regression else "NDCG@10"
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
                with averaged():
                    vl = objective.valid_loss(valid)
                    if vl is not None:
                        row["valid_loss"] = vl
                    row.update(validate(model, valid))
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


def _optimizer(model, cfg) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

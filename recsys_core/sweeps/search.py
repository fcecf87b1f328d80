"""Search and pruning: Optuna's TPE asking for each next point from the results so far, and the
median pruner that stops a point whose validation figure falls below the other points' at
the same epoch.
"""

from __future__ import annotations

import threading

import numpy as np

from recsys_core.data import Dataset
from recsys_core.evaluation.protocols import protocol
from recsys_core.models.history import best_row
from recsys_core.runs.life import Outcome
from recsys_core.runs.record import Run
from recsys_core.runs.store import Store
from recsys_core.sweeps.spec import Sweep, point_label, tpe_distributions
from recsys_core.training.loop import Callback

# ------------------------------------------------------------------ running


def monitor_of(sweep: Sweep) -> str:
    """The validation figure a sweep compares its points by (early stopping's, pruning's, TPE's)."""
    return protocol(sweep.protocol).monitor


class MedianPruner(Callback):
    """Stops a sweep point whose validation metric at an epoch is worse than the median of
    the sweep's other points at the same epoch (after `warmup` epochs, with at least two to
    compare), as Optuna's median pruner does. Its run then ends `pruned`, with the reason.
    `verdict(row)` is the rule alone, for executors that see the epochs from afar (Ray)."""

    def __init__(self, store: Store, sweep: Sweep, fingerprint: str, warmup: int = 1):
        self.store, self.sweep, self.fingerprint, self.warmup = store, sweep, fingerprint, warmup
        self.metric = monitor_of(sweep)
        self.stop, self.reason = threading.Event(), ""

    def verdict(self, row: dict) -> str:
        """Why the point that produced this epoch row should stop now, '' to go on."""
        value, epoch = row.get(self.metric), row["epoch"]
        if value is None or epoch <= self.warmup:
            return ""
        others = []
        for r in self.store.runs(sweep=self.sweep.name, fingerprint=self.fingerprint):
            if r.status in ("done", "pruned"):
                others += [e[self.metric] for e in self.store.epochs(r.id) if e["epoch"] == epoch and self.metric in e]
        if len(others) < 2:
            return ""
        median = float(np.median(others))
        if (value > median) if self.metric == "RMSE" else (value < median):
            return (
                f"pruned at epoch {epoch}: validation {self.metric} {value:.4f} against the other points' median"
                f" {median:.4f}"
            )
        return ""

    def on_epoch_end(self, row: dict) -> None:
        reason = self.verdict(row)
        if reason:
            self.reason = reason
            self.stop.set()


def validation_value(store: Store, run: Run, metric: str) -> float | None:
    """A run's validation `metric` at its best epoch (the weights it kept), else its last."""
    row = best_row(store.epochs(run.id), run.best_epoch)
    return None if row is None else row.get(metric)


class TpeSearch:
    """Optuna's TPE over a sweep's search space, asked for points in batches (one per free
    worker) and told each point's validation figure as it lands; a pruned point is told as
    pruned, a failed one as failed. Built over the store: the points a sweep finished before
    are replayed into the study first, so a rerun goes on where it stopped and never repeats."""

    def __init__(self, store: Store, ds: Dataset, sweep: Sweep):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.store, self.sweep = optuna, store, sweep
        self.metric = monitor_of(sweep)
        self.dists = tpe_distributions(sweep.search, sweep.source)
        budget = sweep.size
        startup = int(sweep.search.get("startup", max(2, budget // 3)))
        sampler = optuna.samplers.TPESampler(seed=int(sweep.search.get("seed", 0)), n_startup_trials=startup)
        direction = "minimize" if self.metric == "RMSE" else "maximize"
        self.study = optuna.create_study(direction=direction, sampler=sampler)
        self.asked: dict[str, object] = {}
        self.told = 0
        for r in store.runs(sweep=sweep.name, fingerprint=ds.fingerprint):
            point = r.meta.get("point")
            if r.status not in ("done", "diverged", "pruned", "failed") or not isinstance(point, dict):
                continue
            try:
                self.study.add_trial(self._frozen(r, point))
                self.told += 1
            except ValueError:
                continue  # a point outside today's space (the file changed): not replayed

    def _frozen(self, run: Run, point: dict):
        T = self.optuna.trial.TrialState
        curve = {e["epoch"]: e[self.metric] for e in self.store.epochs(run.id) if e.get(self.metric) is not None}
        value = validation_value(self.store, run, self.metric)
        if run.status in ("done", "diverged") and value is not None:
            state, kw = T.COMPLETE, {"value": value}
        else:
            state, kw = (T.PRUNED if run.status == "pruned" else T.FAIL), {}
        return self.optuna.trial.create_trial(
            params=point, distributions=self.dists, state=state, intermediate_values=curve, **kw
        )

    def remaining(self) -> int:
        return max(0, self.sweep.size - self.told - len(self.asked))

    def ask(self, n: int) -> list[tuple[str, dict]]:
        out = []
        for _ in range(min(n, self.remaining())):
            trial = self.study.ask(self.dists)
            label = point_label(trial.params, 4)  # TPE's points lie close: one more digit
            while label in self.asked:  # the same point twice in one batch: count it once
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                self.told += 1
                if not self.remaining():
                    return out
                trial = self.study.ask(self.dists)
                label = point_label(trial.params, 4)  # TPE's points lie close: one more digit
            self.asked[label] = trial
            out.append((label, dict(trial.params)))
        return out

    def tell(self, label: str, outcome) -> None:
        trial = self.asked.pop(label, None)
        if trial is None:
            return
        T = self.optuna.trial.TrialState
        run = outcome.run if isinstance(outcome, Outcome) else None
        if run is None or run.status in ("cancelled", "interrupted"):
            if run is None:  # it could not start: a failed trial, counted against the budget
                self.study.tell(trial, state=T.FAIL)
                self.told += 1
            return  # a stopped point is not a result: a rerun proposes again
        frozen = self._frozen(run, trial.params)
        for step, v in frozen.intermediate_values.items():
            trial.report(v, step)
        if frozen.state == T.COMPLETE:
            self.study.tell(trial, frozen.value)
        else:
            self.study.tell(trial, state=frozen.state)
        self.told += 1

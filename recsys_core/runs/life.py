"""Config to stored run: a run's one life, and the one place a training becomes a row.

`RunLife` is the only writer of a run's row (created queued, started, each epoch as it
lands, ended with its figures or a reason). A run is keyed by dataset fingerprint + model +
config hash (+ protocols) + artifact version. `ensure_run` returns the finished run for a
key from the store when it is cached and its artifacts pass their checksum, else trains it
now through its `RunLife`, under a lock so that two processes never train the same key
twice. What a run keeps beside its row, and `load_model`, are in `artifacts`; `ranks_of`
finds a model's or a run's per-user ranks, training a shipped model that is not stored yet.

Run keys, and which runs are the shipped models', are in the torch-free `catalog`.
`build`, `sweeps` and `jobs` call this module; it calls none of them.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from recsys_core.config import config_hash, to_dict
from recsys_core.data import Dataset
from recsys_core.errors import RecsysError
from recsys_core.evaluation.metrics import Ranks
from recsys_core.evaluation.protocols import TEMPORAL
from recsys_core.evaluation.protocols import protocol as protocol_record
from recsys_core.runs import zoo
from recsys_core.runs.artifacts import load_ranks, save_artifacts, save_ranks, save_weights
from recsys_core.runs.catalog import build_protocols, required_files, run_key, shipped_config
from recsys_core.runs.experiment import Result, fit_and_evaluate
from recsys_core.runs.record import Run
from recsys_core.runs.store import Store
from recsys_core.training.devices import describe_device, useful_threads
from recsys_core.training.loop import Callback


class RunLife:
    """One run's life in the store, and the only writer of a run's row: created `queued`,
    started on a device (and where, for a remote executor), each epoch recorded as it lands,
    ended with its figures (done, diverged) or a reason (failed, cancelled, pruned). What a
    run keeps beside its row (weights in `artifacts.checkpoint`'s form, lists) is written by
    `artifacts`. A single training (`ensure_run`), a sweep point on every executor (in this
    process, in a pool worker, or from what a Ray task streams to the driver) and the app's
    jobs all live through it. (A dead owner's runs become `interrupted` in the store itself,
    `Store.mark_interrupted`: that is recovery, no process's life.)"""

    def __init__(self, store: Store, run_id: int):
        self.store, self.id = store, run_id

    @classmethod
    def create(
        cls, store: Store, ds: Dataset, name: str, cfg, protocols, *, sweep=None, label=None, meta=None
    ) -> RunLife:
        """A `queued` run of `name` with `cfg` under `protocols` (its key, config and hash);
        `meta` is kept with it, with the protocols."""
        run_id = store.create_run(
            key=run_key(ds, name, cfg, protocols),
            dataset=ds.name,
            fingerprint=ds.fingerprint,
            model=name,
            config=to_dict(cfg),
            config_hash=config_hash(cfg),
            sweep=sweep,
            label=label,
            meta={**(meta or {}), "protocols": list(protocols)},
        )
        return cls(store, run_id)

    @property
    def run(self) -> Run:
        return self.store.run(self.id)

    def start(self, device: str, **where) -> None:
        """Running on `device` (its description); `where` (a node, a host) joins its meta."""
        self.store.start_run(self.id, device)
        if where:
            self.store.update_meta(self.id, **where)

    def epoch(self, row: dict) -> None:
        self.store.add_epoch(self.id, row)

    def record_weights(self, key: str) -> None:
        """Keep in the run's meta the SHA-256 of the weights it stored under `key`, so that a
        later run of the same settings, which replaces them, is told apart (`artifacts.check_own`)."""
        digest = self.store.digest(key, "weights.pt")
        if digest is not None:
            self.store.update_meta(self.id, weights=digest)

    def finish(self, status: str, metrics: dict | None, message: str, best_epoch: int | None, device=None) -> Run:
        """Ended by its fit: done or diverged (with its message), cancelled, with its figures."""
        self.store.finish_run(self.id, status, metrics, message if status != "done" else "", best_epoch, device)
        return self.run

    def fail(self, reason: str) -> Run:
        self.store.finish_run(self.id, "failed", error=reason)
        return self.run

    def stop(self, status: str, reason: str) -> Run:
        """Stopped from outside (cancelled, pruned): a run already ended keeps what it
        recorded and takes the new status and reason; one still going ends here."""
        if self.run.final:
            self.store.set_status(self.id, status, reason)
        else:
            self.store.finish_run(self.id, status, error=reason)
        return self.run

    def copy_end(self, other: Run) -> Run:
        """A queued run whose result another run already has (the same key): it ends as that one
        did, its weights that run's (so a later run that replaces them is told apart here too)."""
        if other.meta.get("weights"):
            self.store.update_meta(self.id, weights=other.meta["weights"])
        return self.finish(other.status, other.metrics, other.error or "", other.best_epoch)


class StoreEpochs(Callback):
    """Writes each epoch's row to the store as it lands (live curves, resumable history)."""

    def __init__(self, life: RunLife):
        self.life = life

    def on_epoch_end(self, row):
        self.life.epoch(row)


@dataclass
class Outcome:
    run: Run
    cached: bool
    result: Result | None = None  # the fit and its figures, when it was trained now


def ensure_run(
    store: Store,
    ds: Dataset,
    name: str,
    cfg=None,
    protocols=None,
    *,
    sweep=None,
    label=None,
    artifacts=True,
    callbacks=(),
    cancel=None,
    run_id: int | None = None,
    reuse=True,
    meta: dict | None = None,
) -> Outcome:
    """The finished run for (dataset, model, config, protocols): from the store when cached
    and intact, else trained now (under a lock, so two processes never train it twice).
    `reuse=False` always trains (a run asked for from the Train page); `meta` is stored
    with a new run (its dataset source, for a resubmit)."""
    protocols = list(protocols or build_protocols(name))
    cfg = cfg if cfg is not None else shipped_config(name, ds.name, protocols)
    key = run_key(ds, name, cfg, protocols)
    with store.lock(key):
        done = store.latest_done(key) if reuse else None
        if done and (done.status == "diverged" or not artifacts or store.has_artifacts(key, required_files(name))):
            if run_id is not None:  # a queued job found its result already there
                RunLife(store, run_id).copy_end(done)
            return Outcome(done, True)
        # an absent device: ConfigError, no row written; the threads the fit will take (small steps: one)
        device = describe_device(getattr(cfg, "device", "auto"), cap=useful_threads(name, cfg))
        if run_id is None:
            life = RunLife.create(store, ds, name, cfg, protocols, sweep=sweep, label=label, meta=meta)
        else:
            life = RunLife(store, run_id)
        life.start(device)
        try:
            res = fit_and_evaluate(
                name, ds, protocols, cfg=cfg, callbacks=[StoreEpochs(life), *callbacks], cancel=cancel, store=store
            )
        except RecsysError as e:
            return Outcome(life.fail(str(e)), False)
        except Exception as e:  # noqa: BLE001 - recorded with its traceback, never lost
            return Outcome(life.fail(f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}"), False)
        h = res.history
        if h.status == "done" and res.recommender is not None:
            if artifacts:
                save_artifacts(store, key, res.recommender, ds, res.lists)
            else:
                save_weights(store, key, res.recommender)  # any finished run can be reloaded
            if res.ranks:
                save_ranks(store, key, res.ranks)
            life.record_weights(key)
        run = life.finish(h.status, dict(res.metrics, seconds=res.seconds), h.message, h.best_epoch, h.device)
        return Outcome(run, False, res)


# ------------------------------------------------------------------ reloading a stored run


def ranks_of(store: Store, ds: Dataset, choice: str, protocol: str, progress=None) -> tuple[dict, Ranks]:
    """(run, per-user ranks under `protocol`) of a model name (its shipped run, trained now
    when not stored yet) or "run:ID" (a stored run evaluated under `protocol`). RecsysError,
    one line, for an unknown model or run, another dataset's run, or a protocol the run was
    not evaluated under. `progress(message)` is told before a training."""
    record = protocol_record(protocol)
    if not record.ranking:
        raise RecsysError(f"protocol {protocol!r} has no per-user ranks: pick a ranking protocol")
    if choice.startswith("run:"):
        try:
            run = store.run(int(choice[4:]))
        except ValueError:
            run = None
        if run is None:
            raise RecsysError(f"no stored run {choice[4:]!r} in {store.path}")
        if run.fingerprint != ds.fingerprint:
            raise RecsysError(f"run {run.id} was trained on {run.dataset}, not on {ds.name}")
        protocols = run.meta.get("protocols") or build_protocols(run.model)
        if protocol not in protocols:
            raise RecsysError(f"run {run.id} was evaluated under {', '.join(protocols)}, not {protocol}")
    else:
        zoo.entry(choice)  # ConfigError naming the models
        protocols = [TEMPORAL] if protocol == TEMPORAL else build_protocols(choice)
        cfg = shipped_config(choice, ds.name, protocols)
        run = store.latest_done(run_key(ds, choice, cfg, protocols))
        if run is None or run.status != "done":
            if progress:
                progress(f"training {choice} under {', '.join(protocols)} (stored for next time)")
            run = ensure_run(store, ds, choice, cfg, protocols).run
        if run.status != "done":
            raise RecsysError(f"{choice} ended {run.status}: {run.error or 'no figures'}")
    found = load_ranks(store, run, ds)
    if protocol not in found:
        raise RecsysError(f"run {run.id} has no per-user ranks under {protocol}")
    return run, found[protocol]

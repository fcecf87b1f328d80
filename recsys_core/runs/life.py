"""Config to stored run: the one place a training becomes a row in the run store.

A run is keyed by dataset fingerprint + model + config hash (+ protocols) + artifact
version. `ensure_run` returns the finished run for a key from the store when it is cached
and its artifacts pass their checksum, else trains it now, under a lock so that two
processes never train the same key twice, recording each epoch as it lands. Artifacts per
run: full-ranking top-50 lists for every user, item/user embeddings with their PCA
coordinates, the weights of neural models and NCF's cold-start list. `load_model` rebuilds
any stored run from its config and weights in a fresh process.

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
from recsys_core.runs.catalog import REQUIRED, build_protocols, run_key
from recsys_core.runs.experiment import Result, fit_and_evaluate
from recsys_core.runs.store import Store
from recsys_core.training.devices import describe_device
from recsys_core.training.loop import Callback


class StoreEpochs(Callback):
    """Writes each epoch's row to the store as it lands (live curves, resumable history)."""

    def __init__(self, store: Store, run_id: int):
        self.store, self.run_id = store, run_id

    def on_epoch_end(self, row):
        self.store.add_epoch(self.run_id, row)


@dataclass
class Outcome:
    run: dict
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
    cfg = cfg if cfg is not None else zoo.config_for(name)
    protocols = list(protocols or build_protocols(name))
    key = run_key(ds, name, cfg, protocols)
    with store.lock(key):
        done = store.latest_done(key) if reuse else None
        needed = REQUIRED + (["weights.pt"] if zoo.is_neural(name) else [])
        if done and (done["status"] == "diverged" or not artifacts or store.has_artifacts(key, needed)):
            if run_id is not None:  # a queued job found its result already there
                store.finish_run(run_id, done["status"], done["metrics"], done["error"] or "", done["best_epoch"])
            return Outcome(done, True)
        device = describe_device(getattr(cfg, "device", "auto"))  # an absent device: ConfigError, no row written
        if run_id is None:
            run_id = new_run(store, ds, name, cfg, protocols, sweep=sweep, label=label, meta=meta)
        store.start_run(run_id, device)
        try:
            res = fit_and_evaluate(
                name, ds, protocols, cfg=cfg, callbacks=[StoreEpochs(store, run_id), *callbacks], cancel=cancel
            )
        except RecsysError as e:
            store.finish_run(run_id, "failed", error=str(e))
            return Outcome(store.run(run_id), False)
        except Exception as e:  # noqa: BLE001 - recorded with its traceback, never lost
            store.finish_run(run_id, "failed", error=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}")
            return Outcome(store.run(run_id), False)
        h = res.history
        metrics = dict(res.metrics, seconds=res.seconds)
        if h.status == "done" and res.recommender is not None:
            if artifacts:
                save_artifacts(store, key, res.recommender, ds, res.lists)
            else:
                save_weights(store, key, res.recommender)  # any finished run can be reloaded
            if res.ranks:
                save_ranks(store, key, res.ranks)
        store.finish_run(run_id, h.status, metrics, h.message if h.status != "done" else "", h.best_epoch, h.device)
        return Outcome(store.run(run_id), False, res)


def new_run(store: Store, ds: Dataset, name: str, cfg, protocols, *, sweep=None, label=None, meta=None) -> int:
    """A 'queued' row for a run of `name` with `cfg` under `protocols` (its key, config and
    hash); `meta` is kept with it, with the protocols."""
    return store.create_run(
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
        if run["fingerprint"] != ds.fingerprint:
            raise RecsysError(f"run {run['id']} was trained on {run['dataset']}, not on {ds.name}")
        protocols = run["meta"].get("protocols") or build_protocols(run["model"])
        if protocol not in protocols:
            raise RecsysError(f"run {run['id']} was evaluated under {', '.join(protocols)}, not {protocol}")
    else:
        zoo.entry(choice)  # ConfigError naming the models
        protocols = [TEMPORAL] if protocol == TEMPORAL else build_protocols(choice)
        cfg = zoo.config_for(choice)
        run = store.latest_done(run_key(ds, choice, cfg, protocols))
        if run is None or run["status"] != "done":
            if progress:
                progress(f"training {choice} under {', '.join(protocols)} (stored for next time)")
            run = ensure_run(store, ds, choice, cfg, protocols).run
        if run["status"] != "done":
            raise RecsysError(f"{choice} ended {run['status']}: {run['error'] or 'no figures'}")
    found = load_ranks(store, run, ds)
    if protocol not in found:
        raise RecsysError(f"run {run['id']} has no per-user ranks under {protocol}")
    return run, found[protocol]

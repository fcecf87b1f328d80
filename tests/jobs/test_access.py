"""A server a team can share: viewers are refused by the job layer (nothing created, the
store unchanged), editors are not, caps are named when they refuse, deletes take the
artifacts with them and never leave the store's folders."""

from __future__ import annotations

import threading

import pytest

from recsys_core import jobs
from recsys_core.errors import ConfigError, RecsysError
from recsys_core.jobs.access import AccessDenied, Caller, Limits, Settings, loopback
from recsys_core.jobs.manager import JobManager
from recsys_core.runs.store import Store
from recsys_core.sweeps.spec import Sweep

SRC = "synthetic:users=60,items=40,seed=3"
VIEWER = Caller("viewer", "s1")
EDITOR = Caller("editor", "s1")
SWEEP = Sweep("t-access", "mf", "dim", (("4", {"dim": 4}), ("8", {"dim": 8})), {"epochs": 1, "batch_size": 256})


def test_roles_from_the_settings():
    assert Settings().role() == "editor"  # no settings: everyone, as before
    s = Settings(token="s3cret", editors=("ann@example.org",))
    assert s.configured and s.role() == "viewer" and s.role(token="wrong") == "viewer"
    assert s.role(token="s3cret") == "editor" and s.role(account="Ann@Example.org") == "editor"
    assert loopback("127.0.0.1") and loopback("localhost") and not loopback(None) and not loopback("0.0.0.0")


@pytest.mark.slow
def test_a_viewer_is_refused_by_the_job_layer_and_nothing_is_created(tmp_path):
    store = Store(tmp_path / "store")
    manager = JobManager(store)
    before = store.version()
    attempts = [
        lambda: jobs.submit_training(manager, store, SRC, "mf", {"epochs": 1}, caller=VIEWER),
        lambda: jobs.submit_sweep(manager, store, SRC, SWEEP, caller=VIEWER),
        lambda: jobs.submit_fetch(manager, "ml-1m", caller=VIEWER),
        lambda: jobs.submit_build(manager, store, SRC, ["popularity"], caller=VIEWER),
    ]
    for attempt in attempts:
        with pytest.raises(AccessDenied, match="needs editor access"):
            attempt()
    assert store.version() == before and not manager.jobs()  # no run, no job
    job = jobs.submit_training(manager, store, SRC, "mf", {"epochs": 1, "dim": 4}, caller=EDITOR)
    manager.wait(job, 60)
    assert job.status == "done", job.error
    run_id = job.run_id
    with pytest.raises(AccessDenied, match="needs editor access"):
        jobs.delete_run(manager, store, run_id, VIEWER)
    assert store.run(run_id) is not None
    key = store.run(run_id).key
    assert store.artifact_dir(key).exists()
    jobs.delete_run(manager, store, run_id, EDITOR)
    assert store.run(run_id) is None and not store.artifact_dir(key).exists()  # with its artifacts


def test_caps_refuse_with_the_cap_named_and_queue_nothing(tmp_path):
    store = Store(tmp_path / "store")
    manager = JobManager(store, Limits(queued_per_session=1, queued_total=2, sweep_points=1, epochs=5))
    with pytest.raises(AccessDenied, match="RECSYS_MAX_EPOCHS"):
        jobs.submit_training(manager, store, SRC, "mf", {"epochs": 6}, caller=EDITOR)
    with pytest.raises(AccessDenied, match="RECSYS_MAX_SWEEP_POINTS"):
        jobs.submit_sweep(manager, store, SRC, SWEEP, caller=EDITOR)
    assert not store.runs() and not manager.jobs()
    gate = threading.Event()
    blocker = manager.submit("block", lambda job: gate.wait(10), device="cpu", kind="train", meta={"session": "s1"})
    with pytest.raises(AccessDenied, match="RECSYS_MAX_QUEUED_PER_SESSION"):
        jobs.submit_training(manager, store, SRC, "mf", {"epochs": 1}, caller=EDITOR)
    other = manager.submit("other", lambda job: gate.wait(10), device="cpu", kind="train", meta={"session": "s2"})
    with pytest.raises(AccessDenied, match="RECSYS_MAX_QUEUED ="):
        jobs.submit_training(manager, store, SRC, "mf", {"epochs": 1}, caller=Caller("editor", "s3"))
    assert not store.runs()  # a refused training leaves no queued run behind
    gate.set()
    manager.wait(blocker, 10)
    manager.wait(other, 10)


def test_caps_from_the_environment(monkeypatch):
    monkeypatch.setenv("RECSYS_MAX_EPOCHS", "7")
    assert Limits.from_env().epochs == 7 and Limits.from_env().queued_total == 20
    monkeypatch.setenv("RECSYS_MAX_EPOCHS", "none")
    with pytest.raises(RecsysError, match="RECSYS_MAX_EPOCHS"):
        Limits.from_env()


@pytest.mark.slow
def test_a_user_sweep_is_deleted_with_its_runs_and_names_cannot_escape(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_SWEEPS", str(tmp_path / "sweeps"))
    from recsys_core.sweeps.registry import save_user_sweep

    store = Store(tmp_path / "store")
    manager = JobManager(store)
    spec = {"name": "mine", "model": "mf", "param": "dim", "values": [4], "base": {"epochs": 1, "batch_size": 256}}
    sweep = save_user_sweep(spec)
    job = jobs.submit_sweep(manager, store, SRC, sweep, caller=EDITOR)
    manager.wait(job, 60)
    assert job.status == "done" and len(store.runs(sweep="mine")) == 1
    for bad in ("../mine", "ncf-lr", "..", "a/b"):
        with pytest.raises(ConfigError):
            jobs.delete_user_sweep(manager, store, bad, EDITOR)
    with pytest.raises(AccessDenied):
        jobs.delete_user_sweep(manager, store, "mine", VIEWER)
    assert jobs.delete_user_sweep(manager, store, "mine", EDITOR) == 1
    assert not store.runs(sweep="mine") and not (tmp_path / "sweeps" / "mine.json").exists()
    with pytest.raises(ConfigError, match="letters, digits"):
        save_user_sweep({**spec, "name": "../../escape"})
    assert spec["name"] == "mine"  # the caller's spec is never rewritten

"""The job manager without Streamlit: queue order, progress, cancel, failure, divergence,
training jobs recorded in the store, and recovery of runs a dead server left behind."""

from __future__ import annotations

import socket
import sqlite3
import threading

import pytest

from recsys_core.errors import ConfigError
from recsys_core.jobs.manager import JobManager
from recsys_core.jobs.work import resubmit, submit_training
from recsys_core.runs.catalog import MY_RUNS
from recsys_core.runs.store import Store

SRC = "synthetic:users=80,items=60,seed=2"
TINY = {"epochs": 2, "batch_size": 256, "mf_dim": 4, "layers": (8, 4)}


def test_jobs_run_in_order_one_at_a_time_per_device():
    jobs = JobManager()
    gate, started, seen = threading.Event(), threading.Event(), []

    def work(tag):
        def fn(job):
            seen.append((tag, "start"))
            if tag == "a":
                started.set()
                gate.wait(5)
            job.report(tag=tag)
            seen.append((tag, "end"))
            return tag

        return fn

    a, b, c = (jobs.submit(t, work(t), device="cpu") for t in "abc")
    other = jobs.submit("gpu", work("g"), device="fake-gpu")  # another device is not behind them
    jobs.wait(other, 5)
    assert other.status == "done"
    assert started.wait(5)  # the first job runs (wait on state, not a sleep)
    assert a.status == "running" and [jobs.position(j) for j in (a, b, c)] == [0, 1, 2]
    gate.set()
    for j in (a, b, c):
        jobs.wait(j, 5)
    assert [j.status for j in (a, b, c)] == ["done"] * 3 and c.progress == {"tag": "c"} and c.result == "c"
    assert [s for s in seen if s[0] != "g"] == [(t, e) for t in "abc" for e in ("start", "end")]


def test_failure_and_cancel_of_a_queued_job():
    jobs = JobManager()
    gate = threading.Event()
    blocker = jobs.submit("block", lambda job: gate.wait(5), device="cpu")
    boom = jobs.submit("boom", lambda job: 1 / 0, device="cpu")
    never = jobs.submit("never", lambda job: pytest.fail("a cancelled job ran"), device="cpu")
    jobs.cancel(never.id)
    assert never.status == "cancelled" and not never.active
    gate.set()
    jobs.wait(boom, 5)
    assert boom.status == "failed" and "ZeroDivisionError" in boom.error
    assert jobs.wait(blocker).status == "done" and jobs.find("boom") is boom


@pytest.mark.slow
def test_training_job_records_its_run_and_live_progress(tmp_path):
    store = Store(tmp_path)
    jobs = JobManager(store)
    job = submit_training(jobs, store, SRC, "ncf", TINY)
    run = store.run(job.run_id)
    assert run.status in ("queued", "running") and run.sweep == MY_RUNS
    assert run.meta["src"] == SRC and run.meta["protocols"] == ["loo-uniform"]
    jobs.wait(job, 60)
    assert job.status == "done", job.error
    run = store.run(job.run_id)
    assert run.status == "done" and 0 <= run.metrics["loo-uniform"]["HR@10"] <= 1
    p = job.progress
    assert [r["epoch"] for r in p["history"]] == [1, 2] and p["epoch"] == 2 and p["batch"] == p["n_batches"]
    assert [e["epoch"] for e in store.epochs(job.run_id)] == [1, 2]  # NeuMF's own, not its pre-training
    assert [(r["phase"], r["epoch"]) for r in p["pretrain"]] == [("GMF", 1), ("GMF", 2), ("MLP", 1), ("MLP", 2)]
    assert "mf_dim=4" in run.label and "epochs=2" in run.label


@pytest.mark.slow
def test_two_sessions_submitting_at_once_both_complete_in_order(tmp_path):
    store = Store(tmp_path)
    jobs = JobManager(store)
    out, barrier = {}, threading.Barrier(2)

    def session(name, dim):
        barrier.wait()
        out[name] = submit_training(jobs, store, SRC, "mf", {"epochs": 1, "dim": dim, "batch_size": 512})

    threads = [threading.Thread(target=session, args=(n, d)) for n, d in (("s1", 4), ("s2", 8))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second = sorted(out.values(), key=lambda j: j.id)
    jobs.wait(first, 60), jobs.wait(second, 60)
    assert first.status == second.status == "done"
    assert first.finished <= second.started  # one at a time, in submission order
    assert len([r for r in store.runs(sweep=MY_RUNS) if r.status == "done"]) == 2


@pytest.mark.slow
def test_cancel_a_running_training_in_its_process(tmp_path):
    store = Store(tmp_path)
    jobs = JobManager(store)
    job = submit_training(jobs, store, SRC, "ncf", {**TINY, "epochs": 500, "patience": 100, "batch_size": 16})
    assert job.wait_for(lambda p: p.get("batch"), 60)  # the child reports its batches
    assert job.progress.get("pid")
    jobs.cancel(job.id)
    jobs.wait(job, 30)
    assert job.status == "cancelled"
    run = store.run(job.run_id)
    assert run.status == "cancelled" and len(store.epochs(run.id)) < 500  # stopped, not finished


@pytest.mark.slow
def test_divergence_and_bad_config(tmp_path):
    store = Store(tmp_path)
    jobs = JobManager(store)
    job = submit_training(
        jobs,
        store,
        SRC,
        "autorec",
        {"epochs": 2, "lr": 10, "optimizer": "sgd", "momentum": 0.99, "layers": (16,)},
        "ratings",
    )
    jobs.wait(job, 60)
    assert job.status == "diverged" and "learning rate" in job.error
    assert store.run(job.run_id).status == "diverged"
    job = submit_training(jobs, store, SRC, "ncf", {"lr": 1, "epochs": 3})  # seed 000's lr 1 on NeuMF
    jobs.wait(job, 60)
    assert job.status == "diverged" and "untrained" in job.error and store.run(job.run_id).error == job.error
    n = len(store.runs())
    for bad in ({"lr": -1}, {"dropout": 1.0}, {"nope": 1}):
        with pytest.raises(ConfigError):
            submit_training(jobs, store, SRC, "ncf", bad)
    with pytest.raises(ConfigError, match="does not predict ratings"):
        submit_training(jobs, store, SRC, "ncf", {}, "ratings")
    assert len(store.runs()) == n  # nothing queued for a rejected config


@pytest.mark.slow
def test_runs_of_a_dead_server_become_interrupted_and_can_be_resubmitted(tmp_path):
    store = Store(tmp_path)
    first = JobManager(store)
    gate = threading.Event()
    first.submit("block", lambda job: gate.wait(10), device="cpu")
    job = submit_training(first, store, SRC, "ncf", TINY)  # queued behind the blocker
    with sqlite3.connect(store.path) as con:  # ... when the server dies
        con.execute("UPDATE runs SET owner=? WHERE id=?", (f"{socket.gethostname()}:999999:1", job.run_id))
    restarted = JobManager(store)
    assert restarted.recovered == 1 and store.run(job.run_id).status == "interrupted"
    again = resubmit(restarted, store, job.run_id)
    restarted.wait(again, 60)
    assert again.status == "done" and store.run(again.run_id).config == store.run(job.run_id).config
    first.cancel(job.id)  # (the "dead" manager is still alive in this test: stop it cleanly)
    gate.set()


def test_shutdown_cancels_what_runs_and_waits_for_it():
    jobs = JobManager()
    started = threading.Event()

    def long(job):
        started.set()
        while not job.cancel.is_set():
            job.cancel.wait(0.01)

    running, queued = jobs.submit("a", long, device="t"), jobs.submit("b", long, device="t")
    assert started.wait(10)
    jobs.shutdown(timeout=10)
    assert (running.status, queued.status) == ("cancelled", "cancelled")


def test_a_persons_job_goes_before_the_background_build_and_the_build_gives_way_between_models():
    jobs = JobManager()
    gate, order = threading.Event(), []

    def build(job):  # three "models"; between them the build gives way, as submit_build's does
        job.report(started=True)
        for model in ("m1", "m2", "m3"):
            if model == "m1":
                gate.wait(5)
            order.append(model)
            jobs.run_waiting(job)

    b = jobs.submit("build data", build, device="cpu", kind="build")
    assert b.wait_for(lambda p: p.get("started"), 5)  # the build runs (on its first model)
    t1 = jobs.submit("train mine", lambda job: order.append("t1"), device="cpu", kind="train")
    t2 = jobs.submit("sweep mine", lambda job: order.append("t2"), device="cpu", kind="sweep")
    assert jobs.position(t1) == 1 and jobs.position(t2) == 2
    text = jobs.queue_text(t1)
    assert "starts next" in text and "build data gives way after its current model" in text
    assert "1 queued job ahead" in jobs.queue_text(t2)
    gate.set()
    jobs.wait(b, 5)
    assert order == ["m1", "t1", "t2", "m2", "m3"]  # waited only for the model being trained
    assert [j.status for j in (b, t1, t2)] == ["done"] * 3


def test_a_queued_person_job_starts_before_a_queued_build():
    jobs = JobManager()
    gate, order = threading.Event(), []
    blocker = jobs.submit("block", lambda job: job.report(started=True) or gate.wait(5), device="cpu")
    assert blocker.wait_for(lambda p: p.get("started"), 5)
    b = jobs.submit("build data", lambda job: order.append("build"), device="cpu", kind="build")
    t = jobs.submit("train mine", lambda job: order.append("train"), device="cpu", kind="train")
    assert jobs.position(t) == 1 and jobs.position(b) == 2  # submitted later, runs first
    gate.set()
    for j in (blocker, b, t):
        jobs.wait(j, 5)
    assert order == ["train", "build"]

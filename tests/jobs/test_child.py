"""Trainings that cannot take the server down: a training child that raises, is killed,
goes over its memory cap or its time cap ends its run `failed` with the reason, and the job
manager (the server) goes on to the next job."""

from __future__ import annotations

import os
import signal

import pytest

from recsys_core.jobs.access import Limits
from recsys_core.jobs.manager import JobManager
from recsys_core.jobs.work import submit_build, submit_training
from recsys_core.runs.store import Store

pytestmark = pytest.mark.slow  # each training is a fresh process (torch imported anew)

SRC = "synthetic:users=80,items=60,seed=2"
LONG = {"epochs": 500, "patience": 100, "batch_size": 16, "mf_dim": 4, "layers": (8, 4)}


def _next_job_still_runs(jobs, store):
    ok = submit_training(jobs, store, SRC, "mf", {"epochs": 1, "dim": 4, "batch_size": 512})
    jobs.wait(ok, 120)
    assert ok.status == "done", ok.error
    assert store.run(ok.run_id).status == "done"


def test_a_killed_training_process_ends_its_run_failed_and_the_server_goes_on(tmp_path):
    store = Store(tmp_path)
    jobs = JobManager(store)
    job = submit_training(jobs, store, SRC, "ncf", LONG)
    assert job.wait_for(lambda p: p.get("batch"), 90)  # training in its own process
    pid = job.progress["pid"]
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    jobs.wait(job, 60)
    assert job.status == "failed" and "killed by SIGKILL" in job.error
    run = store.run(job.run_id)
    assert run.status == "failed" and "killed by SIGKILL" in run.error
    _next_job_still_runs(jobs, store)


def test_memory_and_time_caps_end_the_run_with_the_cap_named(tmp_path):
    store = Store(tmp_path)
    jobs = JobManager(store, Limits(job_memory_mb=60))  # less than torch itself takes
    job = submit_training(jobs, store, SRC, "ncf", LONG)
    jobs.wait(job, 120)
    assert job.status == "failed" and "RECSYS_JOB_MEMORY_MB" in job.error
    assert "RECSYS_JOB_MEMORY_MB" in store.run(job.run_id).error
    jobs = JobManager(store, Limits(job_seconds=1))
    job = submit_training(jobs, store, SRC, "ncf", LONG)
    jobs.wait(job, 120)
    assert job.status == "failed" and "RECSYS_JOB_SECONDS" in job.error
    assert store.run(job.run_id).status == "failed"


def boom(job, message: str) -> None:
    """A work function that fails in its child process, after reporting once."""
    job.report(phase="about to fail")
    raise ValueError(message)


def test_work_that_raises_in_its_process_says_why(tmp_path):
    store = Store(tmp_path)
    jobs = JobManager(store)
    job = jobs.submit("boom", None, kind="train", child=("tests.jobs.test_child:boom", {"message": "no such file"}))
    jobs.wait(job, 120)
    assert job.status == "failed" and "ValueError: no such file" in job.error and "Traceback" in job.error
    assert job.progress["phase"] == "about to fail"  # its reports came back before the end
    _next_job_still_runs(jobs, store)


def test_a_build_runs_in_its_own_process_and_gives_way_to_a_persons_job_between_models(tmp_path):
    store = Store(tmp_path)
    jobs = JobManager(store)
    models = ["popularity", "genre", "ease"]
    build = submit_build(jobs, store, SRC, models)
    assert build.wait_for(lambda p: p.get("pid"), 60)  # its child started (importing torch)
    assert build.progress["pid"] != os.getpid()
    seen = []
    mine = jobs.submit("train mine", lambda job: seen.append(build.progress["done"]), device="cpu", kind="train")
    jobs.wait(build, 180)
    assert build.status == "done", build.error
    assert mine.status == "done" and len(seen) == 1 and 1 <= seen[0] < len(models)  # ran between two models
    runs = store.runs()
    assert sorted(r.model for r in runs) == sorted(models) and {r.status for r in runs} == {"done"}
    assert os.getpid() not in {r.pid for r in runs}  # no model trained in the server
    assert len({r.pid for r in runs}) == 2  # a new process went on after the person's job


def test_a_build_over_its_memory_cap_fails_with_the_cap_named_and_the_server_goes_on(tmp_path):
    store = Store(tmp_path)
    jobs = JobManager(store, Limits(job_memory_mb=60))
    build = submit_build(jobs, store, SRC, ["popularity"])
    jobs.wait(build, 120)
    assert build.status == "failed" and "build process" in build.error and "RECSYS_JOB_MEMORY_MB" in build.error
    assert not [r for r in store.runs() if r.status == "running"]
    jobs.limits = Limits()
    _next_job_still_runs(jobs, store)

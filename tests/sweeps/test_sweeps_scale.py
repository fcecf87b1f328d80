"""Sweeps beyond a grid on one machine: Optuna's TPE search, and the Ray executor on a
two-node cluster (`ray.cluster_utils`, both nodes on this machine)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from recsys_core.data.synthetic import synthetic
from recsys_core.errors import ConfigError
from recsys_core.runs.reports import report
from recsys_core.runs.store import Store, owner_token
from recsys_core.sweeps.executors import run_sweep
from recsys_core.sweeps.spec import Sweep, load_sweep_file
from tests.conftest import ROOT
from tests.helpers import failing_middle_sweep

SRC = "synthetic:users=120,items=100,seed=4"

NCF = {"epochs": 2, "batch_size": 512, "layers": (8, 4)}


@functools.cache
def syn():
    """Built at first use, once for this module (never at import)."""
    return synthetic(users=120, items=100, seed=4)


def _tpe_file(tmp_path, budget: int) -> Path:
    f = tmp_path / f"tpe{budget}.toml"
    f.write_text(
        'name = "t-tpe"\nmodel = "mf"\nprune = "median"\n[base]\nepochs = 3\npatience = 3\nbatch_size = 512\n'
        f'[search]\nmethod = "tpe"\nbudget = {budget}\nseed = 1\nstartup = 3\n[search.space]\n'
        "lr = {low = 0.00001, high = 0.05, log = true}\ndim = {choices = [4, 8, 16]}\n"
    )
    return f


def test_a_tpe_search_runs_its_budget_resumes_from_the_store_and_reports_its_points(tmp_path):
    s = Store(tmp_path)
    sweep = load_sweep_file(_tpe_file(tmp_path, 5))
    assert sweep.adaptive and sweep.size == 5 and sweep.points == () and sweep.varied == {"lr", "dim"}
    runs = run_sweep(sweep, syn(), s)
    assert len(runs) == 5 and len({r.label for r in runs}) == 5
    assert {r.status for r in runs} <= {"done", "pruned"} and "done" in {r.status for r in runs}
    for r in runs:  # each point's settings are kept with its run, in the space asked for
        assert 1e-5 <= r.meta["point"]["lr"] <= 0.05 and r.meta["point"]["dim"] in (4, 8, 16)
        assert r.config["lr"] == pytest.approx(r.meta["point"]["lr"])
    rows = report(sweep, syn(), s)
    assert [row["value"] for row in rows] == [r.label for r in runs]
    assert sum(bool(row.get("best")) for row in rows) == 1
    n = len(s.runs())
    assert run_sweep(sweep, syn(), s) == [] and len(s.runs()) == n  # the budget is spent: nothing reruns
    # a bigger budget goes on from the five finished points (replayed into a new study)
    more = run_sweep(load_sweep_file(_tpe_file(tmp_path, 7)), syn(), s)
    assert len(more) == 2 and len(s.runs(sweep="t-tpe")) == 7


def test_tpe_search_files_are_checked_when_read(tmp_path):
    for space, msg in [
        ("lr = {low = 0.0, high = 0.1, log = true}", "log scale needs low > 0"),
        ("lr = {low = 0.1, high = 0.01}", "low <= high"),
        ("nope = {low = 1, high = 2}", "unknown key 'nope'"),
        ("lr = {low = 0.001, high = 20.0}", "lr"),  # the high end is not a valid learning rate (max 10)
    ]:
        f = tmp_path / "bad.toml"
        f.write_text(f'name = "b"\nmodel = "mf"\n[search]\nmethod = "tpe"\nbudget = 3\n[search.space]\n{space}\n')
        with pytest.raises(ConfigError, match=msg):
            load_sweep_file(f)


# ------------------------------------------------------------------ Ray

ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")


@pytest.fixture(scope="module")
def cluster():
    """A head and a second node on this machine, one CPU each (a two-machine cluster in small)."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    if ray.is_initialized():
        ray.shutdown()
    c.shutdown()


def _ray(cluster):
    from recsys_core.sweeps.ray_cluster import RayExecutor

    return RayExecutor(cluster.address)


def _grid(name: str, dims=(2, 4, 6, 8), **base) -> Sweep:
    return Sweep(name, "ncf", "mf_dim", tuple((str(d), {"mf_dim": d}) for d in dims), {**NCF, **base})


@pytest.mark.slow
def test_ray_points_run_on_both_nodes_match_the_sequential_executor_and_rerun_nothing(cluster, tmp_path):
    s = Store(tmp_path / "ray")
    with _ray(cluster) as ex:
        runs = run_sweep(_grid("t-ray"), syn(), s, ex, src=SRC)
        assert ex.workers == 2
        assert {r.status for r in runs} == {"done"} and len(runs) == 4
        assert len({r.meta["ray_node"] for r in runs}) == 2  # both nodes trained points
        # every row written by the driver: this process owns them, every epoch is there
        assert all(r.owner == owner_token() for r in runs)
        assert all(len(s.epochs(r.id)) == 2 for r in runs)
        assert all(s.load_weights(r.key) is not None for r in runs)  # a point can be reloaded
        assert not (Path(os.environ["RECSYS_ARTIFACTS"]) / "runs.sqlite").exists()  # no worker opened a store
        n = len(s.runs())
        again = run_sweep(_grid("t-ray"), syn(), s, ex, src=SRC)
        assert len(s.runs()) == n and all(r.status == "done" for r in again)  # a rerun trains nothing
    seq = {r.label: r for r in run_sweep(_grid("t-ray"), syn(), Store(tmp_path / "seq"), src=SRC)}
    for r in runs:
        want = seq[r.label].metrics["loo-uniform"]
        for m in ("HR@10", "NDCG@10"):
            assert r.metrics["loo-uniform"][m] == pytest.approx(want[m], abs=1e-9)


@pytest.mark.slow
def test_ray_a_failing_point_ends_failed_and_cancel_ends_cancelled(cluster, tmp_path):
    s = Store(tmp_path)
    mixed = failing_middle_sweep("t-ray-mixed", NCF)
    with _ray(cluster) as ex:
        status = {r.label: r for r in run_sweep(mixed, syn(), s, ex, src=SRC)}
        assert {k: r.status for k, r in status.items()} == {"a": "done", "bad": "failed", "c": "done"}
        assert "negatives_per_user" in status["bad"].error
        # Stop once the first epoch of any point has landed: what runs is ended, what waits never starts
        stop = threading.Event()
        long = _grid("t-ray-cancel", dims=(3, 5, 7, 9), epochs=200, patience=100, batch_size=256, pretrain=False)

        def watch():
            while not stop.is_set():
                if any(s.epochs(r.id) for r in s.runs(sweep="t-ray-cancel")):
                    stop.set()
                stop.wait(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            run_sweep(long, syn(), s, ex, src=SRC, cancel=stop)
        finally:
            stop.set()
            watcher.join()
    statuses = [r.status for r in s.runs(sweep="t-ray-cancel")]
    assert statuses and set(statuses) == {"cancelled"}  # none left running or queued


_DRIVER = """
import sys
from recsys_core.data import load_dataset
from recsys_core.sweeps.ray_cluster import RayExecutor
from recsys_core.runs.store import Store
from recsys_core.sweeps.executors import run_sweep
from recsys_core.sweeps.spec import Sweep


sweep = Sweep("t-ray-kill", "ncf", "mf_dim", tuple((str(d), {"mf_dim": d}) for d in (2, 4, 6)),
              {"epochs": 40, "patience": 40, "batch_size": 256, "layers": (8, 4), "pretrain": False})
run_sweep(sweep, load_dataset(sys.argv[2]), Store(sys.argv[1]), RayExecutor(sys.argv[3]), src=sys.argv[2])
"""


@pytest.mark.slow
def test_ray_a_killed_driver_leaves_a_sweep_that_resumes(cluster, tmp_path):
    s = Store(tmp_path / "store")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # started outside the checkout (Ray puts the driver's folder on the workers' path, where a
    # node has the same folders): the workers import the package the job carried (runtime_env)
    driver = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(tmp_path / "store"), SRC, cluster.address], env=env, cwd=tmp_path
    )
    try:
        while not any(s.epochs(r.id) for r in s.runs(sweep="t-ray-kill")):  # wait on state: a point is training
            assert driver.poll() is None, "the driver ended before any point trained"
            threading.Event().wait(0.1)
    finally:
        driver.kill()
        driver.wait()
    left = {r.id: r.status for r in s.runs(sweep="t-ray-kill")}
    assert "running" in left.values()
    started = [r for r in s.runs(sweep="t-ray-kill") if r.status == "running"]
    assert all("runtime_resources" in r.meta["ray_code"] for r in started)
    assert all(not r.meta["ray_code"].startswith(str(ROOT)) for r in started)
    sweep = Sweep(
        "t-ray-kill",
        "ncf",
        "mf_dim",
        tuple((str(d), {"mf_dim": d}) for d in (2, 4, 6)),
        {"epochs": 40, "patience": 40, "batch_size": 256, "layers": (8, 4), "pretrain": False},
    )
    with _ray(cluster) as ex:
        runs = run_sweep(sweep, syn(), s, ex, src=SRC)
    assert sorted(r.label for r in runs) == ["2", "4", "6"] and all(r.status == "done" for r in runs)
    after = {r.id: r.status for r in s.runs(sweep="t-ray-kill")}
    assert all(after[i] == "interrupted" for i, st in left.items() if st in ("running", "queued"))
    assert "running" not in after.values() and "queued" not in after.values()


@pytest.mark.slow
def test_the_apps_background_job_runs_a_search_on_the_cluster(cluster, tmp_path):
    """What the Sweeps page does with a Ray address: the job's thread is the driver."""
    from recsys_core.jobs.manager import JobManager
    from recsys_core.jobs.work import submit_sweep

    s = Store(tmp_path)
    sweep = load_sweep_file(_tpe_file(tmp_path, 4))
    jobs = JobManager(s)
    job = submit_sweep(jobs, s, SRC, sweep, _ray(cluster))
    jobs.wait(job, 180)
    assert job.status == "done", job.error
    assert job.progress["done"] == 4 and job.progress["executor"] == "ray"
    runs = s.runs(sweep="t-tpe")
    assert len(runs) == 4 and {r.status for r in runs} <= {"done", "pruned"}
    assert all(r.meta.get("ray_node") for r in runs)

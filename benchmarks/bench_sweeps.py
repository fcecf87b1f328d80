"""Sweeps at scale, measured in one run.

1. `sweep NAME ...` over the nine shipped sweeps of the first build (from an empty store)
   with each executor: in this
   process, the process pool, Ray on one node (a Ray instance the CLI starts), and Ray on a
   two-node cluster (`ray.cluster_utils`, both nodes on this machine, the cores split
   between them). Wall time of the CLI process, as a ratio to the sequential executor, and
   the largest difference of any point's test NDCG@10 / RMSE from the sequential run (the
   same seeds give the same figures whatever runs them).
2. Search against grid at the same budget: MF on `loo-uniform`, learning rate x negatives
   per positive, a 4 x 4 grid against 16-point random and TPE searches over the same ranges
   (two seeds each): the best validation NDCG@10 found, the test HR@10 / NDCG@10 of that
   point, and the time.

    python benchmarks/bench_sweeps.py [--dataset ml-100k] [--skip-all] [--skip-search]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, table

from recsys_core.data import load_dataset
from recsys_core.runs.reports import run_metric
from recsys_core.runs.store import Store
from recsys_core.sweeps.executors import run_sweep
from recsys_core.sweeps.search import validation_value
from recsys_core.sweeps.spec import Sweep, load_sweep_file

# the nine sweeps the first build shipped (SASRec's two are left out: alone they take longer
# than these nine together on 2 cores, and add nothing to a comparison of executors)
SWEEPS = [
    "ncf-lr",
    "ncf-emb",
    "ncf-dropout",
    "autorec-width",
    "autorec-dropout",
    "autorec-variants",
    "ncf-diversity",
    "cdae-hidden",
    "mf-loss",
]


def sweep_all(dataset: str, executor: list[str], env: dict) -> tuple[float, Store]:
    arts = tempfile.mkdtemp(prefix="bench-sweeps-")
    cmd = [sys.executable, "-m", "recsys_core", "sweep", *SWEEPS, "--dataset", dataset, *executor]
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env={**env, "RECSYS_ARTIFACTS": arts}, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return seconds, Store(arts)


def figures(store: Store) -> dict[tuple[str, str], float]:
    """(sweep, point) -> its test NDCG@10 (RMSE for rating sweeps), finished points only."""
    out = {}
    for r in store.runs():
        if r.sweep and r.status == "done":
            out[r.sweep, r.label] = run_metric(r)[1]
    return out


def executors(dataset: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_THREADS"}
    cores = os.cpu_count() or 1
    rows, base, base_figs = [], None, None
    arms = [
        ("sequential (this process)", []),
        (f"process pool, {cores} workers", ["--workers", str(cores)]),
        (f"Ray, one node ({cores} CPUs)", ["--executor", "ray"]),
    ]
    cluster = None
    try:
        from ray.cluster_utils import Cluster

        half = max(1, cores // 2)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": half})
        cluster.add_node(num_cpus=max(1, cores - half))
        cluster.wait_for_nodes()
        arms.append(
            (f"Ray, two nodes ({half} + {cores - half} CPUs)", ["--executor", "ray", "--address", cluster.address])
        )
    except ImportError:
        print("Ray is not installed (pip install -r requirements-ray.txt): its rows are left out", file=sys.stderr)
        arms = arms[:2]
    try:
        for name, args in arms:
            seconds, store = sweep_all(dataset, args, env)
            figs = figures(store)
            if base is None:
                base, base_figs = seconds, figs
            diff = max((abs(figs[k] - v) for k, v in base_figs.items() if k in figs), default=float("nan"))
            rows.append(
                {
                    "executor": name,
                    "seconds": f"{seconds:.1f}",
                    "vs sequential": f"{base / seconds:.2f}x",
                    "points done": len(figs),
                    "max test-figure difference": f"{diff:.2g}",
                }
            )
            print(f"  {name}: {seconds:.1f} s", file=sys.stderr, flush=True)
    finally:
        if cluster is not None:
            cluster.shutdown()
    print(f"\nThe nine first-build sweeps on {dataset} from an empty store ({cores} cores):\n")
    print(table(rows))


def search_vs_grid(dataset: str) -> None:
    ds = load_dataset(dataset)
    folder = Path(tempfile.mkdtemp(prefix="bench-search-"))
    base = {"epochs": 8, "patience": 3}
    space = {"lr": {"low": 3e-4, "high": 3e-2, "log": True}, "n_negatives": {"low": 1, "high": 16}}
    arms = [("grid 4 x 4", None, {"lr": [3e-4, 1e-3, 3e-3, 1e-2], "n_negatives": [1, 2, 4, 8]})]
    arms += [
        (f"{m} search, seed {s}", {"method": m, "budget": 16, "seed": s, "space": space}, None)
        for m in ("random", "tpe")
        for s in (0, 1)
    ]
    rows = []
    for name, search, grid in arms:
        spec = {"name": name.replace(" ", "-").replace(",", ""), "model": "mf", "base": base}
        spec.update({"search": search} if search else {"grid": grid})
        f = folder / f"{spec['name']}.json"
        f.write_text(json.dumps(spec))
        sweep: Sweep = load_sweep_file(f)
        store = Store(folder / spec["name"])
        t = time.perf_counter()
        runs = run_sweep(sweep, ds, store)
        seconds = time.perf_counter() - t
        scored = [(validation_value(store, r, "NDCG@10"), r) for r in runs if r.status == "done"]
        best_valid, best = max(scored, key=lambda x: x[0])
        test = best["metrics"]["loo-uniform"]
        rows.append(
            {
                "sweep": name,
                "points": len(runs),
                "best valid NDCG@10": f"{best_valid:.4f}",
                "its point": best["label"],
                "its test HR@10": f"{test['HR@10']:.4f}",
                "its test NDCG@10": f"{test['NDCG@10']:.4f}",
                "seconds": f"{seconds:.0f}",
            }
        )
        print(f"  {name}: {seconds:.0f} s, best valid {best_valid:.4f}", file=sys.stderr, flush=True)
    print(f"\nMF on {dataset} under loo-uniform, lr x negatives, 16 points each (sequential executor):\n")
    print(table(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--skip-all", action="store_true", help="leave out the executors' `sweep --all`")
    ap.add_argument("--skip-search", action="store_true", help="leave out search against grid")
    args = ap.parse_args()
    if not args.skip_all:
        executors(args.dataset)
    if not args.skip_search:
        search_vs_grid(args.dataset)


if __name__ == "__main__":
    main()

"""A build from an empty store with the models one after the other, and with them trained at
once in a pool of worker processes (`build --workers N`, the cores shared out), in one run;
on an idle machine and, with `--hog`, beside a busy-loop process too. Prints each build's wall
time (the command's start to its end, start-ups included), each model's fit and its figures
under `full` (leave-one-out, every unseen item ranked), and the ratio against one worker.

The best model of each dataset is a blend of SASRec, GRU4Rec and EASE: from an empty store
its training is its components' fits, which one worker runs one after the other and two
workers run side by side.

    python benchmarks/bench_parallel_build.py [--dataset ml-100k] [--models sasrec,gru4rec,ease,blend]
                                              [--workers 1,2] [--hog]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, table
from bench_load import HOG


def timed_build(dataset: str, models: str, workers: int) -> tuple[float, list[dict]]:
    """(wall seconds of `build --workers N` into an empty store, its runs: model, device line,
    seconds, full HR@10 / NDCG@10)."""
    arts = Path(tempfile.mkdtemp(prefix="parallel-build-"))
    try:
        cmd = [sys.executable, "-m", "recsys_core", "build", "--dataset", dataset, "--models", models]
        cmd += ["--workers", str(workers)]
        env = {**os.environ, "RECSYS_ARTIFACTS": str(arts)}
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - t
        with sqlite3.connect(arts / "runs.sqlite") as db:
            rows = db.execute("SELECT model, device, seconds, metrics FROM runs WHERE status = 'done' ORDER BY id")
            runs = [
                {"model": m, "device": d or "", "seconds": s or 0.0, "full": json.loads(x or "{}").get("full", {})}
                for m, d, s, x in rows.fetchall()
            ]
        return wall, runs
    finally:
        shutil.rmtree(arts, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--models", default="sasrec,gru4rec,ease,blend")
    ap.add_argument("--workers", default="1,2", help="pool sizes, each a build of its own")
    ap.add_argument("--hog", action="store_true", help="each build also beside one busy-loop process")
    args = ap.parse_args()
    rows, first = [], {}
    for load in ("idle", "hog") if args.hog else ("idle",):
        for workers in (int(w) for w in args.workers.split(",")):
            hog = subprocess.Popen([sys.executable, "-c", HOG]) if load == "hog" else None
            try:
                wall, runs = timed_build(args.dataset, args.models, workers)
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
            first.setdefault(load, wall)
            fits = ", ".join(f"{r['model']} {r['seconds']:.0f}" for r in runs)
            best = max(runs, key=lambda r: r["full"].get("NDCG@10", 0.0))
            full = best["full"]
            rows.append(
                {
                    "load": load,
                    "workers": workers,
                    "build s": f"{wall:.0f}",
                    "against one worker": f"{wall / first[load]:.2f}x",
                    "fits s": fits,
                    "best (full HR@10 / NDCG@10)": f"{best['model']} {full.get('HR@10', 0):.3f} / "
                    f"{full.get('NDCG@10', 0):.3f}",
                    "threads": "; ".join(sorted({r["device"] for r in runs if "thread" in r["device"]})),
                }
            )
            print(table(rows[-1:]), flush=True)
    print(f"\n{args.dataset}, models {args.models}, each build into an empty store\n")
    print(table(rows))


if __name__ == "__main__":
    main()

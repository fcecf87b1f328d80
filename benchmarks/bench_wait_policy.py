"""What made training collapse under load, measured: the same short training (5 epochs of
SASRec on ml-100k, `train sasrec --set epochs=5`, fixed patience) with torch's OpenMP threads
spinning while they wait (`OMP_WAIT_POLICY=ACTIVE`, what torch gets by default) or sleeping
(`PASSIVE`, what importing recsys_core sets), on an idle machine and beside one busy-loop
process, with two threads and with one. Prints wall and CPU seconds (user + system, the
child's own) and the test HR@10 under full ranking: the wait policy must not change it, the
thread count may.

    python benchmarks/bench_wait_policy.py [--model sasrec] [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from _common import ROOT, table

HOG = "while True: pass"


def run(model: str, epochs: int, threads: int, policy: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "RECSYS_THREADS")}
    env |= {"OMP_WAIT_POLICY": policy, "RECSYS_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    env["RECSYS_ARTIFACTS"] = tempfile.mkdtemp(prefix="wait-policy-")
    cmd = [sys.executable, "-m", "recsys_core", "train", model, "--quiet", "--json"]
    cmd += ["--set", f"epochs={epochs}", "--set", f"patience={epochs + 1}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    hr = json.loads(out.stdout)["metrics"]["HR@10"]
    return {"wall s": f"{wall:.1f}", "CPU s": f"{cpu:.1f}", "full HR@10": f"{hr:.4f}"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sasrec")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    run(args.model, 1, 1, "PASSIVE")  # warm the caches (dataset, split) outside the timings
    rows = []
    for load in ("idle", "hog"):
        hog = subprocess.Popen([sys.executable, "-c", HOG]) if load == "hog" else None
        try:
            for threads, policy in ((2, "ACTIVE"), (2, "PASSIVE"), (1, "PASSIVE")):
                r = run(args.model, args.epochs, threads, policy)
                rows.append({"load": load, "threads": threads, "OMP_WAIT_POLICY": policy, **r})
                print(rows[-1], flush=True)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    print(f"\n{args.model}, {args.epochs} epochs, ml-100k, full ranking; 'hog' = one busy-loop process beside it")
    print(table(rows))


if __name__ == "__main__":
    main()

"""What made training collapse under load, measured: the same short training (5 epochs of
SASRec on ml-100k, `train sasrec --set epochs=5`, fixed patience) with torch's OpenMP threads
spinning while they wait (`OMP_WAIT_POLICY=ACTIVE`), sleeping at once (`PASSIVE` with
`GOMP_SPINCOUNT=0`), or spinning for a bounded count first (`GOMP_SPINCOUNT=N`, which
libgomp reads over the policy; 300,000, about 3 ms, is its own count when no policy is
named, what torch gets by default), on an idle machine and beside one busy-loop process,
with two threads and with one. Prints wall and CPU seconds (user + system, the child's own)
and the test HR@10 under full ranking: the wait policy must not change it, the thread count
may.

    python benchmarks/bench_wait_policy.py [--model sasrec] [--epochs 5] [--dataset ml-100k]
        [--spins 0,300000,30000,10000,3000,1000]
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


SPINS = "0,300000,30000,10000,3000,1000"  # GOMP_SPINCOUNT arms, two threads, passive policy


def run(model: str, epochs: int, threads: int, policy: str, spin: str = "", dataset: str = "ml-100k") -> dict:
    drop = ("OMP_WAIT_POLICY", "RECSYS_THREADS", "GOMP_SPINCOUNT")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {"OMP_WAIT_POLICY": policy, "RECSYS_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    if spin:
        env["GOMP_SPINCOUNT"] = spin
    env["RECSYS_ARTIFACTS"] = tempfile.mkdtemp(prefix="wait-policy-")
    cmd = [sys.executable, "-m", "recsys_core", "train", model, "--dataset", dataset, "--quiet", "--json"]
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
    ap.add_argument("--spins", default=SPINS, help="GOMP_SPINCOUNT arms (two threads), comma-separated")
    ap.add_argument("--dataset", default="ml-100k")
    args = ap.parse_args()
    arms = [(2, "ACTIVE", "")] + [(2, "PASSIVE", n) for n in args.spins.split(",")] + [(1, "PASSIVE", "0")]
    run(args.model, 1, 1, "PASSIVE", dataset=args.dataset)  # warm the caches (dataset, split) outside the timings
    rows = []
    for load in ("idle", "hog"):
        hog = subprocess.Popen([sys.executable, "-c", HOG]) if load == "hog" else None
        try:
            for threads, policy, spin in arms:
                r = run(args.model, args.epochs, threads, policy, spin, args.dataset)
                rows.append({"load": load, "threads": threads, "OMP_WAIT_POLICY": policy, "GOMP_SPINCOUNT": spin, **r})
                print(rows[-1], flush=True)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    print(
        f"\n{args.model}, {args.epochs} epochs, {args.dataset}, full ranking; 'hog' = one busy-loop process beside it"
    )
    print(table(rows))


if __name__ == "__main__":
    main()

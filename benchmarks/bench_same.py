"""Same figures before and after a change that should not alter behaviour (a move of modules).

    python benchmarks/bench_same.py run --root /tmp/store-a --out a.json [--dataset ml-100k]
    python benchmarks/bench_same.py compare a.json b.json

`run` builds every shipped model under leave-one-out and the temporal split into an empty
store with the command line (`build --temporal`, two torch threads), then reads the store's
SQLite file directly, not through the library, so the same script reads a store written by
any version: each run's model, key, status, best epoch and test figures. `compare` prints
them side by side with the largest difference and exits 1 when any figure, key or status
differs (timings are left out: they change with the machine's load). Run the two sides on the same machine with the same thread count (torch's CPU
kernels are deterministic for a given thread count, not across counts).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(root: Path, out: Path, dataset: str) -> None:
    env = dict(os.environ, RECSYS_ARTIFACTS=str(root), RECSYS_THREADS="2")
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "recsys_core", "build", "--temporal", "--dataset", dataset]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    seconds = time.perf_counter() - t
    con = sqlite3.connect(root / "runs.sqlite")
    con.row_factory = sqlite3.Row
    rows = con.execute("SELECT key, model, status, best_epoch, metrics FROM runs ORDER BY id").fetchall()
    runs = {
        r["key"]: {
            "model": r["model"],
            "status": r["status"],
            "best_epoch": r["best_epoch"],
            "metrics": json.loads(r["metrics"] or "{}"),
        }
        for r in rows
    }
    out.write_text(json.dumps({"seconds": seconds, "dataset": dataset, "runs": runs}, indent=1))
    print(f"{len(runs)} runs on {dataset} in {seconds:.1f} s -> {out}")


def _flat(metrics: dict, prefix: str = "") -> dict[str, float]:
    flat = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            flat |= _flat(v, f"{prefix}{k}/")
        elif isinstance(v, (int, float)):
            flat[prefix + k] = float(v)
    return flat


def compare(a_path: Path, b_path: Path) -> int:
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    bad, worst, figures = [], 0.0, 0
    for key in sorted(set(a["runs"]) | set(b["runs"])):
        ra, rb = a["runs"].get(key), b["runs"].get(key)
        if ra is None or rb is None:
            bad.append(f"{key}: only in {'b' if ra is None else 'a'}")
            continue
        if (ra["status"], ra["best_epoch"]) != (rb["status"], rb["best_epoch"]):
            bad.append(
                f"{key}: status/best epoch {ra['status']}/{ra['best_epoch']} vs {rb['status']}/{rb['best_epoch']}"
            )
        # timings ("seconds/...") are not figures: they change with the machine's load
        fa = {k: v for k, v in _flat(ra["metrics"]).items() if not k.startswith("seconds/")}
        fb = {k: v for k, v in _flat(rb["metrics"]).items() if not k.startswith("seconds/")}
        if set(fa) != set(fb):
            bad.append(f"{key}: figures {sorted(set(fa) ^ set(fb))} on one side only")
        for name in sorted(set(fa) & set(fb)):
            figures += 1
            d = abs(fa[name] - fb[name])
            worst = max(worst, d)
            if d > 0:
                bad.append(f"{key} {name}: {fa[name]!r} vs {fb[name]!r}")
        hr = fa.get("full/HR@10", fa.get("temporal/HR@10"))
        print(f"{ra['model']:8s} {key[-40:]:40s} {ra['status']:6s} best epoch {ra['best_epoch']}  HR@10 {hr}")
    print(
        f"{len(a['runs'])} vs {len(b['runs'])} runs, {figures} figures compared, largest difference {worst:.3g}; "
        f"build {a['seconds']:.1f} s vs {b['seconds']:.1f} s"
    )
    for line in bad:
        print("DIFFERS:", line)
    print("identical" if not bad else f"{len(bad)} differences")
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--root", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--dataset", default="ml-100k")
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = p.parse_args()
    if args.cmd == "run":
        run(args.root, args.out, args.dataset)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())

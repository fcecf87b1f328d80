"""Start-up of the command line, as ratios to a bare interpreter (`python -c pass`).

`--help`, `data info` and a warm `build` (everything cached) should not import torch. The
"store check" is what a warm build cannot avoid: loading the dataset (its fingerprint keys
the runs) and asking the store whether every shipped run is there and intact. It is timed
twice: inside this process (the work alone) and as a fresh process that imports only what
it needs (pandas and the store, no torch) and does it; the warm build's target is within
1.5x of that.

    python benchmarks/bench_cli.py [--dataset ml-100k] [--repeat 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _common import table

from recsys_core.data import load_dataset
from recsys_core.runs.catalog import missing_models
from recsys_core.runs.store import Store


def wall(cmd: list[str], repeat: int) -> float:
    """Best wall time of `repeat` runs of a command (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    py, cli = sys.executable, [sys.executable, "-m", "recsys_core"]
    ds = load_dataset(args.dataset)
    store = Store()
    if missing_models(store, ds):
        sys.exit(f"build {args.dataset} first (python -m recsys_core build --dataset {args.dataset})")
    check = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        missing_models(store, load_dataset(args.dataset))
        check = min(check, time.perf_counter() - t)
    bare = wall([py, "-c", "pass"], args.repeat)
    code = (
        "import sys; from recsys_core.runs.catalog import missing_models; from recsys_core.data import load_dataset;"
        "from recsys_core.runs.store import Store; missing_models(Store(), load_dataset(sys.argv[1]))"
    )
    check_process = wall([py, "-c", code, args.dataset], args.repeat)
    torch_import = wall([py, "-c", "import torch"], args.repeat)
    rows = []
    for what, cmd in [
        ("--help", [*cli, "--help"]),
        ("train --help (every model's --set keys)", [*cli, "train", "--help"]),
        ("data info", [*cli, "data", "info", "--dataset", args.dataset]),
        ("build, everything cached", [*cli, "build", "--dataset", args.dataset]),
    ]:
        t = wall(cmd, args.repeat)
        rows.append(
            {
                "command": what,
                "seconds": f"{t:.2f}",
                "x bare start": f"{t / bare:.1f}",
                "x store check as a process": f"{t / check_process:.2f}",
            }
        )
    print(
        f"bare interpreter {bare:.3f} s; import torch {torch_import:.2f} s; store check {check:.3f} s in-process,"
        f" {check_process:.2f} s as a fresh process"
    )
    print(table(rows))


if __name__ == "__main__":
    main()

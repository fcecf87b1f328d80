"""Peak memory (whole-process max RSS) and time of `train MODEL` per model and dataset, each
in its own fresh process, as a user runs it: `python -m recsys_core train MODEL --quiet`.
The figure is what the operating system reports for the child (ru_maxrss), interpreter,
torch and data included; the import of torch alone is printed first as the floor.

    python benchmarks/bench_memory.py [--models ncf,mf,cdae] [--datasets ml-100k,ml-1m] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from _common import table

ROOT = Path(__file__).resolve().parent.parent


def peak(cmd: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MiB, seconds, exit code) of a command run in a fresh child process."""
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: becomes the command, so its ru_maxrss is the command's alone
        os.chdir(ROOT)
        os.execv(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    return usage.ru_maxrss / 1024, time.perf_counter() - t, os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="ncf,mf,cdae")
    ap.add_argument("--datasets", default="ml-100k")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to every train")
    args = ap.parse_args()
    py = sys.executable
    floor, secs, _ = peak([py, "-c", "import torch"])
    print(f"python + torch import alone: {floor:.0f} MiB, {secs:.1f} s")
    rows = []
    for ds in args.datasets.split(","):
        for model in args.models.split(","):
            sets = [x for s in args.set for x in ("--set", s)]
            cmd = [py, "-m", "recsys_core", "train", model, "--dataset", ds, "--quiet", *sets]
            mib, secs, rc = peak(cmd)
            rows.append(
                {"dataset": ds, "model": model, "peak RSS MiB": f"{mib:,.0f}", "seconds": f"{secs:.1f}", "exit": rc}
            )
            print(rows[-1], flush=True)
    print(table(rows))
    print(
        f"(ru_maxrss of each child; max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)"
    )


if __name__ == "__main__":
    main()

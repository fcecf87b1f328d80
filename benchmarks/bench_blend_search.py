"""The blend's weight search, counted cell by cell (the mixes on torch's threads) against the
count of finite scores in fewer passes, the mixes on one thread (`scoring.weighting_ranks`), in one run; on an idle machine and, with `--hog`, beside
a busy-loop process too. Checks that both give every weighting the same ranks, then prints the
seconds of each (the components' scoring included: one pass, shared by the weightings).

    python benchmarks/bench_blend_search.py --dataset ml-1m [--step 0.05] [--repeats 2] [--hog] 82 97 31

The runs (ids in the store, leave-one-out runs on DATASET's default split: the shipped blend's
components are SASRec, GRU4Rec and EASE) are loaded as they were validated, as the blend's own
fit loads them; the grid is the blend's (`--step`, 231 weightings of three at 0.05).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np
import torch
from _common import ROOT, table
from bench_load import HOG

sys.path.insert(0, str(ROOT))

from blend_stored_runs import stored_blend  # noqa: E402

from recsys_core.evaluation import scoring  # noqa: E402
from recsys_core.models.blend import Blend  # noqa: E402
from recsys_core.training.fitting import weight_grid  # noqa: E402


def timed(blend: Blend, split, grid, cell_by_cell: bool) -> tuple[float, list]:
    t = time.perf_counter()
    with blend.frozen():
        ranks = scoring.weighting_ranks(blend, split, grid, cell_by_cell=cell_by_cell)
    return time.perf_counter() - t, ranks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=int, help="stored run ids: the blend's components")
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--step", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=2, help="each count this many times, in turn; the fastest kept")
    ap.add_argument("--hog", action="store_true", help="also beside one busy-loop process")
    ap.add_argument("--store", default=str(ROOT / "artifacts"))
    args = ap.parse_args()
    blend, split, _ = stored_blend(args.dataset, args.store, args.runs)
    grid = weight_grid(len(blend.parts), args.step)
    rows = []
    for load in ("idle", "hog") if args.hog else ("idle",):
        hog = subprocess.Popen([sys.executable, "-c", HOG]) if load == "hog" else None
        try:
            best = {True: float("inf"), False: float("inf")}
            for _ in range(args.repeats):
                for cells in (True, False):
                    s, ranks = timed(blend, split, grid, cells)
                    best[cells] = min(best[cells], s)
                    if cells:
                        want = ranks
                    elif not all(np.array_equal(a, b) for a, b in zip(want, ranks)):
                        sys.exit("the two counts gave different ranks")
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        rows.append(
            {
                "load": load,
                "weightings": len(grid),
                "cell by cell s": f"{best[True]:.1f}",
                "fewer passes, one thread s": f"{best[False]:.1f}",
                "speed-up": f"{best[True] / best[False]:.2f}x",
            }
        )
    users = int((split.valid_items >= 0).sum())
    print(f"{args.dataset}, runs {', '.join(map(str, args.runs))}: {users} validation users, every unseen item ranked;")
    print(f"{torch.get_num_threads()} torch threads; the same ranks at every weighting (checked)")
    print(table(rows))


if __name__ == "__main__":
    main()

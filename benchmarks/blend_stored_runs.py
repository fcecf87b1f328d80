"""A blend of stored runs, whatever their settings: which weighting validation picks, and its test.

    python benchmarks/blend_stored_runs.py --dataset ml-1m --step 0.1 26 27 25 72

The shipped `blend` mixes models at their shipped settings; this asks whether a run trained
with other settings (SASRec reading the latest 200, run 72) adds to them. The runs (ids in
the store, leave-one-out runs on the default split of DATASET) are loaded as they were
validated, their scores standardised per user and mixed with every weighting on the grid of
`--step`, each scored on the validation item ranked against every unseen movie (the shipped
blend's rule, `training.fitting`); the best is tested under `full` after the runs read the
validation item, as the blend's components do. The five best weightings on validation are
printed beside it, so a component's worth is read off the grid: the best row with its weight
at 0 is the blend without it, at the same step. `--valid-only` stops before the test, so a
choice between runs can be made on validation before any test is seen.

`--cv-steps 0.1,0.05,0.025` asks which grid step generalises, on validation alone: the
validation users are cut in two halves at random (50 times, seeded), a weighting is picked on
one half at each step and scored on the other, both ways; prints each step's held-out NDCG@10
and how often the finest beats the next. A finer grid always validates at least as high on
the users it is picked on, so only held-out users can say whether it picks better.

    python benchmarks/blend_stored_runs.py --dataset ml-100k --cv-steps 0.1,0.05,0.025 141 129 4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recsys_core.data import load_dataset  # noqa: E402
from recsys_core.evaluation import scoring, splits  # noqa: E402
from recsys_core.evaluation.scoring import evaluate, evaluate_full_valid_blends  # noqa: E402
from recsys_core.models.blend import Blend  # noqa: E402
from recsys_core.models.blend_config import BlendConfig  # noqa: E402
from recsys_core.runs.artifacts import load_model  # noqa: E402
from recsys_core.runs.store import Store  # noqa: E402
from recsys_core.training.fitting import weight_grid  # noqa: E402


def cross_validate_steps(blend: Blend, split, steps: list[float], repeats: int = 50) -> None:
    """Held-out validation NDCG@10 of the weighting each grid step picks (module docstring)."""
    fine = weight_grid(len(blend.parts), steps[0])
    t = time.perf_counter()
    with blend.frozen():
        ranks = np.stack(scoring.weighting_ranks(blend, split, fine))  # [weightings, users], 0-based
    ndcg = np.where(ranks < 10, 1 / np.log2(ranks + 2.0), 0.0)
    on = {s: np.flatnonzero([np.allclose(w / s, np.round(w / s)) for w in fine]) for s in steps}
    rng, held = np.random.default_rng(0), {s: [] for s in steps}
    for _ in range(repeats):
        perm = rng.permutation(ranks.shape[1])
        halves = (perm[: len(perm) // 2], perm[len(perm) // 2 :])
        for a, b in (halves, halves[::-1]):
            picked_on, scored_on = ndcg[:, a].mean(1), ndcg[:, b].mean(1)
            for s in steps:
                held[s].append(scored_on[on[s][np.argmax(picked_on[on[s]])]])
    print(f"{len(fine)} weightings scored in {time.perf_counter() - t:.0f} s, {ranks.shape[1]} validation users")
    for s in steps:
        best = on[s][np.argmax(ndcg[on[s]].mean(1))]
        print(
            f"  step {s:g}: {len(on[s])} weightings, held-out NDCG@10 {np.mean(held[s]):.5f};"
            f" on all validation {' / '.join(f'{w:.3f}' for w in fine[best])}: {ndcg[best].mean():.5f}"
        )
    d = np.subtract(held[steps[0]], held[steps[1]])
    print(
        f"step {steps[0]:g} - {steps[1]:g}: {d.mean():+.5f}, higher in {(d > 0).mean():.0%} of {len(d)} halves, lower in {(d < 0).mean():.0%}"
    )


def stored_blend(dataset: str, store_path: str, ids: list[int]):
    """(a blend of the stored runs `ids` as they were validated, the dataset's leave-one-out
    split, the runs); exits with a message naming any id the store does not hold."""
    ds, store = load_dataset(dataset), Store(store_path)
    runs = [store.run(i) for i in ids]
    if any(r is None for r in runs):
        sys.exit(f"no such run: {[i for i, r in zip(ids, runs) if r is None]}")
    parts = [load_model(store, r, ds, read=False) for r in runs]
    split = splits.loo_split(ds)
    blend = Blend(ds.n_users, ds.n_items, BlendConfig(components=tuple(r.model for r in runs)), parts)
    blend.remember_seen(split.train)
    return blend, split, runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=int, help="stored run ids")
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--step", type=float, default=0.1, help="the weights' grid step")
    ap.add_argument("--store", default=str(ROOT / "artifacts"))
    ap.add_argument(
        "--valid-only", action="store_true", help="validation only: the pick's test is not read (choose first)"
    )
    ap.add_argument("--cv-steps", help="steps whose picks are scored on held-out validation users (no test)")
    args = ap.parse_args()
    blend, split, runs = stored_blend(args.dataset, args.store, args.runs)
    labels = [f"{r.model} (run {r.id}{', ' + r.label if r.label else ''})" for r in runs]
    t = time.perf_counter()
    if args.cv_steps:
        cross_validate_steps(blend, split, sorted(float(v) for v in args.cv_steps.split(",")))
        return
    grid = weight_grid(len(blend.parts), args.step)
    with blend.frozen():
        found = evaluate_full_valid_blends(blend, split, grid)
    order = sorted(range(len(grid)), key=lambda j: (-found[j]["NDCG@10"], -found[j]["HR@10"], j))
    print(f"{args.dataset}: {len(grid)} weightings of {', '.join(labels)} on full-ranking validation")
    for j in order[:5]:
        print(
            f"  {' / '.join(f'{w:.2f}' for w in grid[j])}: HR@10 {found[j]['HR@10']:.4f}, NDCG@10 {found[j]['NDCG@10']:.4f}"
        )
    blend.weights = grid[order[0]]
    if args.valid_only:
        print(f"picked {' / '.join(f'{w:.2f}' for w in blend.weights)}; test not read (--valid-only)")
        return
    blend.read(split.valid_rows)
    test = evaluate(blend, split, "full")
    print(
        f"picked {' / '.join(f'{w:.2f}' for w in blend.weights)}: test (full) HR@10 {test['HR@10']:.4f}, "
        f"NDCG@10 {test['NDCG@10']:.4f}; {time.perf_counter() - t:.0f} s"
    )


if __name__ == "__main__":
    main()

"""Full-ranking evaluation speed and memory: every user scored against every item, for each
shipped model, on one dataset (default ml-1m: 6,040 users x 3,706 movies).

Times `evaluate_many` (the leave-one-out protocols: full, loo-uniform and loo-popularity
from one scoring pass, plus the top-50 lists) and `evaluate_temporal` (every test-window
interaction ranked) for each model, and the process's peak memory over the run. Scoring
cost does not depend on what a model learned, so neural models are scored untrained (their
inference state prepared from the training rows, as a fitted model's is); closed-form ones
are fitted (their fit time is printed apart). Also times `evaluate_full_valid` (the validation
item against every unseen item) as it runs outside a fit: a blend's weight search, a reloaded
run's check. (Inside a fit a sequential model encodes every user once an epoch, `frozen`.)

`--cells N,...`: each model also scored with these score-cell budgets (users a batch = cells
over the catalogue), beside its own, in the same run: the figures must not move, the times do.
`--cells 25000` is the budget every model had before the sequential ones took 1,000,000.

    python benchmarks/bench_full_ranking.py [--dataset ml-1m] [--models ...] [--cells 25000]
"""

from __future__ import annotations

import argparse
import resource
import time

from _common import table

from recsys_core.data import load_dataset
from recsys_core.evaluation.protocols import RANKING
from recsys_core.evaluation.scoring import evaluate_full_valid, evaluate_many, evaluate_temporal
from recsys_core.evaluation.splits import loo_split
from recsys_core.evaluation.temporal import temporal_split
from recsys_core.models.neural import NeuralRecommender
from recsys_core.runs import zoo
from recsys_core.runs.catalog import ZOO
from recsys_core.training.devices import use_threads


def score_row(name: str, cfg, ds, feats, split, ts, cells: int | None) -> dict:
    """One model's scoring times with `cells` score cells a batch (None: its own budget)."""
    row = {"model": name}
    for what, data in (("leave-one-out", split), ("temporal", ts)):
        model = zoo.make(name, ds.n_users, ds.n_items, cfg=cfg, item_features=feats)
        model.score_cells = cells or model.score_cells
        row.setdefault("cells", f"{model.score_cells:,}" + ("" if cells else " (own)"))
        t = time.perf_counter()
        if isinstance(model, NeuralRecommender):
            model.prepare(data.train)
            model.eval()  # as a fitted model is scored: no dropout, inference caches kept
        else:
            model.fit(data.train)
        fit = time.perf_counter() - t
        if what == "leave-one-out":
            t = time.perf_counter()
            valid = evaluate_full_valid(model, split)
            row["validation s"] = f"{time.perf_counter() - t:.2f}"
            t = time.perf_counter()
            found = evaluate_many(model, split, list(RANKING))[0]
            row["leave-one-out s"] = f"{time.perf_counter() - t:.2f}"
            row["valid / full NDCG@10"] = f"{valid['NDCG@10']:.6f} / {found['full']['NDCG@10']:.6f}"
            row["closed-form fit s"] = "" if isinstance(model, NeuralRecommender) else f"{fit:.2f}"
        else:
            t = time.perf_counter()
            evaluate_temporal(model, ts)
            row["temporal s"] = f"{time.perf_counter() - t:.2f}"
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml-1m")
    # the blend's scoring is its components' (its fit would train its networks): not in the default
    ap.add_argument("--models", default=",".join(m for m in ZOO if m != "blend"))
    ap.add_argument("--cells", default="", help="score-cell budgets to time beside each model's own")
    args = ap.parse_args()
    threads = use_threads()
    ds = load_dataset(args.dataset)
    split, ts = loo_split(ds), temporal_split(ds)
    feats = ds.genre_matrix if ds.has_genres else None
    extra = [int(c) for c in args.cells.split(",") if c]
    rows = []
    for name in args.models.split(","):
        cfg = zoo.config_for(name, None, ds.name)  # the dataset's shipped settings (sizes, lengths)
        for cells in [None, *extra]:
            row = score_row(name, cfg, ds, feats, split, ts, cells)
            row["peak RSS so far MiB"] = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}"  # KiB
            rows.append(row)
            print(row, flush=True)
    targets = ts.targets("test").report
    print(
        f"\n{ds.name}: {ds.n_users:,} users x {ds.n_items:,} items; leave-one-out: {len(split.eval_users):,} users, "
        f"every unseen item ranked (full) and the 99-item samples read from the same scores; temporal: "
        f"{targets['users']:,} users, {targets['targets']:,} targets; {threads} torch thread(s)"
    )
    print(table(rows))


if __name__ == "__main__":
    main()

"""Full-ranking evaluation speed and memory: every user scored against every item, for each
shipped model, on one dataset (default ml-1m: 6,040 users x 3,706 movies).

Times `evaluate_many` (the leave-one-out protocols: full, loo-uniform and loo-popularity
from one scoring pass, plus the top-50 lists) and `evaluate_temporal` (every test-window
interaction ranked) for each model, and the process's peak memory over the run. Scoring
cost does not depend on what a model learned, so neural models are scored untrained (their
inference state prepared from the training rows, as a fitted model's is); closed-form ones
are fitted (their fit time is printed apart).

    python benchmarks/bench_full_ranking.py [--dataset ml-1m] [--models ...]
"""

from __future__ import annotations

import argparse
import resource
import time

from _common import table

from recsys_core.data import load_dataset
from recsys_core.evaluation.protocols import RANKING
from recsys_core.evaluation.scoring import evaluate_many, evaluate_temporal
from recsys_core.evaluation.splits import loo_split
from recsys_core.evaluation.temporal import temporal_split
from recsys_core.models.neural import NeuralRecommender
from recsys_core.runs import zoo
from recsys_core.runs.catalog import ZOO
from recsys_core.training.devices import use_threads


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--models", default=",".join(ZOO))
    args = ap.parse_args()
    threads = use_threads()
    ds = load_dataset(args.dataset)
    split, ts = loo_split(ds), temporal_split(ds)
    feats = ds.genre_matrix if ds.has_genres else None
    rows = []
    for name in args.models.split(","):
        row = {"model": name}
        for what, data in (("leave-one-out", split), ("temporal", ts)):
            model = zoo.make(name, ds.n_users, ds.n_items, cfg=zoo.config_for(name), item_features=feats)
            t = time.perf_counter()
            if isinstance(model, NeuralRecommender):
                model.prepare(data.train)
                model.eval()  # as a fitted model is scored: no dropout, inference caches kept
            else:
                model.fit(data.train)
            fit = time.perf_counter() - t
            t = time.perf_counter()
            if what == "leave-one-out":
                evaluate_many(model, split, list(RANKING))
            else:
                evaluate_temporal(model, ts)
            row[f"{what} s"] = f"{time.perf_counter() - t:.2f}"
            if not isinstance(model, NeuralRecommender) and what == "leave-one-out":
                row["closed-form fit s"] = f"{fit:.2f}"
        row.setdefault("closed-form fit s", "")
        row["peak RSS so far MiB"] = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}"  # KiB on Linux
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

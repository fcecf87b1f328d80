"""Validation-only tuning of the shipped defaults: a small grid per model, picked on the
validation metric at the best epoch (NDCG@10 on the leave-one-out validation items, or
validation RMSE), never on test. Test figures are printed beside, for the README only.

    python benchmarks/tune_defaults.py [--dataset ml-100k] [--models ncf cdae ...]
"""

from __future__ import annotations

import argparse
import itertools
import time

from _common import table

from recsys_core import zoo
from recsys_core.data import load_dataset
from recsys_core.runner import fit_and_evaluate

# each grid varies a few settings around the current default (the first value is the default)
GRIDS = {
    "ncf": {"dropout": [0.0, 0.2], "diversity_weight": [0.0, 0.1], "n_negatives": [4, 8]},
    "mf": {"dim": [128, 64], "weight_decay": [1e-6, 1e-5], "n_negatives": [4, 8]},
    "cdae": {"hidden": [400, 200], "corruption": [0.2, 0.5]},
    "autorec": {"item_based": [True, False], "layers": [(128, 128), (128,)], "dropout": [0.8, 0.2]},
    "embnet": {"dim": [50, 100], "hidden": [(100,), (200, 100)], "embedding_dropout": [0.02, 0.2]},
}


def best_epoch_metric(history, monitor: str):
    rows = history.epochs
    if not rows:
        return None
    best = rows[history.best_epoch - 1] if history.best_epoch else rows[-1]
    return best.get(monitor)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--models", nargs="*", default=list(GRIDS))
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    for model in a.models:
        rating = zoo.entry(model).task == "rating"
        protocol, monitor = ("ratings", "RMSE") if rating else ("loo-uniform", "NDCG@10")
        grid = GRIDS[model]
        rows = []
        for values in itertools.product(*grid.values()):
            ov = dict(zip(grid, values))
            t = time.perf_counter()
            res = fit_and_evaluate(model, ds, [protocol], overrides=ov)
            test = res.metrics.get(protocol, {})
            rows.append(
                {
                    **{k: "-".join(map(str, v)) if isinstance(v, tuple) else v for k, v in ov.items()},
                    f"valid {monitor}": best_epoch_metric(res.history, monitor),
                    "epochs": len(res.history.epochs),
                    "test HR@10" if not rating else "test RMSE": test.get("RMSE" if rating else "HR@10"),
                    "test NDCG@10" if not rating else "test MAE": test.get("MAE" if rating else "NDCG@10"),
                    "s": round(time.perf_counter() - t, 1),
                }
            )
        key = f"valid {monitor}"
        ok = [r for r in rows if r[key] is not None]
        pick = (min if rating else max)(ok, key=lambda r: r[key])
        for r in rows:
            r[""] = "<- picked on validation" if r is pick else ""
            for c, v in r.items():
                if isinstance(v, float) and c not in ("s",) and not c.startswith(("dropout", "weight", "div")):
                    r[c] = f"{v:.4f}"
        print(f"\n{model} on {a.dataset}, {protocol} (first row = the current default)")
        print(table(rows))


if __name__ == "__main__":
    main()

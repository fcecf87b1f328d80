"""Accuracy and speed of the shipped models (defaults from zoo.py), one run.

1. Every model on DATASET under loo-uniform / loo-popularity / full (and ratings-5fold for
   the rating models): test metrics with best-epoch weights, plus the validation NDCG@10 at
   the best and the last epoch, and training seconds.
2. NeuMF: seconds per epoch of the vectorised loop against a naive DataLoader that yields
   one (user, item, label) sample at a time with negatives drawn in Python (seed 002's way),
   same model and batch size; HR@10 after one epoch of each.
3. Full-ranking scoring: top-10 for every user.

With --refit, the leave-one-out figures come from each model trained again on train +
validation for the epochs its validation picked (`evaluate --refit`); "train s" is then
the validated fit plus the refit.

    python benchmarks/bench_models.py [--dataset ml-100k] [--models ncf,mf] [--no-naive] [--no-5fold] [--refit]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import table

from recsys_core.data import load_dataset
from recsys_core.evaluation.scoring import evaluate_sampled
from recsys_core.evaluation.splits import loo_split
from recsys_core.runs import zoo
from recsys_core.runs.experiment import fit_and_evaluate
from recsys_core.training.devices import describe_device
from recsys_core.training.fitting import fit_model


def accuracy(ds, models, five_fold: bool, refit: bool = False) -> None:
    rows = []
    for name in models:
        entry = zoo.entry(name)
        protocols = ["loo-uniform", "loo-popularity", "full"]
        res = fit_and_evaluate(name, ds, protocols, refit=refit)
        h = res.history
        best = h.epochs[h.best_epoch - 1] if h.best_epoch else {}
        last = h.epochs[-1] if h.epochs else {}
        for p in protocols:
            m = res.metrics.get(p, {})
            rows.append(
                {
                    "model": name,
                    "protocol": p,
                    "HR@10": f"{m.get('HR@10', float('nan')):.3f}",
                    "NDCG@10": f"{m.get('NDCG@10', float('nan')):.3f}",
                    "valid NDCG best/last epoch": (
                        f"{best.get('NDCG@10', float('nan')):.3f} (ep {h.best_epoch}) / "
                        f"{last.get('NDCG@10', float('nan')):.3f} (ep {last.get('epoch', '-')})"
                        if "NDCG@10" in last
                        else "closed form"
                    ),
                    "train s": f"{res.seconds.get('fit', 0) + res.seconds.get('refit', 0):.1f}",
                }
            )
        if entry.task == "rating" and five_fold:
            r = fit_and_evaluate(name, ds, ["ratings-5fold"]).metrics["ratings-5fold"]
            rows.append(
                {
                    "model": name,
                    "protocol": "ratings-5fold",
                    "HR@10": f"RMSE {r['RMSE']:.3f}±{r['RMSE_std']:.3f}",
                    "NDCG@10": f"MAE {r['MAE']:.3f}",
                    "valid NDCG best/last epoch": "-",
                    "train s": "-",
                }
            )
        print(f"done: {name}", flush=True)
    print(table(rows))


class NaiveSamples(torch.utils.data.Dataset):
    """One (user, item, label) per __getitem__, negatives drawn by a Python loop."""

    def __init__(self, train, n_neg: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        seen = {}
        for u, i in zip(train.users.tolist(), train.items.tolist()):
            seen.setdefault(u, set()).add(i)
        self.rows = []
        for u, i in zip(train.users.tolist(), train.items.tolist()):
            self.rows.append((u, i, 1.0))
            for _ in range(n_neg):
                j = int(rng.integers(train.n_items))
                while j in seen[u]:
                    j = int(rng.integers(train.n_items))
                self.rows.append((u, j, 0.0))

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, k):
        u, i, y = self.rows[k]
        return torch.tensor(u), torch.tensor(i), torch.tensor(y)


def naive_vs_vectorised(ds) -> None:
    split = loo_split(ds)
    cfg = zoo.config_for("ncf", {"epochs": 1})
    feats = ds.genre_matrix if ds.has_genres else None
    model = zoo.make("ncf", ds.n_users, ds.n_items, cfg=cfg, item_features=feats)
    t = time.perf_counter()
    fit_model(model, split.train)
    ours = time.perf_counter() - t
    ours_hr = evaluate_sampled(model, split, "uniform")["HR@10"]

    naive = zoo.make("ncf", ds.n_users, ds.n_items, cfg=cfg, item_features=feats)
    t = time.perf_counter()
    data = NaiveSamples(split.train, cfg.n_negatives)
    loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch_size, shuffle=True)
    opt = torch.optim.Adam(naive.parameters(), lr=cfg.lr)
    naive.train()
    for u, i, y in loader:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(naive(u, i), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    naive.eval()
    naive_s = time.perf_counter() - t
    naive.remember_seen(split.train)
    naive_hr = evaluate_sampled(naive, split, "uniform")["HR@10"]
    print(
        table(
            [
                {
                    "NeuMF, 1 epoch": "vectorised (ours)",
                    "seconds": f"{ours:.2f}",
                    "HR@10 after 1 epoch": f"{ours_hr:.3f}",
                },
                {
                    "NeuMF, 1 epoch": "naive per-sample DataLoader",
                    "seconds": f"{naive_s:.2f}",
                    "HR@10 after 1 epoch": f"{naive_hr:.3f}",
                },
            ]
        )
    )
    print(f"speed-up per epoch: {naive_s / ours:.1f}x (batch {cfg.batch_size}, {cfg.n_negatives} negatives)")


def full_ranking(ds) -> None:
    split = loo_split(ds)
    rows = []
    for name in ("ncf", "mf", "ease"):
        m = zoo.make(name, ds.n_users, ds.n_items, item_features=ds.genre_matrix if ds.has_genres else None)
        fit_model(m, split.train)
        t = time.perf_counter()
        m.recommend(np.arange(ds.n_users), k=10)
        rows.append({"model": name, "top-10 for all users (s)": f"{time.perf_counter() - t:.2f}"})
    print(table(rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--models", default=",".join(zoo.ZOO))
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument("--no-5fold", action="store_true")
    ap.add_argument("--only", choices=["accuracy", "naive", "scoring"])
    ap.add_argument("--refit", action="store_true", help="leave-one-out: refit on train + validation before the test")
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    print(f"{ds.name}: {ds.n_users:,} users, {ds.n_items:,} items; device {describe_device()}")
    if args.only in (None, "accuracy"):
        accuracy(ds, args.models.split(","), not args.no_5fold, args.refit)
    if args.only in (None, "naive") and not args.no_naive:
        naive_vs_vectorised(ds)
    if args.only in (None, "scoring"):
        full_ranking(ds)


if __name__ == "__main__":
    main()

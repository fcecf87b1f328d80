"""Would a refit on train + validation help a model's test figures? Asked of validation only,
one step earlier: each user's test item is removed, so this split's test item is the real
validation item and its validation item the one before; the real test items are never read.

Per model and seed: the validated fit (reading up to the held-out item, as shipped) against
its refit on train + (this split's) validation for the epochs validation picked (what `evaluate
--refit` does), both ranked against every unseen item (`full`). Prints each pair, then each
model's paired test over the users (each user's figure averaged over the seeds).

`--blend`: the shipped blend instead (SASRec + GRU4Rec + EASE, its weights picked on this
split's validation from the validated fits, as a build picks them), its test scored with the
validated SASRec and again with SASRec's refit in its place, the weights unchanged.

    python benchmarks/refit_one_step_earlier.py [--dataset ml-100k] [--models sasrec,gru4rec]
                                                [--seeds 0,1,2] [--set K=V ...] [--blend]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from _common import table

from recsys_core.data import load_dataset
from recsys_core.evaluation import splits
from recsys_core.evaluation.paired import paired_test
from recsys_core.evaluation.scoring import evaluate_many
from recsys_core.models.blend import Blend
from recsys_core.runs import zoo
from recsys_core.runs.experiment import _refit
from recsys_core.training.devices import use_threads
from recsys_core.training.fitting import _validate_weightings, best_weighting, fit_model, weight_grid


def one_step_earlier(ds):
    """(the dataset without each user's test item, its leave-one-out split, the users whose
    held-out item there is their real validation item)."""
    real = splits.loo_split(ds)
    users = np.flatnonzero(real.test_items >= 0)
    test = set(zip(users.tolist(), real.test_items[users].tolist()))
    pairs = zip(ds.ratings.user.to_numpy().tolist(), ds.ratings.item.to_numpy().tolist())
    keep = np.fromiter((p not in test for p in pairs), dtype=bool, count=len(ds.ratings))
    earlier = dataclasses.replace(ds, ratings=ds.ratings[keep].reset_index(drop=True))
    split = splits.loo_split(earlier, use_cache=False)
    same = (split.test_items[users] == real.valid_items[users]).mean()
    assert same > 0.99, f"only {same:.1%} of held-out items are the real validation items"
    return earlier, split


def per_user(model, split) -> tuple[dict, np.ndarray, np.ndarray]:
    """(full-ranking figures, each evaluated user's NDCG@10, each one's HR@10)."""
    found, _, _, ranks = evaluate_many(model, split, ["full"], 10)
    _, per = ranks["full"].per_user(10)
    return found["full"], per["NDCG@10"], per["HR@10"]


def fitted(name: str, ds, split, seed: int, sets: dict):
    """(a model fitted on the split's training rows with validation, as shipped; its history;
    its config; the seconds)."""
    over = {"seed": seed, **sets} if zoo.is_neural(name) else {}  # a closed-form model has neither
    cfg = zoo.config_for(name, over, ds.name)  # the dataset's shipped settings
    model = zoo.make(name, ds.n_users, ds.n_items, cfg=cfg, dataset=ds.name)
    t = time.perf_counter()
    history = fit_model(model, split.train, split)
    assert history.status == "done", history.message
    return model, history, cfg, time.perf_counter() - t


def refit_of(name: str, ds, split, model, history, cfg):
    """(the model trained again on train + validation for the epochs validation picked, the
    split with that training set, the seconds)."""
    train = split.train.concat(split.valid_rows)
    t = time.perf_counter()
    refitted, h = _refit(name, ds, model, history, cfg, train, None, (), None)
    assert h.status == "done", h.message
    return refitted, dataclasses.replace(split, train=train), time.perf_counter() - t


def fit_and_refit(name: str, ds, split, seed: int, sets: dict) -> tuple[dict, tuple, tuple]:
    """One seed: (its row, the fit's per-user figures, the refit's)."""
    model, history, cfg, fit_s = fitted(name, ds, split, seed, sets)
    refitted, refit_split, refit_s = refit_of(name, ds, split, model, history, cfg)
    model.read(split.valid_rows)  # as shipped: the held-out item scored after the validation item
    plain = per_user(model, split)
    refit = per_user(refitted, refit_split)
    row = {
        "model": name,
        "seed": seed,
        "epochs (best)": f"{len(history.epochs)} ({history.best_epoch})",
        "fit s / refit s": f"{fit_s:.0f} / {refit_s:.0f}",
        "fit NDCG@10 / HR@10": f"{plain[0]['NDCG@10']:.4f} / {plain[0]['HR@10']:.3f}",
        "refit NDCG@10 / HR@10": f"{refit[0]['NDCG@10']:.4f} / {refit[0]['HR@10']:.3f}",
    }
    return row, plain[1:], refit[1:]


def blend_and_refit(ds, split, seed: int, sets: dict) -> tuple[dict, tuple, tuple]:
    """One seed of the shipped blend: (its row, its per-user figures with the validated
    SASRec, with SASRec's refit in its place)."""
    cfg = zoo.config_for("blend", None, ds.name)
    parts = [fitted(name, ds, split, seed, sets) for name in cfg.components]
    blend = Blend(ds.n_users, ds.n_items, cfg, [p[0] for p in parts])
    grid = weight_grid(len(blend.names), cfg.step)
    found = _validate_weightings(blend, split, grid)
    blend.weights = grid[best_weighting(found)]
    at = list(cfg.components).index("sasrec")
    sasrec, history, scfg, _ = parts[at]
    refitted, refit_split, refit_s = refit_of("sasrec", ds, split, sasrec, history, scfg)
    blend.read(split.valid_rows)  # as a build scores its test: every component reads the validation item
    plain = per_user(blend, split)
    swapped = Blend(ds.n_users, ds.n_items, cfg, [refitted if i == at else p[0] for i, p in enumerate(parts)])
    swapped.weights, swapped.seen_ = blend.weights, blend.seen_
    refit = per_user(swapped, refit_split)
    row = {
        "model": "blend",
        "seed": seed,
        "epochs (best)": ", ".join(
            f"{n} {len(p[1].epochs)} ({p[1].best_epoch})" for n, p in zip(cfg.components, parts)
        ),
        "fit s / refit s": f"{sum(p[3] for p in parts):.0f} / {refit_s:.0f}",
        "fit NDCG@10 / HR@10": f"{plain[0]['NDCG@10']:.4f} / {plain[0]['HR@10']:.3f}",
        "refit NDCG@10 / HR@10": f"{refit[0]['NDCG@10']:.4f} / {refit[0]['HR@10']:.3f}",
        "weights": " / ".join(f"{w:.2f}" for w in blend.weights),
    }
    return row, plain[1:], refit[1:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--models", default="sasrec,gru4rec")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--set", action="append", default=[], help="K=V over the shipped settings")
    ap.add_argument("--blend", action="store_true", help="the shipped blend, with SASRec refit in it")
    args = ap.parse_args()
    threads = use_threads()
    sets = dict(kv.split("=", 1) for kv in args.set)
    ds, split = one_step_earlier(load_dataset(args.dataset))
    rows, tests = [], []
    for name in ["blend"] if args.blend else args.models.split(","):
        fits, refits = [], []
        for seed in (int(s) for s in args.seeds.split(",")):
            if args.blend:
                row, plain, refit = blend_and_refit(ds, split, seed, sets)
            else:
                row, plain, refit = fit_and_refit(name, ds, split, seed, sets)
            rows.append(row)
            fits.append(plain)
            refits.append(refit)
            print(table([row]), flush=True)
        for j, metric in enumerate(("NDCG@10", "HR@10")):
            t = paired_test(np.mean([r[j] for r in refits], 0), np.mean([f[j] for f in fits], 0))
            lo, hi = t["ci95"]
            tests.append(
                {
                    "model": name,
                    "metric": metric,
                    "fit": f"{t['mean_b']:.4f}",
                    "refit": f"{t['mean_a']:.4f}",
                    "refit - fit (95 % CI)": f"{t['diff']:+.4f} ({lo:+.4f} to {hi:+.4f})",
                    "p": f"{t['p_value']:.3f}",
                    "seeds": len(fits),
                }
            )
    print(f"\n{args.dataset} one step earlier (each user's test item removed), full ranking, {threads} thread(s)\n")
    print(table(rows))
    print()
    print(table(tests))


if __name__ == "__main__":
    main()

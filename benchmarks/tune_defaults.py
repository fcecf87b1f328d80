"""Validation-only tuning of the shipped defaults: a few points per model, picked on the
validation metric at the best epoch (NDCG@10 on the leave-one-out validation items, or
validation RMSE), never on test. Test figures are printed beside, for the README only.

    python benchmarks/tune_defaults.py [--dataset ml-100k] [--models ncf cdae ...]
    python benchmarks/tune_defaults.py --folds [--models autorec embnet]   # 5-fold, inner validation
    python benchmarks/tune_defaults.py --losses [--models mf ncf]          # BCE, BPR, sampled softmax
"""

from __future__ import annotations

import argparse
import itertools

from _common import table

from recsys_core.data import load_dataset
from recsys_core.evaluation.splits import loo_split
from recsys_core.runs import zoo
from recsys_core.runs.experiment import fit_and_evaluate
from recsys_core.training.loop import validate


def grid(**values) -> list[dict]:
    return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]


# The points tried per model, as overrides of the current shipped default (so {} is the
# default itself). NeuMF is picked among points that train in under BUDGET_S[model] seconds:
# the 15 s, with a margin for a slower machine. The earlier rounds ran before the
# recency option existed, so their points pin it off (NO_RECENCY).
NO_RECENCY = {"recency_half_life": 0.0}
OLD_NCF = {"pretrain": False, "schedule": "none", **NO_RECENCY}


# The AutoRec and embnet defaults before the fourth pass (the first rounds' points are
# relative to them).
OLD_AUTOREC = {"dropout": 0.8, "epochs": 60, "patience": 3, "average_half_life": 0.0}
OLD_EMBNET = {
    "dim": 50,
    "embedding_dropout": 0.02,
    "weight_decay": 1e-5,
    "epochs": 30,
    "patience": 3,
    "average_half_life": 0.0,
}


# MF before the fifth pass (its loss): BCE with 4 negatives
OLD_MF = {"loss": "bce", "n_negatives": 4}


def on(base: dict, points: list[dict]) -> list[dict]:
    """`points` as overrides of an earlier default `base` (each point wins over it)."""
    return [{**base, **p} for p in points]


def recency(*half_lives, **extra) -> list[dict]:
    return [{"recency_half_life": h, **extra} for h in half_lives]


POINTS = {
    "ncf": [
        {},
        *recency(0.0, 5, 20, 50, 100),
        *({"lr": 0.002}, {"restart_epochs": 4}, {"mf_dim": 64}),
        OLD_NCF,
        *on(OLD_NCF, grid(dropout=[0.0, 0.2], diversity_weight=[0.0, 0.1], n_negatives=[4, 8])[1:]),
        {**OLD_NCF, "schedule": "cosine-restarts"},
        {**OLD_NCF, "batch_size": 1024, "lr": 0.002},
        {**OLD_NCF, "mf_dim": 64, "layers": (128, 64, 32, 16)},
        *on(
            NO_RECENCY,
            [
                {"schedule": "none"},
                {"n_negatives": 8},
                {"schedule": "none", "batch_size": 1024, "lr": 0.002},
                *({"mf_dim": d} for d in (16, 64)),
                *({"lr": lr} for lr in (0.003, 0.01)),
                {"batch_size": 8192, "lr": 0.01},
                *({"restart_epochs": r} for r in (1, 4)),
                {"genre_features": True},
                {"dropout": 0.1},
                {"user_dropout": 0.05},
                {"weight_decay": 1e-6},
                {"weight_decay": 1e-5},
                {"n_negatives": 6},
            ],
        ),
    ],
    "mf": on(
        OLD_MF,
        [{}, *recency(20, 50), *on(NO_RECENCY, grid(dim=[128, 64], weight_decay=[1e-6, 1e-5], n_negatives=[4, 8]))],
    ),
    "ease": [{}, *recency(0.0, 10, 40)],
    "cdae": [
        {},
        *recency(2, 3, 10),
        {"hidden": 400},
        {"hidden": 800},
        *on(
            NO_RECENCY,
            [
                {},
                *({"hidden": h, "patience": 3} for h in (200, 400, 500, 600, 800)),
                {"hidden": 400, "corruption": 0.5, "patience": 3},
                {"hidden": 400, "lr": 0.002, "patience": 3},
                {"corruption": 0.1},
                {"corruption": 0.3},
                {"lr": 0.0005},
                {"lr": 0.0015},
                {"hidden": 1000},
                {"batch_size": 16},
                {"patience": 8},
                {"pos_weight": True},
            ],
        ),
    ],
    "autorec": [
        OLD_AUTOREC,
        *on(
            OLD_AUTOREC,
            [
                *grid(
                    item_based=[True, False],
                    layers=[(128,), (500,)],
                    dropout=[0.2, 0.6],
                    lr=[0.001],
                    weight_decay=[0.0],
                ),
                *(
                    {"item_based": True, "layers": (128,), "dropout": d, "lr": 0.001, "weight_decay": 0.0}
                    for d in (0.8, 0.9)
                ),
                *(
                    {"lr": 0.001, "weight_decay": 0.0, **p}
                    for p in (
                        {},
                        {"layers": (64, 64)},
                        {"layers": (128, 256, 256)},
                        {"layers": (256, 256)},
                        {"dropout": 0.7},
                        {"dropout": 0.85},
                        {"schedule": "cosine-restarts"},
                        {"batch_size": 64},
                        {"weight_decay": 1e-5},
                    )
                ),
                {"weight_decay": 0.0},
                {"lr": 0.0003, "weight_decay": 0.0},
                {"dropout": 0.85, "weight_decay": 0.0},
            ],
        ),
    ],
    "embnet": on(
        OLD_EMBNET,
        [
            *grid(dim=[50, 100], hidden=[(100,), (200, 100)], embedding_dropout=[0.02, 0.2]),
            *({"weight_decay": w} for w in (1e-4, 3e-4)),
            {"weight_decay": 1e-4, "embedding_dropout": 0.2},
            {"weight_decay": 1e-4, "schedule": "cosine-restarts"},
            {"schedule": "cosine-restarts"},
            {"lr": 0.001},
            {"dropouts": (0.5,)},
        ],
    ),
}
BUDGET_S = {"ncf": 10.0}

# Fifth pass (`--losses`): the loss (BCE, BPR or sampled softmax) and its number of
# negatives, for the models that have one. MF's points each with training seeds 0 and 1:
# the change they test is near the 0.01 rule. MF_SETTINGS: NeuMF trained as MF is.
MF_SETTINGS = {"mf_dim": 128, "batch_size": 2048, "lr": 0.003, "weight_decay": 1e-6}
LOSS_POINTS = {
    "mf": [
        {**p, "seed": s}
        for p in (
            OLD_MF,
            {"loss": "bpr", "n_negatives": 4},
            *({"n_negatives": n} for n in (4, 8)),
            {},
            {"n_negatives": 32},
        )
        for s in (0, 1)
    ],
    "ncf": [
        {},
        {"loss": "bpr"},
        {"loss": "softmax"},
        {"loss": "softmax", "n_negatives": 16},
        {"loss": "softmax", "n_negatives": 16, "pretrain": False},
        *({**MF_SETTINGS, "loss": "softmax", "n_negatives": n} for n in (8, 16)),
    ],
}

# Fourth pass (`--folds`): the rating models on the protocol of their target, 5-fold, each
# point judged by the folds' inner validation RMSE at the epochs it picked (mean of 5).
# Patience, the encoder dropout, and the moving average of the weights (`average_half_life`).
FOLD_POINTS = {
    "autorec": [
        {},
        OLD_AUTOREC,
        *on(OLD_AUTOREC, [{"patience": 6}, {"patience": 10}, {"patience": 15, "epochs": 100}]),
        *({"average_half_life": 0.0, "dropout": d} for d in (0.75, 0.8, 0.85, 0.9)),
        *({"average_half_life": 0.0, **p} for p in ({"lr": 0.001}, {"weight_decay": 3e-5})),
        {"average_half_life": 0.0, "dropout": 0.85, "layers": (256, 256)},
        {"average_half_life": 0.0, "schedule": "cosine-restarts", "restart_epochs": 4, "lr": 0.001},
        *({"average_half_life": h} for h in (1.0, 3.0, 6.0)),
        {"average_half_life": 20.0, "epochs": 150},
        {"average_half_life": 2.0, "dropout": 0.8},
    ],
    "embnet": [
        {},
        *on(
            OLD_EMBNET,
            [
                {},
                {"patience": 10},
                *({"patience": 10, "average_half_life": h} for h in (1.0, 3.0, 6.0)),
                *(
                    {"patience": 10, "average_half_life": 3.0, **p}
                    for p in (
                        {"embedding_dropout": 0.2},
                        {"dropouts": (0.5,)},
                        {"lr": 0.001},
                        {"weight_decay": 5e-5},
                        *grid(weight_decay=[5e-5, 1e-4], embedding_dropout=[0.2]),
                        {"weight_decay": 1e-4, "embedding_dropout": 0.2, "dropouts": (0.5,)},
                        {"weight_decay": 5e-5, "dim": 100},
                        {"weight_decay": 2e-4, "embedding_dropout": 0.3},
                        {"weight_decay": 2e-4, "embedding_dropout": 0.3, "dim": 100},
                        {"weight_decay": 4e-4, "embedding_dropout": 0.4},
                        {"weight_decay": 1e-3, "embedding_dropout": 0.3},
                        *grid(weight_decay=[4e-4, 1e-3, 2e-3], embedding_dropout=[0.4], epochs=[80]),
                        {"weight_decay": 1e-3, "embedding_dropout": 0.5, "dropouts": (0.4,), "epochs": 80},
                    )
                ),
                *(
                    {"patience": 10, "average_half_life": 6.0, **p}
                    for p in (
                        {"weight_decay": 1e-4, "embedding_dropout": 0.2},
                        {"weight_decay": 1e-3, "embedding_dropout": 0.4, "epochs": 80},
                    )
                ),
                {
                    "patience": 10,
                    "schedule": "cosine-restarts",
                    "batch_size": 2000,
                    "lr": 0.001,
                    "epochs": 100,
                },  # seed 003
            ],
        ),
        # after the fourth pass, around its pick: the hidden layers, batch, half-life, size
        {"hidden": (200,), "dropouts": (0.3,)},
        {"hidden": (200,), "dropouts": (0.5,)},
        {"hidden": (100, 50), "dropouts": (0.2, 0.2)},
        {"batch_size": 512, "lr": 0.002},
        {"average_half_life": 2.0},
        {"dim": 150, "embedding_dropout": 0.5},
    ],
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
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--folds", action="store_true", help="the rating models over 5 folds (FOLD_POINTS)")
    ap.add_argument("--losses", action="store_true", help="the losses of MF and NeuMF (LOSS_POINTS)")
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    points = FOLD_POINTS if a.folds else LOSS_POINTS if a.losses else POINTS
    for model in a.models or list(points):
        rating = zoo.entry(model).task == "rating"
        protocol, monitor = ("ratings", "RMSE") if rating else ("loo-uniform", "NDCG@10")
        protocol = "ratings-5fold" if a.folds else protocol
        rows = []
        for ov in points[model]:
            res = fit_and_evaluate(model, ds, [protocol], overrides=ov)
            test = res.metrics.get(protocol, {})
            valid = test.get("valid_RMSE") if a.folds else best_epoch_metric(res.history, monitor)
            if valid is None and not rating and res.recommender is not None:  # closed form: no epochs
                valid = validate(res.recommender, loo_split(ds)).get(monitor)
            rows.append(
                {
                    "overrides of the default": ", ".join(f"{k}={v}" for k, v in ov.items()) or "(the default)",
                    f"valid {monitor}": valid,
                    **({} if a.folds else {"epochs": len(res.history.epochs)}),
                    "test HR@10" if not rating else "test RMSE": test.get("RMSE" if rating else "HR@10"),
                    "test NDCG@10" if not rating else "test MAE": test.get("MAE" if rating else "NDCG@10"),
                    "s": round(sum(v for k, v in res.seconds.items() if k.startswith("fit")), 1),
                }
            )
        key = f"valid {monitor}"
        ok = [r for r in rows if r[key] is not None and r["s"] <= BUDGET_S.get(model, float("inf"))]
        pick = (min if rating else max)(ok, key=lambda r: r[key])
        for r in rows:
            r[""] = "<- picked on validation" if r is pick else ""
            for c, v in r.items():
                if isinstance(v, float) and c != "s":
                    r[c] = f"{v:.4f}"
        budget = f", picked among runs under {BUDGET_S[model]:g} s" if model in BUDGET_S else ""
        print(f"\n{model} on {a.dataset}, {protocol}{budget}")
        print(table(rows))


if __name__ == "__main__":
    main()

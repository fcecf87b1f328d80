"""How the tie rule for equal timestamps moves leave-one-out figures, and our models on the
split the README's peers were measured on.

In ml-100k users rate in bursts: 44 % of users have several ratings at their latest second,
so "hold out the latest interaction" needs a rule for ties. Rules compared here (same data,
same models and defaults, 99 uniform negatives drawn with the same seed):

- hash: a fixed hash of (user, item), ours (recsys_core/data/dataset.py);
- file: the order of the rows in ml-100k.inter, which is RecBole 1.2.1's split (it
  min-max-normalises the float timestamp, keeps it as float32, stable-sorts on it and
  groups by user, so ties, and ratings a second or two apart, keep file order);
- item-asc / item-desc: by movie id, the two extremes.

Closed-form models run under every rule; the neural ones (slower) under hash and file.
HR@10 has a standard error of about 0.015 with 943 users: smaller gaps are noise.

    python benchmarks/bench_tie_order.py [--models popularity,ease,mf,ncf,cdae]
"""

from __future__ import annotations

import argparse
import copy
import math

import numpy as np
import pandas as pd
from _common import table

from recsys_core.data import load_dataset
from recsys_core.evaluation import splits
from recsys_core.evaluation.scoring import evaluate_many
from recsys_core.paths import data_dir
from recsys_core.runs import zoo
from recsys_core.training.fitting import fit_model

RULES = ("hash", "file", "item-asc", "item-desc")
NEURAL_RULES = ("hash", "file")
PEERS = {  # RecBole 1.2.1 on ml-100k, its own (file-order) split, loo with 99 uniform negatives
    "ncf": "NeuMF 0.660 / 0.386",
    "cdae": "CDAE 0.613 / 0.339",
    "mf": "BPR-MF 0.620 / 0.351",
}


def reordered(ds, rule: str):
    """A copy of `ds` whose rows are sorted by user, then time, ties broken by `rule`
    (leave-one-out takes each user's last two rows)."""
    if rule == "hash":
        return ds
    path = data_dir() / ds.name / f"{ds.name}.inter"
    raw = pd.read_csv(path, sep="\t")
    raw.columns = ["user_id", "item_id", "rating", "timestamp"]
    user = pd.Index(ds.users["user_id"].astype(str)).get_indexer(raw["user_id"].astype(str))
    item = pd.Index(ds.items["item_id"].astype(str)).get_indexer(raw["item_id"].astype(str))
    ts = raw["timestamp"].to_numpy(np.float64)
    if rule == "file":
        key = ((ts - ts.min()) / (ts.max() - ts.min())).astype(np.float32)
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((item if rule == "item-asc" else -item, ts))
    order = order[np.argsort(user[order], kind="stable")]
    out = copy.copy(ds)
    out.ratings = pd.DataFrame(
        {
            "user": user[order].astype(np.int32),
            "item": item[order].astype(np.int32),
            "rating": raw["rating"].to_numpy(np.float32)[order],
            "timestamp": raw["timestamp"].to_numpy(np.int64)[order],
        }
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--models", default="popularity,ease,mf,ncf,cdae")
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    feats = ds.genre_matrix if ds.has_genres else None
    found = {}
    base = splits.loo_split(ds)
    moved = {}
    for rule in RULES:
        split = base if rule == "hash" else splits.loo_split(reordered(ds, rule), use_cache=False)
        moved[rule] = float((split.test_items != base.test_items).mean())
        for name in a.models.split(","):
            if zoo.is_neural(name) and rule not in NEURAL_RULES:
                continue
            model = zoo.make(name, ds.n_users, ds.n_items, item_features=feats)
            fit_model(model, split.train, split)
            m = evaluate_many(model, split, ["loo-uniform"])[0]["loo-uniform"]
            found[name, rule] = f"{m['HR@10']:.3f} / {m['NDCG@10']:.3f}"
            print(f"{name:10s} {rule:9s} {found[name, rule]}", flush=True)
    n = len(base.eval_users)
    print(f"\n{a.dataset}, loo-uniform, HR@10 / NDCG@10 (HR@10 standard error ~{math.sqrt(0.25 / n):.3f})")
    rows = [{"tie rule": "test items unlike ours", **{r: f"{moved[r]:.0%}" for r in RULES}, "RecBole 1.2.1": ""}]
    for name in a.models.split(","):
        rows.append(
            {"tie rule": name, **{r: found.get((name, r), "-") for r in RULES}, "RecBole 1.2.1": PEERS.get(name, "")}
        )
    print(table(rows))


if __name__ == "__main__":
    main()

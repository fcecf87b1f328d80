"""How long the shipped sequential models take to train on 2 CPU threads, against the
budgets of issue 29 (ml-100k under 60 s, ml-1m under 15 minutes), and what they reach under
full ranking (leave-one-out, every item the user has not interacted with).

Each model is trained with its shipped default on the dataset (`catalog.config_for(name,
dataset=...)`), from scratch, in this process, with torch's threads set to `--threads`; the
figure is the fit alone (the validation passes included), then the test evaluation. One run
a model: the machine's speed varies during a day (docs/benchmarks.md, "Under load"), so the
ratio to the budget is the figure to read, and the same command gives it again.

`--set KEY=VALUE` (repeatable) trains every model with that setting over its shipped default
(`--set amp=off`: full precision where the default is bf16), and `--seed` another seed.

    python benchmarks/bench_seq_training.py [--datasets ml-100k,ml-1m] [--models sasrec,gru4rec,bert4rec]
        [--set KEY=VALUE ...] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import time

from _common import table

BUDGET = {"ml-100k": 60.0, "ml-1m": 900.0}  # seconds of training on 2 CPU cores (issue 29)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="ml-100k,ml-1m")
    ap.add_argument("--models", default="sasrec,gru4rec,bert4rec")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting over the default")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    os.environ["RECSYS_THREADS"] = str(args.threads)
    from recsys_core.data import load_dataset
    from recsys_core.runs import zoo
    from recsys_core.runs.experiment import fit_and_evaluate

    rows = []
    for dsname in args.datasets.split(","):
        ds = load_dataset(dsname)
        for name in args.models.split(","):
            over = dict(kv.split("=", 1) for kv in args.set)
            if args.seed is not None:
                over["seed"] = args.seed
            cfg = zoo.config_for(name, over, dataset=ds.name)
            t = time.perf_counter()
            res = fit_and_evaluate(name, ds, ["full"], cfg=cfg)
            wall = time.perf_counter() - t
            fit = res.seconds["fit"]
            m = res.metrics["full"]
            budget = BUDGET.get(dsname)
            rows.append(
                {
                    "dataset": dsname,
                    "model": name,
                    "max_len": cfg.max_len,
                    "amp": cfg.amp,
                    "seed": cfg.seed,
                    "epochs (best)": f"{len(res.history.epochs)} ({res.history.best_epoch})",
                    "fit s": f"{fit:.0f}",
                    "budget s": f"{budget:.0f}" if budget else "",
                    "fit / budget": f"{fit / budget:.2f}" if budget else "",
                    "full HR@10": f"{m['HR@10']:.3f}",
                    "full NDCG@10": f"{m['NDCG@10']:.3f}",
                    "wall s": f"{wall:.0f}",
                }
            )
            print(rows[-1], flush=True)
    settings = ", ".join(args.set) or "shipped defaults per dataset"
    print(f"\n{args.threads} torch threads, leave-one-out, full ranking, {settings}\n")
    print(table(rows))


if __name__ == "__main__":
    main()

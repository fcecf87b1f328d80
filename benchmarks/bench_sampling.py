"""Training negatives: 4 per interaction of ml-1m (1,000,209 rows), vectorised against a
naive per-user Python loop like seed 002's. Target: < 1 s and >= 50x.
    python benchmarks/bench_sampling.py [--dataset ml-1m]
"""

import argparse
import time

import numpy as np
import torch
from _common import best_of, table

from recsys_core.data import load_dataset
from recsys_core.data.interactions import interactions
from recsys_core.training.sampling import NegativeSampler


def naive(train, n: int, seed: int = 0) -> list:
    """Seed 002's loop: for each interaction draw n items, redraw while the user saw it."""
    rng = np.random.default_rng(seed)
    seen = {}
    for u, i in zip(train.users.tolist(), train.items.tolist()):
        seen.setdefault(u, set()).add(i)
    out = []
    for u in train.users.tolist():
        user_seen = seen[u]
        for _ in range(n):
            j = int(rng.integers(train.n_items))
            while j in user_seen:
                j = int(rng.integers(train.n_items))
            out.append(j)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--negatives", type=int, default=4)
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    train = interactions(ds)
    users = torch.as_tensor(train.users)
    rows = []
    for kind in ("uniform", "popularity", "inverse-popularity"):
        sampler = NegativeSampler(train, kind)
        g = torch.Generator().manual_seed(0)
        t = best_of(lambda s=sampler, g=g: s.sample(users, args.negatives, g), 3)
        rows.append({"sampler": kind, "seconds": f"{t:.3f}"})
    t0 = time.perf_counter()
    naive(train, args.negatives)
    t_naive = time.perf_counter() - t0
    t_uniform = float(rows[0]["seconds"])
    print(
        f"{args.dataset}: {len(train):,} interactions x {args.negatives} negatives, torch threads {torch.get_num_threads()}"
    )
    rows.append({"sampler": "naive Python loop (uniform)", "seconds": f"{t_naive:.2f}"})
    print(table(rows))
    print(f"speed-up of vectorised uniform over the naive loop: {t_naive / t_uniform:.0f}x")


if __name__ == "__main__":
    main()

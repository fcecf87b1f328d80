"""A training step of SASRec and GRU4Rec (shipped defaults: max_len 50, batch 128, full
softmax) on ml-100k and ml-1m, against the plain version measured in the same run:
`F.cross_entropy(h @ w.T, t)` over every item and `nn.Dropout`. Ours: the full softmax in
cache-sized chunks with its gradients in one pass (`losses.full_softmax_loss`) and
dropout masks drawn as 16-bit integers (`models.dropout.Dropout`, as `models.sequential` uses it). Same seed, same batches;
prints ms per step, the epoch it makes and the ratio, then the two parts alone. On a CPU with
bf16 instructions (AVX512-BF16, AMX) a third arm: ours under the CPU's bf16 autocast, as
`amp="bf16"` trains (the products in bf16, the softmax in float32).

    python benchmarks/bench_sequential.py [--datasets ml-100k,ml-1m] [--steps 30]
"""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import torch
from _common import best_of, table
from torch import nn
from torch.nn import functional as F

from recsys_core.data import load_dataset
from recsys_core.evaluation.splits import loo_split
from recsys_core.models import sequential
from recsys_core.runs import zoo
from recsys_core.training import objectives, sequences
from recsys_core.training.devices import cpu_bf16, use_threads


@contextmanager
def plain():
    """The loss and dropout as torch spells them."""
    loss, drop = sequences.full_softmax_loss, sequential.Dropout
    sequences.full_softmax_loss = lambda h, w, t: F.cross_entropy(h @ w.T, t)
    sequential.Dropout = nn.Dropout
    try:
        yield
    finally:
        sequences.full_softmax_loss, sequential.Dropout = loss, drop


def training_setup(name: str, ds, split, cfg=None):
    """A seeded model of `name` (at `cfg`, else its shipped default) in training mode on
    `split`'s training part: the model, its objective, Adam, and one epoch's batches."""
    cfg = cfg or zoo.config_for(name)
    torch.manual_seed(0)
    model = zoo.make(name, ds.n_users, ds.n_items, cfg=cfg)
    model.prepare(split.train)
    obj = objectives.OBJECTIVES[model.objective]()
    obj.setup(model, split.train, cfg, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    batches = list(obj.epoch_batches())
    model.train()
    return model, obj, opt, batches


def step_time(name: str, ds, split, steps: int, bf16: bool = False, cfg=None) -> tuple[float, int]:
    """Seconds per training step (after three warm-up steps) and the steps of an epoch, at `cfg`
    (else the shipped default); `bf16`: under the CPU's bf16 autocast, as the training loop runs
    `amp="bf16"` there."""
    _, obj, opt, batches = training_setup(name, ds, split, cfg)

    def run(bs):
        for b in bs:
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = obj.loss(b)
            loss.backward()
            opt.step()

    timed = batches[3 : 3 + steps]
    if len(timed) < steps:
        raise SystemExit(f"an epoch of {name} has {len(batches)} steps, 3 of them warm-up: ask for fewer --steps")
    run(batches[:3])
    t = time.perf_counter()
    run(timed)
    return (time.perf_counter() - t) / len(timed), len(batches)


def compare(what: str, naive, ours) -> dict:
    a, b = best_of(lambda: [naive() for _ in range(10)]) / 10, best_of(lambda: [ours() for _ in range(10)]) / 10
    return {"part": what, "plain ms": f"{a * 1e3:.1f}", "ours ms": f"{b * 1e3:.1f}", "ratio": f"{a / b:.2f}x"}


def bf16_softmax(h, w, t) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = sequences.full_softmax_loss(h, w, t)
    loss.backward()


def softmax_part(n_items: int, rows: int = 6400, hidden: int = 64, bf16: bool = False) -> dict:
    """A batch's loss: 128 users x 50 positions, less the first items and padding."""
    g = torch.Generator().manual_seed(0)
    h = torch.randn(rows, hidden, generator=g, requires_grad=True)
    w = torch.randn(n_items, hidden, generator=g, requires_grad=True)
    t = torch.randint(0, n_items, (rows,), generator=g)
    if bf16:
        return compare(
            f"full softmax, {rows} positions x {n_items} items: ours against ours in bf16",
            lambda: sequences.full_softmax_loss(h, w, t).backward(),
            lambda: bf16_softmax(h, w, t),
        )
    return compare(
        f"full softmax, {rows} positions x {n_items} items, forward + backward",
        lambda: F.cross_entropy(h @ w.T, t).backward(),
        lambda: sequences.full_softmax_loss(h, w, t).backward(),
    )


def dropout_part(hidden: int = 64) -> dict:
    x = torch.randn(128, 50, hidden, generator=torch.Generator().manual_seed(0), requires_grad=True)
    return compare(
        f"dropout 0.2 of [128, 50, {hidden}], forward + backward",
        lambda: F.dropout(x, 0.2, True).sum().backward(),
        lambda: sequential.Dropout(0.2)(x).sum().backward(),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="ml-100k,ml-1m")
    ap.add_argument("--models", default="sasrec,gru4rec")
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    threads = use_threads()
    low = cpu_bf16()
    rows, sizes = [], []
    for dsname in args.datasets.split(","):
        ds = load_dataset(dsname)
        split = loo_split(ds, seed=0)
        sizes.append(ds.n_items)
        for name in args.models.split(","):
            with plain():
                a, n = step_time(name, ds, split, args.steps)
            b, _ = step_time(name, ds, split, args.steps)
            c = step_time(name, ds, split, args.steps, bf16=True)[0] if low else None
            rows.append(
                {
                    "dataset": dsname,
                    "model": name,
                    "steps/epoch": n,
                    "plain ms/step": f"{a * 1e3:.0f}",
                    "ours ms/step": f"{b * 1e3:.0f}",
                    "plain s/epoch": f"{a * n:.1f}",
                    "ours s/epoch": f"{b * n:.1f}",
                    "ratio": f"{a / b:.2f}x",
                    "ours bf16 ms/step": f"{c * 1e3:.0f}" if c else "no bf16 instructions",
                    "bf16 ratio": f"{b / c:.2f}x" if c else "",
                }
            )
    print(f"torch {torch.__version__}, {threads} CPU threads, {args.steps} steps timed after 3 warm-up steps\n")
    print(table(rows))
    print()
    parts = [softmax_part(n) for n in sizes] + [softmax_part(n, bf16=True) for n in sizes if low]
    print(table(parts + [dropout_part()]))


if __name__ == "__main__":
    main()

"""Where a sequential model's training epoch goes, part by part, as the training loop runs it:
each step's forward pass with the loss (the chunked full softmax computes both factors'
gradients here), backward pass, optimiser (`loop._optimizer`: Adam, one tensor at a time) and
moving average of the weights (`loop.WeightAverage`), then the epoch's validation pass (the
validation loss and the full-ranking figures, `loop.validate`, on the averaged weights), at
each dataset's shipped settings and under the autocast and the OpenMP wait policy the loop
would use on this CPU. It says whether anything besides the network's products is worth
cutting. Threads: `RECSYS_THREADS` (default one a core), as a fit takes them.

    python benchmarks/bench_step_parts.py [--runs ml-100k:gru4rec,ml-100k:sasrec,ml-1m:sasrec,ml-1m:gru4rec]
                                          [--steps 60]
"""

from __future__ import annotations

import argparse
import contextlib
import time

# isort: off
from _common import table  # puts the checkout on sys.path
import recsys_core  # before torch, so its OpenMP threads wait as the project's trainings do (recsys_core/__init__.py)
import torch

# isort: on
from bench_sequential import training_setup

from recsys_core.data import load_dataset
from recsys_core.errors import DataError
from recsys_core.evaluation.splits import loo_split
from recsys_core.runs import catalog
from recsys_core.training.devices import amp_dtype, use_threads
from recsys_core.training.loop import WeightAverage, _optimizer, validate

PARTS = ("forward and loss", "backward", "optimiser", "weight average")


def part_seconds(name: str, ds, split, steps: int) -> tuple[dict[str, float], float, int, object]:
    """Mean seconds of each of `PARTS` over `steps` steps (after three warm-up ones), the
    seconds of one validation pass after them, the steps of an epoch, and the config."""
    cfg = catalog.config_for(name, dataset=ds.name)
    model, obj, _, batches = training_setup(name, ds, split, cfg)
    opt = _optimizer(model, cfg)
    average = WeightAverage(model, 1.0, len(batches))
    half = amp_dtype(cfg, torch.device("cpu"))
    autocast = (lambda: torch.autocast("cpu", dtype=half)) if half is not None else contextlib.nullcontext
    spent = dict.fromkeys(PARTS, 0.0)
    for i in range(3 + steps):  # an epoch's batches over again where it has fewer steps (ml-100k's SASRec: 19)
        batch = batches[i % len(batches)]
        marks = [time.perf_counter()]
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = obj.loss(batch)
        marks.append(time.perf_counter())
        loss.backward()
        marks.append(time.perf_counter())
        opt.step()
        marks.append(time.perf_counter())
        average.update()
        marks.append(time.perf_counter())
        if i >= 3:
            for part, a, b in zip(PARTS, marks, marks[1:]):
                spent[part] += b - a
    model.eval()
    t = time.perf_counter()
    with average.applied(), model.frozen():  # as the loop validates: the user states computed once
        obj.valid_loss(split)
        validate(model, split, cfg.validate_on)
    return {p: s / steps for p, s in spent.items()}, time.perf_counter() - t, len(batches), cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="ml-100k:gru4rec,ml-100k:sasrec,ml-1m:sasrec,ml-1m:gru4rec")
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    runs = [r.split(":") for r in args.runs.split(",")]
    if args.steps < 1 or any(len(r) != 2 or r[1] not in ("sasrec", "gru4rec", "bert4rec") for r in runs):
        ap.error(
            "--runs: DATASET:MODEL pairs, comma-separated, MODEL one of sasrec, gru4rec, bert4rec; --steps: 1 or more"
        )
    threads = use_threads()
    rows, loaded = [], {}
    for dataset, name in runs:
        if dataset not in loaded:
            try:
                ds = load_dataset(dataset)
            except DataError as e:
                raise SystemExit(f"bench_step_parts: {e}") from None
            loaded[dataset] = (ds, loo_split(ds, seed=0))
        parts, valid, n, cfg = part_seconds(name, *loaded[dataset], args.steps)
        whole = sum(parts.values())
        epoch = whole * n + valid
        rows.append(
            {"dataset": dataset, "model": name, "batch": cfg.batch_size, "step ms": f"{whole * 1e3:.1f}"}
            | {f"{p} ms": f"{s * 1e3:.2f} ({s / whole:.0%})" for p, s in parts.items()}
            | {
                "steps/epoch": n,
                "validation s": f"{valid:.2f} ({valid / epoch:.0%} of the epoch)",
                "epoch s": f"{epoch:.1f}",
            }
        )
    print(
        f"torch {torch.__version__}, {threads} CPU threads, OpenMP waits: {recsys_core.WAIT_POLICY}; each model at"
        f" the dataset's shipped settings, under the autocast the training loop uses here; {args.steps} steps timed"
        " after 3 warm-up steps, then one"
        " validation pass; the epoch: steps/epoch x step + validation\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()

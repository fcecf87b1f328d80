"""What an epoch of a sequential model costs at other batch sizes, at one dataset's shipped
settings: the whole training step (embedding, network, full softmax, Adam) timed at each
batch size on the same seeded batches (`bench_sequential.step_time`), times the steps of an
epoch at that size, against the shipped batch size. Measured in one run, in turns (each size
timed `--rounds` times, round robin, the best kept), so the host's speed drifts across the
sizes alike. What the batch
size does to learning is a matter for validation (docs/results.md), not for this script.

    python benchmarks/bench_batch_size.py [--dataset ml-1m] [--model gru4rec] [--batch 128,256,512]
                                          [--steps 12] [--rounds 2]
"""

from __future__ import annotations

import argparse

import torch
from _common import table
from bench_sequential import step_time

from recsys_core.data import load_dataset
from recsys_core.evaluation.splits import loo_split
from recsys_core.runs import catalog
from recsys_core.training.devices import amp_dtype, use_threads


def step_seconds(model: str, ds, split, batch: int, steps: int) -> tuple[float, int]:
    """Seconds per whole training step at `batch` and the steps of an epoch, for `model` at
    `ds`'s shipped settings but for the batch size, under the autocast the training loop would
    use on this CPU (SASRec's bf16 where the CPU has it)."""
    cfg = catalog.config_for(model, {"batch_size": batch}, dataset=ds.name)
    return step_time(model, ds, split, steps, bf16=amp_dtype(cfg, torch.device("cpu")) is not None, cfg=cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--model", default="gru4rec", choices=["gru4rec", "sasrec"])
    ap.add_argument("--batch", default="128,256,512", help="batch sizes, the first the one compared against")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2, help="times each size is timed, in turns; the best kept")
    args = ap.parse_args()
    threads = use_threads()
    ds = load_dataset(args.dataset)
    split = loo_split(ds, seed=0)
    sizes = [int(v) for v in args.batch.split(",")]
    best: dict[int, tuple[float, int]] = {}
    for _ in range(args.rounds):
        for b in sizes:
            s, n = step_seconds(args.model, ds, split, b, args.steps)
            best[b] = min(best.get(b, (s, n)), (s, n))
    first = best[sizes[0]][0] * best[sizes[0]][1]
    rows = [
        {
            "batch": b,
            "step ms": f"{s * 1e3:.0f}",
            "steps/epoch": n,
            "training s/epoch": f"{s * n:.1f}",
            "epoch against the first": f"{s * n / first:.2f}x",
        }
        for b, (s, n) in ((b, best[b]) for b in sizes)
    ]
    cfg = catalog.config_for(args.model, dataset=args.dataset)
    print(
        f"torch {torch.__version__}, {threads} CPU threads; {args.model} on {args.dataset} at its shipped"
        f" settings (hidden {cfg.hidden}, max_len {cfg.max_len}, loss {cfg.loss}, amp {cfg.amp}) but the batch size;"
        f" {args.steps} steps timed after 3 warm-up steps, best of {args.rounds} rounds; validation not included\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()

"""What overlapping training windows cost a sequential model's epoch.

A user's history is cut into windows of max_len + 1 items. By default their ends lie max_len
apart (they overlap by one), so a target near a window's start is predicted from few items.
With `stride=s` the ends lie s apart and each window counts only its last s targets: every
target is still predicted once an epoch, after at least max_len - s items of its history,
and the model reads max_len / s times as many windows. The full softmax costs the same (the
same targets); the encoder's share grows. With `context_grad=false` GRU4Rec reads each
window's context without gradients (truncated back-propagation through time), so only the
counted positions are trained through.

Each arm (`--arms`, a stride, `ng` for no gradients through the context) trains at the
dataset's shipped settings (`catalog.TUNED`, bf16 where the config asks and the CPU has it)
on the leave-one-out training split; the arms take turns, each timing its first `--steps`
steps (all of an epoch where fewer), best of `--rounds`, scaled to a whole epoch:

    python benchmarks/bench_strides.py --dataset ml-100k --model gru4rec --arms 0,25,10,5,5ng,10ng
    python benchmarks/bench_strides.py --dataset ml-1m --model gru4rec --arms 0,25 --steps 40 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import time

import bench_long_sequences
from _common import table
from bench_long_sequences import _step


def _arm(spec: str) -> dict:
    no_grad = spec.endswith("ng")
    stride = int(spec[:-2] if no_grad else spec)
    return {"stride": stride, "context_grad": not no_grad} if stride else {}


def _setup(dataset: str, model_name: str, overrides: dict, threads: int):
    import torch

    from recsys_core.training.devices import cpu_bf16

    model, obj, opt, batches = bench_long_sequences._setup(
        model_name, None, threads, dataset=dataset, overrides=overrides
    )
    half = model.cfg.amp == "bf16" and cpu_bf16()
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if half else contextlib.nullcontext
    return obj, opt, batches, autocast


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--model", default="gru4rec")
    ap.add_argument("--arms", default="0,25,10,5,5ng,10ng", help="strides; `ng`: no gradients through the context")
    ap.add_argument("--steps", type=int, default=10_000, help="steps each arm times (scaled to its epoch)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    arms = {a: _setup(args.dataset, args.model, _arm(a), args.threads) for a in args.arms.split(",")}
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (obj, opt, batches, autocast) in arms.items():
            timed = batches[1 : 1 + args.steps]
            with autocast():
                _step(obj, opt, batches[0])  # warm-up
                t = time.perf_counter()
                for b in timed:
                    _step(obj, opt, b)
            per_epoch = (time.perf_counter() - t) / len(timed) * len(batches)
            best[name] = min(best.get(name, float("inf")), per_epoch)
            print(f"{name}: {per_epoch:.1f} s an epoch", flush=True)
    base = best.get("0")
    rows = [
        {
            "arm": name,
            "windows": f"{len(obj.seqs):,}",
            "steps/epoch": len(batches),
            "s/epoch": f"{best[name]:.1f}",
            "against stride 0": f"{best[name] / base:.2f}x" if base else "",
        }
        for name, (obj, opt, batches, _) in arms.items()
    ]
    print(
        f"\n{args.dataset}, {args.model} at its shipped settings, leave-one-out training split, {args.threads} torch"
        f" threads; up to {args.steps} steps an arm scaled to its epoch, the arms taking turns, best of {args.rounds}\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()

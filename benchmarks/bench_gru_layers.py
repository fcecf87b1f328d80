"""Where a GRU4Rec training step goes at one dataset's shipped settings, with one GRU layer
and with more: the whole step (embedding, recurrence, output layer, full softmax, Adam) and
the recurrence alone (the GRU's forward and backward over a batch of embedded sequences).
Same seed, same batches, measured in one run, so the ratio against one layer is the cost of
the extra layers. `--amp off,bf16` times each in float32 and under the CPU's bf16 autocast (as
the training loop runs `amp="bf16"`), so the ratio is also what mixed precision gives;
`bf16-softmax` runs only the full softmax in bf16 (`amp="bf16-softmax"`, the GRU in float32).

    python benchmarks/bench_gru_layers.py [--dataset ml-1m] [--layers 1,2] [--amp off,bf16-softmax] [--steps 20]
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import table
from bench_sequential import training_setup

from recsys_core.data import load_dataset
from recsys_core.evaluation.splits import loo_split
from recsys_core.runs import catalog
from recsys_core.training.devices import cpu_bf16, use_threads


def step_times(ds, split, layers: int, steps: int, amp: str = "off") -> tuple[float, float, int]:
    """Seconds per whole training step and per recurrence (forward + backward), both after
    three warm-up steps, and the steps of an epoch, for GRU4Rec at `ds`'s shipped settings
    with `layers` GRU layers, under `amp` (off, or bf16: the CPU's bf16 autocast)."""
    cfg = catalog.config_for("gru4rec", {"layers": layers, "amp": amp}, dataset=ds.name)
    model, obj, opt, batches = training_setup("gru4rec", ds, split, cfg)
    half = amp == "bf16"

    def whole(b):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=half):
            loss = obj.loss(b)
        loss.backward()
        opt.step()

    x = model.item_emb(torch.randint(1, ds.n_items + 1, (cfg.batch_size, cfg.max_len))).detach()

    def recurrence(_):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=half):
            states, _ = model.gru(x)
        states.float().sum().backward()

    out = []
    for fn in (whole, recurrence):
        for b in batches[:3]:
            fn(b)
        t = time.perf_counter()
        for b in batches[3 : 3 + steps]:
            fn(b)
        out.append((time.perf_counter() - t) / len(batches[3 : 3 + steps]))
    return out[0], out[1], len(batches)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--layers", default="1,2")
    ap.add_argument(
        "--amp", default="off", help="off, bf16, bf16-softmax, or several: off,bf16-softmax (bf16 needs a CPU with it)"
    )
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    threads = use_threads()
    amps = args.amp.split(",")
    if any(a.startswith("bf16") for a in amps) and not cpu_bf16():
        raise SystemExit("this CPU has no bf16 instructions (AVX512-BF16 or AMX): --amp off only")
    ds = load_dataset(args.dataset)
    split = loo_split(ds, seed=0)
    rows, first = [], None
    for layers, amp in ((int(v), a) for v in args.layers.split(",") for a in amps):
        whole, rec, n = step_times(ds, split, layers, args.steps, amp)
        first = first or whole
        rows.append(
            {
                "layers": layers,
                "amp": amp,
                "whole step ms": f"{whole * 1e3:.0f}",
                "recurrence ms": f"{rec * 1e3:.0f}",
                "recurrence share": f"{rec / whole:.0%}",
                "steps/epoch": n,
                "training s/epoch": f"{whole * n:.1f}",
                "against the first": f"{whole / first:.2f}x",
            }
        )
    cfg = catalog.config_for("gru4rec", dataset=args.dataset)
    print(
        f"torch {torch.__version__}, {threads} CPU threads; GRU4Rec on {args.dataset} at its shipped settings"
        f" (hidden {cfg.hidden}, max_len {cfg.max_len}, batch {cfg.batch_size}, loss {cfg.loss}),"
        f" {args.steps} steps timed after 3 warm-up steps; validation not included\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()

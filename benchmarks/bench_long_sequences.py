"""What a training step of the sequential models costs as the history they read grows, and
where an epoch goes.

`steps`: SASRec, BERT4Rec and GRU4Rec on ml-1m's leave-one-out training split (the shipped
settings: hidden 64, batch 128 windows, full softmax over the 3,706 movies), for each
`max_len`: ms per step (forward, backward, Adam), steps an epoch and the epoch they make,
and the peak memory of a process that does only that (its max RSS, one child process a
cell, so one cell's peak never hides another's). Attention costs grow with the square of
the length, the rest with the length; the epoch's positions are the same at every length
(each interaction but a user's first is a target once), so a longer window means fewer,
larger steps.

`profile`: torch's profiler over a few steps of one model and length, its operators
grouped by what they belong to (the full softmax, attention, linear layers, layer norms,
dropout, embeddings, the optimiser, the rest): where an epoch goes.

`dropout`: the attention weights' dropout drawn as torch draws it inside
`scaled_dot_product_attention` (Bernoulli), against every dropout mask drawn as uniform
floats compared with p (`SelfAttention.dropped_weights`, shipped until 2026-12-04), and as
16-bit draws, four from each 64-bit one (what ships, `models.dropout.keep_mask`): ms per
training step of each at a dataset's shipped settings, on the same batches, in one process,
the arms taking turns (best of `--rounds`); then one mask alone, each way.

`scoring`: peak memory of scoring every ml-1m user at max_len 200 and 800 (the states are
encoded in chunks whose attention fits a fixed budget, `SequentialRecommender.user_states`).

    python benchmarks/bench_long_sequences.py steps [--lengths 50,100,200,400] [--models sasrec,bert4rec,gru4rec]
    python benchmarks/bench_long_sequences.py profile [--model sasrec] [--length 200]
    python benchmarks/bench_long_sequences.py dropout [--lengths 50,200] [--models sasrec,bert4rec] [--dataset ml-1m]
    python benchmarks/bench_long_sequences.py scoring
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from _common import ROOT, table


def _setup(
    model_name: str,
    length: int | None,
    threads: int,
    batching: str = "random",
    dataset: str | None = None,
    overrides: dict | None = None,
):
    """(model, objective, optimiser, an epoch's batches) of `model_name` at `dataset`'s shipped
    settings (ml-1m's by default), reading `length` items (None: its shipped max_len), with
    `overrides`, ready to train on the leave-one-out training split."""
    import torch

    from recsys_core.data import load_dataset
    from recsys_core.evaluation.splits import loo_split
    from recsys_core.runs import zoo
    from recsys_core.training import objectives

    torch.set_num_threads(threads)
    ds = load_dataset(dataset or "ml-1m")
    split = loo_split(ds, seed=0)
    asked = {"batching": batching, **({"max_len": length} if length else {}), **(overrides or {})}
    cfg = zoo.config_for(model_name, asked, dataset=dataset)
    torch.manual_seed(0)
    model = zoo.make(model_name, ds.n_users, ds.n_items, cfg=cfg)
    model.prepare(split.train)
    obj = objectives.OBJECTIVES[model.objective]()
    obj.setup(model, split.train, cfg, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model.train()
    return model, obj, opt, list(obj.epoch_batches())


def _step(obj, opt, b) -> None:
    opt.zero_grad()
    obj.loss(b).backward()
    opt.step()


def cell(model_name: str, length: int, threads: int, batching: str) -> dict:
    """One (model, length, batching): run in a child process of its own (`--cell`): two
    warm-up steps, then one whole epoch timed (batches by length differ in cost from one
    another, so no sample of them stands for the epoch)."""
    model, obj, opt, batches = _setup(model_name, length, threads, batching)
    for b in batches[:2]:
        _step(obj, opt, b)
    t = time.perf_counter()
    for b in batches:
        _step(obj, opt, b)
    per = (time.perf_counter() - t) / len(batches)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"ms": per * 1e3, "steps": len(batches), "rss_mb": rss, "windows": int(obj.seqs.shape[0])}


def in_child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True, cwd=ROOT / "benchmarks"
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def steps(lengths: list[int], models: list[str], threads: int) -> None:
    rows = []
    for name in models:
        for n, batching in [(n, b) for n in lengths for b in ("random", "by-length")]:
            if batching == "by-length" and name == "gru4rec":
                continue  # its state runs through the padding: random batches only
            c = in_child(["--cell", name, str(n), str(threads), batching])
            rows.append(
                {
                    "model": name,
                    "max_len": n,
                    "batching": batching,
                    "windows": f"{c['windows']:,}",
                    "ms/step": f"{c['ms']:.0f}",
                    "steps/epoch": c["steps"],
                    "s/epoch": f"{c['ms'] * c['steps'] / 1e3:.1f}",
                    "peak RSS MB": f"{c['rss_mb']:.0f}",
                }
            )
            print(rows[-1], flush=True)
    print(f"\nml-1m, leave-one-out training split, batch 128 windows, {threads} torch threads, one epoch timed\n")
    print(table(rows))


DROPOUT_ARMS = {  # arm: (the attention weights' dropout, how every other mask is drawn)
    "torch": ("torch", "floats"),  # Bernoulli draws inside scaled_dot_product_attention
    "floats": ("floats", "floats"),  # uniform floats compared with p (shipped until 2026-12-04)
    "bits": ("floats", "bits"),  # 16-bit draws, four from each 64-bit draw (what ships)
}


def mask_alone(threads: int, shape=(128, 50, 128), repeats: int = 50) -> None:
    """ms to draw one dropout mask of `shape` (a hidden-128 batch of 128 windows of 50) each
    way: torch's `bernoulli_`, uniform floats compared with p, 16-bit draws (`keep_mask`)."""
    import torch

    from recsys_core.models import dropout

    torch.set_num_threads(threads)
    x = torch.ones(shape)

    def timed(draw) -> float:
        draw()
        t = time.perf_counter()
        for _ in range(repeats):
            draw()
        return (time.perf_counter() - t) / repeats * 1e3

    def ours(how: str):
        dropout.MASK_DRAW = how
        return lambda: dropout.keep_mask(x, 0.2)

    ms = {"bernoulli_": timed(lambda: torch.empty(shape).bernoulli_(0.8))}
    ms.update({how: timed(ours(how)) for how in ("floats", "bits")})
    dropout.MASK_DRAW = "bits"
    print(
        f"\none mask of {list(shape)}, p 0.2, {threads} torch threads, mean of {repeats}: "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items())
    )


def attention_dropout(
    lengths: list[int], models: list[str], threads: int, rounds: int, dataset: str = "ml-1m", n_steps: int = 8
) -> None:
    """long: ms per training step under each way of drawing dropout (`DROPOUT_ARMS`), the arms
    taking turns on the same batches, at `dataset`'s shipped settings (its `catalog.TUNED`,
    under the CPU's bf16 autocast where the config asks for it, as the training loop runs)."""
    import contextlib

    import torch

    from recsys_core.models import dropout
    from recsys_core.models.sequential import SelfAttention
    from recsys_core.training.devices import cpu_bf16

    rows = []
    for name in models:
        for n in lengths:
            model, obj, opt, batches = _setup(name, n, threads, dataset=dataset)
            batches = batches[:n_steps]
            half = model.cfg.amp == "bf16" and cpu_bf16()
            autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if half else contextlib.nullcontext
            best = {}
            for arm in list(DROPOUT_ARMS) * rounds:
                SelfAttention.dropped_weights, dropout.MASK_DRAW = DROPOUT_ARMS[arm]
                with autocast():
                    _step(obj, opt, batches[0])  # warm-up
                    t = time.perf_counter()
                    for b in batches:
                        _step(obj, opt, b)
                best[arm] = min(best.get(arm, float("inf")), (time.perf_counter() - t) / len(batches))
            SelfAttention.dropped_weights, dropout.MASK_DRAW = DROPOUT_ARMS["bits"]
            rows.append(
                {
                    "model": name,
                    "max_len": n,
                    "torch's Bernoulli (ms/step)": f"{best['torch'] * 1e3:.0f}",
                    "uniform floats (ms/step)": f"{best['floats'] * 1e3:.0f}",
                    "16-bit draws (ms/step)": f"{best['bits'] * 1e3:.0f}",
                    "floats / bits": f"{best['floats'] / best['bits']:.2f}x",
                    "torch / bits": f"{best['torch'] / best['bits']:.2f}x",
                }
            )
            print(rows[-1], flush=True)
    print(
        f"\n{dataset} at its shipped settings, leave-one-out training split, random batches of 128 windows,"
        f" {threads} torch threads; {n_steps} steps an arm, the arms taking turns, best of {rounds}\n"
    )
    print(table(rows))
    mask_alone(threads)


GROUPS = [  # (group, substrings of the operator's name), first match wins
    ("attention", ("scaled_dot_product", "flash_attention", "_efficient_attention", "bmm", "baddbmm")),
    ("linear layers", ("aten::addmm", "aten::mm", "aten::linear", "AddmmBackward", "MmBackward")),
    ("layer norm", ("layer_norm", "LayerNorm")),
    ("dropout masks", ("rand_like", "uniform_", "random_", "aten::ge")),
    ("embeddings, gathers", ("embedding", "index", "gather", "masked")),
    ("optimizer (Adam)", ("Optimizer.step", "_foreach", "adam")),
]


def softmax_alone(obj, batches) -> float:
    """ms of the loss over every item (forward and backward) for the positions of the
    profiled steps, from states of the right shape: the part of a step that is the softmax."""
    import torch

    from recsys_core.training.losses import full_softmax_loss

    w = obj.model.item_vectors().detach().clone().requires_grad_()
    times = []
    for b in batches[2:8]:
        seqs = obj.windows_of(b[0])
        n = int(((seqs[:, 1:] > 0) & (seqs[:, :-1] > 0)).sum())
        h = torch.randn(n, w.shape[1], requires_grad=True)
        t = torch.randint(0, w.shape[0], (n,))
        start = time.perf_counter()
        full_softmax_loss(h, w, t).backward()
        times.append(time.perf_counter() - start)
    return sum(times) / len(times) * 1e3


def profile(model_name: str, length: int, threads: int, batching: str) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model, obj, opt, batches = _setup(model_name, length, threads, batching)
    for b in batches[:2]:
        _step(obj, opt, b)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for b in batches[2:8]:
            _step(obj, opt, b)
        wall = time.perf_counter() - t
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    grouped: dict[str, float] = {}
    for e in events:
        group = next((g for g, keys in GROUPS if any(k in e.key for k in keys)), "other (elementwise, copies)")
        grouped[group] = grouped.get(group, 0.0) + e.self_cpu_time_total
    rows = [
        {"part": g, "share of CPU time": f"{v / total:.0%}", "ms a step": f"{v / 1e3 / 6:.0f}"}
        for g, v in sorted(grouped.items(), key=lambda kv: -kv[1])
    ]
    print(
        f"{model_name}, max_len {length}, batches {batching}, ml-1m, {threads} torch threads:"
        f" 6 steps, {wall / 6 * 1e3:.0f} ms a step\n"
    )
    print(table(rows))
    print(
        f"\nthe full softmax alone (its products are in the linear layers' and the other rows): {softmax_alone(obj, batches):.0f} ms a step"
    )
    print("\nthe 12 costliest operators (self CPU time):")
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]
    print(table([{"operator": e.key, "ms a step": f"{e.self_cpu_time_total / 1e3 / 6:.1f}"} for e in top]))


def score_cell(length: int, threads: int) -> dict:
    import torch

    from recsys_core.data import load_dataset
    from recsys_core.evaluation.splits import loo_split
    from recsys_core.runs import zoo

    torch.set_num_threads(threads)
    ds = load_dataset("ml-1m")
    split = loo_split(ds, seed=0)
    model = zoo.make("sasrec", ds.n_users, ds.n_items, cfg=zoo.config_for("sasrec", {"max_len": length}))
    model.prepare(split.train)
    model.eval()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    model.user_embeddings()
    return {
        "s": time.perf_counter() - t,
        "before_mb": before,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def scoring(threads: int) -> None:
    rows = []
    for n in (200, 800):
        c = in_child(["--score-cell", str(n), str(threads)])
        rows.append(
            {
                "max_len": n,
                "encode 6,040 users s": f"{c['s']:.1f}",
                "peak RSS MB before": f"{c['before_mb']:.0f}",
                "peak RSS MB after": f"{c['rss_mb']:.0f}",
            }
        )
    print(table(rows))


def main() -> None:
    if sys.argv[1:2] == ["--cell"]:
        print(json.dumps(cell(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])))
        return
    if sys.argv[1:2] == ["--score-cell"]:
        print(json.dumps(score_cell(int(sys.argv[2]), int(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["steps", "profile", "dropout", "scoring"])
    ap.add_argument("--lengths", default="50,100,200,400")
    ap.add_argument("--models", default="sasrec,bert4rec,gru4rec")
    ap.add_argument("--model", default="sasrec")
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batching", default="random", help="profile: random or by-length")
    ap.add_argument("--rounds", type=int, default=3, help="dropout: turns each arm takes")
    ap.add_argument("--dataset", help="dropout: the dataset whose shipped settings are timed (ml-1m)")
    args = ap.parse_args()
    if args.what == "steps":
        steps([int(x) for x in args.lengths.split(",")], args.models.split(","), args.threads)
    elif args.what == "dropout":
        lengths, models = [int(x) for x in args.lengths.split(",")], args.models.split(",")
        attention_dropout(lengths, models, args.threads, args.rounds, args.dataset or "ml-1m")
    elif args.what == "profile":
        profile(args.model, args.length, args.threads, args.batching)
    else:
        scoring(args.threads)


if __name__ == "__main__":
    main()

"""`data fetch`, `data synth`, `data info`."""

from __future__ import annotations

import sys
from pathlib import Path

from recsys_core.cli.common import print_json


def cmd_data_fetch(args) -> int:
    from recsys_core.data import fetch, load_dataset

    for name in args.names:
        path = fetch(name, progress=lambda m: print(m, file=sys.stderr))
        ds = load_dataset(name)
        print(f"{name}: {ds.n_users:,} users, {ds.n_items:,} movies, {ds.n_ratings:,} ratings in {path}")
    return 0


def cmd_data_synth(args) -> int:
    import time

    from recsys_core.data import load_dataset
    from recsys_core.data.synth import Synth, write
    from recsys_core.paths import data_dir

    s = Synth(args.users, args.items, args.interactions, args.seed, args.categories, args.implicit)
    out = (
        Path(args.out)
        if args.out
        else data_dir() / "synth" / f"synth-{args.users}-{args.items}-{args.interactions}-{args.seed}.parquet"
    )
    start = time.perf_counter()
    toml = write(s, out)
    took = time.perf_counter() - start
    ds = load_dataset(str(toml))
    print(
        f"wrote {out} ({ds.n_ratings:,} interactions, {ds.n_users:,} users, {ds.n_items:,} items, "
        f"{len(ds.genres)} categories) in {took:.1f} s; its dataset file: {toml}\n"
        f"use it with --dataset {toml}"
    )
    return 0


def cmd_data_info(args) -> int:
    from recsys_core.data import load_dataset

    ds = load_dataset(args.dataset)
    info = ds.info()
    if args.json:
        print_json(info)
        return 0
    width = max(len(k) for k in info)
    for k, v in info.items():
        if k == "notes":
            continue
        shown = f"{v:,}" if isinstance(v, int) else v
        print(f"{k:<{width}}  {shown}")
    for note in info["notes"]:
        print(f"note: {note}")
    return 0

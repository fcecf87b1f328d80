"""`sweep`, `export`: hyperparameter sweeps and their report, and every run to MLflow / TensorBoard."""

from __future__ import annotations

import sys

from recsys_core.cli.common import raise_config


def cmd_sweep(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.runs.reports import report
    from recsys_core.runs.store import Store
    from recsys_core.sweeps.executors import PoolExecutor, run_sweep
    from recsys_core.sweeps.registry import all_sweeps, get_sweep, user_sweeps_dir

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
        from recsys_core.sweeps.ray_cluster import RayExecutor

        executor = RayExecutor(args.address, cpus=args.cpus_per_point)
    elif args.address:
        raise_config("--address is for the Ray executor (--executor ray)")
    else:
        executor = PoolExecutor(args.workers) if kind == "pool" else None
    try:
        for sweep in sweeps:
            print(f"sweep {sweep.name} ({sweep.model}, {sweep.size} points, {sweep.protocol})", file=sys.stderr)

            def progress(j, n, label, out, param=sweep.param):
                state = out if isinstance(out, str) else "cached" if out.cached else out.run.status
                where = "" if isinstance(out, str) else out.run.meta.get("ray_host", "")
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
    from recsys_core.runs.export import export_mlflow, export_tensorboard
    from recsys_core.runs.store import Store

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

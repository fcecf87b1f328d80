"""What the command modules share: JSON output, model and protocol checks, `--set` parsing,
the metric table, and the dataset arguments (with a team's own log: `--columns`,
`--threshold`, `--k-core`). Standard library only at the top (see `recsys_core.cli`)."""

from __future__ import annotations

import argparse
import json

from recsys_core.errors import ConfigError, RecsysError

PROTOCOL_NAMES = (
    "full",
    "temporal",
    "loo-uniform",
    "loo-popularity",
    "ratings",
    "ratings-5fold",
)  # protocols.PROTOCOLS, tested


def raise_config(msg: str):
    raise ConfigError(msg)


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def check_model(name: str) -> str:
    from recsys_core.runs.catalog import entry

    entry(name)  # ConfigError listing the models
    return name


def check_protocol(model: str, protocol: str) -> list[str]:
    from recsys_core.evaluation.protocols import check_protocol
    from recsys_core.runs.catalog import applicable_protocols

    if protocol == "all":
        return applicable_protocols(model)
    check_protocol(protocol)
    return [protocol]


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


REFIT_HELP = (
    "leave-one-out: train again on train + validation (every interaction before the test item) "
    "for the epochs validation picked, then test"
)


def set_keys_help() -> str:
    """Each model's `--set` keys with their shipped defaults and ranges (for `train --help`
    and `evaluate --help`; reads the torch-free catalog)."""
    from recsys_core.config import describe
    from recsys_core.runs.catalog import ZOO

    parts = ["--set keys per model (KEY=VALUE; shipped default, range, meaning):"]
    for name, e in ZOO.items():
        parts.append(f"\n{name}: {e.summary}\n{describe(e.config)}")
    return "\n".join(parts)


# the zoo's models, spelled out for the help without importing the catalog (a test keeps it whole)
MODELS_HELP = "popularity, genre, ease, mf, ncf, autorec, cdae, embnet, sasrec, gru4rec, bert4rec or blend"


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


def log_src(args) -> str | None:
    """--dataset with --columns / --threshold / --k-core: the SRC of that log, its options in it."""
    asked = {"columns": args.columns, "threshold": args.threshold, "k_core": args.k_core}
    if not any(v is not None for v in asked.values()):
        return None
    from recsys_core.data.logspec import is_log, parse_columns, with_columns

    if not args.dataset or not is_log(args.dataset) or args.dataset.lower().endswith(".toml"):
        raise RecsysError("--columns, --threshold and --k-core go with --dataset PATH of a .csv, .tsv or .parquet log")
    columns = parse_columns(args.columns) if args.columns else {}
    return with_columns(args.dataset, columns, threshold=args.threshold, k_core=args.k_core)


def build_device(ds) -> str | None:
    """The device a build trains on, looked up only where it changes what is built (a dataset
    over catalog.CPU_CELLS): a warm build of a small dataset never imports torch."""
    from recsys_core.runs.catalog import CPU_CELLS

    if ds.n_users * ds.n_items <= CPU_CELLS:
        return None
    from recsys_core.training.devices import pick_device

    return pick_device().type

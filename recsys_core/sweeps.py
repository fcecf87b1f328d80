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
workers share the cores out, or a Ray cluster (`ray_executor.RayExecutor`); progress,
cancel, pruning and a failing point behave the same with each (`run_sweep`).
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import json
import multiprocessing as mp
import os
import threading
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from recsys_core import zoo
from recsys_core.catalog import run_key
from recsys_core.config import override
from recsys_core.data import Dataset, load_dataset
from recsys_core.errors import ConfigError, RecsysError
from recsys_core.paths import artifacts_dir
from recsys_core.runs import Outcome, ensure_run
from recsys_core.store import Store
from recsys_core.studies import study
from recsys_core.train import Callback


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

    def config(self, overrides: dict):
        return override(override(zoo.entry(self.model).config, self.base), overrides)

    def configs(self, points=None) -> list[tuple[str, object]]:
        base = override(zoo.entry(self.model).config, self.base)
        return [(label, override(base, ov)) for label, ov in (self.points if points is None else points)]

    def points_in(self, store: Store, fingerprint: str) -> tuple[tuple[str, dict], ...]:
        """The sweep's points: its fixed ones, or for a TPE search the ones it has proposed
        so far (kept with their runs), in the order they were proposed."""
        if not self.adaptive:
            return self.points
        found: dict[str, dict] = {}
        for r in store.runs(sweep=self.name, fingerprint=fingerprint):
            if isinstance(r["meta"].get("point"), dict):
                found.setdefault(r["label"], r["meta"]["point"])
        return tuple(found.items())


# The NCF study's architecture: embeddings -> linear + ReLU -> dropout -> linear -> sigmoid, an
# item genre embedding, inverse-popularity negatives. Short, early-stopped runs.
_NCF000 = {
    "variant": "mlp",
    "genre_features": True,
    "sampler": "inverse-popularity",
    "epochs": 8,
    "patience": 2,
    "batch_size": 4096,
    "lr": 0.01,
    "dropout": 0.5,
    "schedule": "none",
    "pretrain": False,
    "recency_half_life": 0.0,
}
# the AutoRec study's user-based AutoRec (one user's rating vector in), whatever the shipped default
_AUTOREC = {
    "epochs": 25,
    "patience": 3,
    "item_based": False,
    "layers": (128,),
    "dropout": 0.2,
    "lr": 0.001,
    "weight_decay": 0.0,
    "average_half_life": 0.0,
}
_CDAE = {"epochs": 40, "patience": 3, "recency_half_life": 0.0}  # the CDAE study's CDAE: no recency weights


def _emb(e: int) -> dict:
    return {"layers": (2 * e, 32)}


ORDER_SWEEP = "sasrec-order"  # the order ablation the leaderboard's notes read (results.order_ablation)

SHIPPED: dict[str, Sweep] = {
    s.name: s
    for s in [
        Sweep(
            "ncf-lr",
            "ncf",
            "learning rate",
            tuple((str(v), {"lr": v, **_emb(3)}) for v in (1, 0.1, 0.01, 0.001)),
            _NCF000,
            description=f"{study('000').name}: learning rate at embedding 3, dropout 0.5",
            claim="lr 1 was too large, 0.1 overfitted and 0.001 too small to converge: 0.01 was chosen",
        ),
        Sweep(
            "ncf-emb",
            "ncf",
            "embedding size",
            tuple((str(e), _emb(e)) for e in (3, 10, 50, 100)),
            _NCF000,
            description=f"{study('000').name}: embedding size at lr 0.01, dropout 0.5",
            claim="50 and 100 reached similar losses and 100 added little: 50 was chosen",
        ),
        Sweep(
            "ncf-dropout",
            "ncf",
            "dropout",
            tuple((str(d), {"dropout": d, **_emb(50)}) for d in (0.1, 0.3, 0.5, 0.7, 0.9)),
            _NCF000,
            description=f"{study('000').name}: dropout at lr 0.01, embedding 50",
            claim="0.7 and 0.9 underfitted; 0.1 fitted best but did not validate better than 0.3 or 0.5: 0.5 was chosen",
        ),
        Sweep(
            "autorec-width",
            "autorec",
            "layers",
            (
                ("128", {"layers": (128,)}),
                ("256", {"layers": (256,)}),
                ("512", {"layers": (512,)}),
                ("128-256-256", {"layers": (128, 256, 256)}),
            ),
            _AUTOREC,
            "ratings",
            description=f"{study('001').name}: 1-layer 128/256/512 vs 3-layer 128-256-256",
            claim="wider one-layer models overfitted (RMSE 1.084); 3 layers 128-256-256 reached 0.951",
        ),
        Sweep(
            "autorec-dropout",
            "autorec",
            "encoder dropout",
            tuple((str(d), {"dropout": d, "layers": (128, 256, 256)}) for d in (0.2, 0.4, 0.6, 0.8)),
            _AUTOREC,
            "ratings",
            description=f"{study('001').name}: dropout on the encoder, 3-layer",
            claim="low dropout worked best: 0.2 gave the lowest RMSE, 0.939",
        ),
        Sweep(
            "autorec-variants",
            "autorec",
            "variant",
            (("plain", {}), ("tied weights", {"tied": True}), ("dense re-feeding", {"refeeding": True})),
            _AUTOREC,
            "ratings",
            description=f"{study('001').name}: tied decoder weights and dense re-feeding",
            claim="tied weights made RMSE worse (0.984) and dense re-feeding did not help (0.947)",
        ),
        Sweep(
            "ncf-diversity",
            "ncf",
            "diversity weight",
            tuple((str(w), {"diversity_weight": w}) for w in (0.0, 0.1, 0.5, 2.0)),
            {"epochs": 12},
            description=f"{study('002').name}: genre-diversity regulariser on the shipped NeuMF (HR@10 vs diversity)",
            claim="the diversity regulariser cost HR@10: 0.593 without it, 0.57 with it (MovieLens 20M)",
        ),
        Sweep(
            "cdae-hidden",
            "cdae",
            "hidden units",
            tuple((str(h), {"hidden": h}) for h in (25, 50, 100, 200)),
            _CDAE,
            description=f"{study('004').name}: hidden layer size",
            claim="one hidden layer of 50 tanh units, as in Wu et al. 2016, picked on validation",
        ),
        Sweep(
            "sasrec-len",
            "sasrec",
            "sequence length",
            tuple((str(n), {"max_len": n}) for n in (10, 20, 50, 100, 200)),
            description="SASRec: how much of a user's history it reads (the latest N interactions)",
        ),
        Sweep(
            ORDER_SWEEP,
            "sasrec",
            "training order",
            (
                ("by time", {"order": "time"}),
                ("ties shuffled", {"order": "shuffle-ties"}),
                ("all shuffled", {"order": "shuffle"}),
            ),
            description="is the order real? SASRec trained on histories by time, with the order inside equal"
            " timestamps shuffled, and shuffled whole (MovieLens is pseudo-sequential: Woolridge et al. 2021)",
        ),
        Sweep(
            "mf-loss",
            "mf",
            "loss",
            (
                ("BCE", {"loss": "bce", "n_negatives": 4}),
                ("BPR", {"loss": "bpr", "n_negatives": 4}),
                ("softmax 4", {"loss": "softmax", "n_negatives": 4}),
                ("softmax 16", {"loss": "softmax", "n_negatives": 16}),
            ),
            description="MF's loss on the shipped MF: BCE, BPR, sampled softmax over 4 / 16 negatives",
        ),
    ]
}


def user_sweeps_dir() -> Path:
    return Path(os.environ.get("RECSYS_SWEEPS", artifacts_dir() / "sweeps"))


def user_sweep_path(name: str) -> Path:
    """The file of a sweep described in the app (never a shipped sweep's, never outside the
    user sweeps' folder); ConfigError when there is none."""
    if name in SHIPPED:
        raise ConfigError(f"{name!r} is a shipped sweep: it cannot be deleted")
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.strip(".") == "":
        raise ConfigError(f"{name!r} is not a sweep name")
    folder = user_sweeps_dir().resolve()
    for suffix in (".json", ".toml"):
        path = (folder / f"{name}{suffix}").resolve()
        if path.parent == folder and path.is_file():
            return path
    raise ConfigError(f"no sweep {name!r} among the sweeps described here ({folder})")


def load_sweep_file(path: str | os.PathLike) -> Sweep:
    """A user sweep from TOML or JSON; bad files raise ConfigError naming the file and problem."""
    path = Path(path)
    try:
        text = path.read_text()
        spec = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: cannot read sweep file: {e}") from e
    return sweep_from_spec(spec, path)


def save_user_sweep(spec: dict, write: bool = True) -> Sweep:
    """A sweep described in the app (the same keys as a sweep file), checked as a file is,
    then kept as `<name>.json` among the user sweeps; nothing is written when it is invalid
    or when its name is a shipped sweep's (nor with `write=False`: the check alone)."""
    name = str(spec.get("name", "")).strip()
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.strip(".") == "":
        raise ConfigError("name the sweep with letters, digits, '-', '_' or '.'")
    if name in SHIPPED:
        raise ConfigError(f"{name!r} is a shipped sweep: choose another name")
    checked = sweep_from_spec({**spec, "name": name}, "the sweep described")  # before anything is written
    if not write:
        return checked
    folder = user_sweeps_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**spec, "name": name}, indent=2))
    return sweep_from_spec({**spec, "name": name}, path)


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


def all_sweeps() -> dict[str, Sweep]:
    out = dict(SHIPPED)
    folder = user_sweeps_dir()
    if folder.exists():
        for p in sorted([*folder.glob("*.toml"), *folder.glob("*.json")]):
            try:
                s = load_sweep_file(p)
                out[s.name] = s
            except RecsysError:
                continue  # a bad user file is reported by `sweep --list`, not fatal here
    return out


def get_sweep(name_or_path: str) -> Sweep:
    if Path(name_or_path).suffix in (".toml", ".json") and Path(name_or_path).exists():
        return load_sweep_file(name_or_path)
    sweeps = all_sweeps()
    if name_or_path not in sweeps:
        raise ConfigError(f"unknown sweep {name_or_path!r}: choose one of {', '.join(sweeps)}")
    return sweeps[name_or_path]


# ------------------------------------------------------------------ running


@dataclass
class SweepRun:
    """One run of a sweep, as every executor sees it."""

    store: Store
    ds: Dataset
    sweep: Sweep
    src: str
    cancel: object = None  # an Event: the user's Stop

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


class SequentialExecutor:
    """Every point in this process, one after the other."""

    workers = 1
    name = "sequential"

    @contextmanager
    def session(self, run: SweepRun):
        def batch(points):
            for label, point in points:
                if run.cancelled:
                    return
                try:
                    yield label, _run_one(run.store, run.ds, run.sweep, label, point, run.cancel)
                except RecsysError as e:  # a point that cannot be made; the others go on
                    yield label, f"{type(e).__name__}: {e}"

        yield batch


class PoolExecutor:
    """A process pool: each point runs in its own worker process, with torch's threads
    shared out so that workers x threads never exceeds the cores."""

    name = "pool"

    def __init__(self, workers: int):
        self.workers = max(1, min(workers, os.cpu_count() or 1))
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)

    def pool(self) -> cf.ProcessPoolExecutor:
        ctx = mp.get_context("spawn")
        return cf.ProcessPoolExecutor(self.workers, ctx, initializer=_set_threads, initargs=(self.threads,))

    @contextmanager
    def session(self, run: SweepRun):
        with mp.get_context("spawn").Manager() as manager, self.pool() as pool:
            shared = manager.Event()  # what the workers' trainings watch

            def batch(points):
                futures = {
                    pool.submit(_run_point, (run.sweep, label, point, run.src, str(run.store.root), shared)): label
                    for label, point in points
                }
                pending = set(futures)
                while pending:
                    done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                    if run.cancelled and not shared.is_set():
                        shared.set()
                        for f in pending:
                            f.cancel()  # not started: never runs
                    for f in done:
                        if f.cancelled():
                            continue
                        got = f.result()
                        yield (
                            futures[f],
                            Outcome(run.store.run(got["id"]), got["cached"]) if "id" in got else got["error"],
                        )

            yield batch


def _set_threads(n: int) -> None:
    os.environ["RECSYS_THREADS"] = str(n)  # what every fit in this worker uses (train.use_threads)
    torch.set_num_threads(n)


def monitor_of(sweep: Sweep) -> str:
    """The validation figure a sweep compares its points by (early stopping's, pruning's, TPE's)."""
    return "RMSE" if sweep.protocol.startswith("ratings") else "NDCG@10"


class MedianPruner(Callback):
    """Stops a sweep point whose validation metric at an epoch is worse than the median of
    the sweep's other points at the same epoch (after `warmup` epochs, with at least two to
    compare), as Optuna's median pruner does. Its run then ends `pruned`, with the reason.
    `verdict(row)` is the rule alone, for executors that see the epochs from afar (Ray)."""

    def __init__(self, store: Store, sweep: Sweep, fingerprint: str, warmup: int = 1):
        self.store, self.sweep, self.fingerprint, self.warmup = store, sweep, fingerprint, warmup
        self.metric = monitor_of(sweep)
        self.stop, self.reason = threading.Event(), ""

    def verdict(self, row: dict) -> str:
        """Why the point that produced this epoch row should stop now, '' to go on."""
        value, epoch = row.get(self.metric), row["epoch"]
        if value is None or epoch <= self.warmup:
            return ""
        others = []
        for r in self.store.runs(sweep=self.sweep.name, fingerprint=self.fingerprint):
            if r["status"] in ("done", "pruned"):
                others += [
                    e[self.metric] for e in self.store.epochs(r["id"]) if e["epoch"] == epoch and self.metric in e
                ]
        if len(others) < 2:
            return ""
        median = float(np.median(others))
        if (value > median) if self.metric == "RMSE" else (value < median):
            return (
                f"pruned at epoch {epoch}: validation {self.metric} {value:.4f} against the other points' median"
                f" {median:.4f}"
            )
        return ""

    def on_epoch_end(self, row: dict) -> None:
        reason = self.verdict(row)
        if reason:
            self.reason = reason
            self.stop.set()


class _Either:
    """A cancel token set when either of two is (the user's Stop, the pruner)."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def is_set(self) -> bool:
        return (self.a is not None and self.a.is_set()) or self.b.is_set()


def finished_before(store: Store, ds: Dataset, sweep: Sweep, key: str) -> Outcome | None:
    """A point's final run from before, which a rerun keeps: done (or diverged), or pruned."""
    done = store.latest_done(key, sweep.name)
    if done is not None:
        return Outcome(done, True)
    pruned = [r for r in store.runs(key=key) if r["sweep"] == sweep.name and r["status"] == "pruned"]
    return Outcome(pruned[-1], True) if pruned and sweep.prune else None


def _run_one(store: Store, ds: Dataset, sweep: Sweep, label: str, point: dict, cancel) -> Outcome:
    """One point through `runs.ensure_run` (its overrides kept with the run), with the sweep's
    pruner where it has one: a point pruned before is not run again (a rerun resumes), one
    pruned now ends `pruned`."""
    cfg = sweep.config(point)
    common = dict(sweep=sweep.name, label=label, artifacts=False, meta={"point": point})
    if not sweep.prune:
        return ensure_run(store, ds, sweep.model, cfg, [sweep.protocol], cancel=cancel, **common)
    earlier = finished_before(store, ds, sweep, run_key(ds, sweep.model, cfg, [sweep.protocol]))
    if earlier is not None and earlier.run["status"] == "pruned":
        return earlier
    pruner = MedianPruner(store, sweep, ds.fingerprint)
    out = ensure_run(
        store, ds, sweep.model, cfg, [sweep.protocol], callbacks=[pruner], cancel=_Either(cancel, pruner.stop), **common
    )
    if pruner.stop.is_set() and out.run["status"] == "cancelled":
        store.set_status(out.run["id"], "pruned", pruner.reason)
        out = Outcome(store.run(out.run["id"]), False, out.result)
    return out


def _run_point(task) -> dict:
    """One sweep point in a worker (top-level so a process pool can pickle it): its run's id
    and whether it was cached, or the error that kept it from running at all."""
    sweep, label, point, src, store_root, cancel = task
    try:
        out = _run_one(Store(store_root), load_dataset(src), sweep, label, point, cancel)
        return {"id": out.run["id"], "cached": out.cached}
    except Exception as e:  # noqa: BLE001 - reported for this point; the others go on
        return {"error": f"{type(e).__name__}: {e}"}


def validation_value(store: Store, run: dict, metric: str) -> float | None:
    """A run's validation `metric` at its best epoch (the weights it kept), else its last."""
    epochs = store.epochs(run["id"])
    if not epochs:
        return None
    best = run["best_epoch"]
    row = epochs[best - 1] if best and best <= len(epochs) else epochs[-1]
    return row.get(metric)


class TpeSearch:
    """Optuna's TPE over a sweep's search space, asked for points in batches (one per free
    worker) and told each point's validation figure as it lands; a pruned point is told as
    pruned, a failed one as failed. Built over the store: the points a sweep finished before
    are replayed into the study first, so a rerun goes on where it stopped and never repeats."""

    def __init__(self, store: Store, ds: Dataset, sweep: Sweep):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.store, self.sweep = optuna, store, sweep
        self.metric = monitor_of(sweep)
        self.dists = tpe_distributions(sweep.search, sweep.source)
        budget = sweep.size
        startup = int(sweep.search.get("startup", max(2, budget // 3)))
        sampler = optuna.samplers.TPESampler(seed=int(sweep.search.get("seed", 0)), n_startup_trials=startup)
        direction = "minimize" if self.metric == "RMSE" else "maximize"
        self.study = optuna.create_study(direction=direction, sampler=sampler)
        self.asked: dict[str, object] = {}
        self.told = 0
        for r in store.runs(sweep=sweep.name, fingerprint=ds.fingerprint):
            point = r["meta"].get("point")
            if r["status"] not in ("done", "diverged", "pruned", "failed") or not isinstance(point, dict):
                continue
            try:
                self.study.add_trial(self._frozen(r, point))
                self.told += 1
            except ValueError:
                continue  # a point outside today's space (the file changed): not replayed

    def _frozen(self, run: dict, point: dict):
        T = self.optuna.trial.TrialState
        curve = {e["epoch"]: e[self.metric] for e in self.store.epochs(run["id"]) if e.get(self.metric) is not None}
        value = validation_value(self.store, run, self.metric)
        if run["status"] in ("done", "diverged") and value is not None:
            state, kw = T.COMPLETE, {"value": value}
        else:
            state, kw = (T.PRUNED if run["status"] == "pruned" else T.FAIL), {}
        return self.optuna.trial.create_trial(
            params=point, distributions=self.dists, state=state, intermediate_values=curve, **kw
        )

    def remaining(self) -> int:
        return max(0, self.sweep.size - self.told - len(self.asked))

    def ask(self, n: int) -> list[tuple[str, dict]]:
        out = []
        for _ in range(min(n, self.remaining())):
            trial = self.study.ask(self.dists)
            label = point_label(trial.params, 4)  # TPE's points lie close: one more digit
            while label in self.asked:  # the same point twice in one batch: count it once
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                self.told += 1
                if not self.remaining():
                    return out
                trial = self.study.ask(self.dists)
                label = point_label(trial.params, 4)  # TPE's points lie close: one more digit
            self.asked[label] = trial
            out.append((label, dict(trial.params)))
        return out

    def tell(self, label: str, outcome) -> None:
        trial = self.asked.pop(label, None)
        if trial is None:
            return
        T = self.optuna.trial.TrialState
        run = outcome.run if isinstance(outcome, Outcome) else None
        if run is None or run["status"] in ("cancelled", "interrupted"):
            if run is None:  # it could not start: a failed trial, counted against the budget
                self.study.tell(trial, state=T.FAIL)
                self.told += 1
            return  # a stopped point is not a result: a rerun proposes again
        frozen = self._frozen(run, trial.params)
        for step, v in frozen.intermediate_values.items():
            trial.report(v, step)
        if frozen.state == T.COMPLETE:
            self.study.tell(trial, frozen.value)
        else:
            self.study.tell(trial, state=frozen.state)
        self.told += 1


def run_sweep(
    sweep: Sweep,
    ds: Dataset,
    store: Store,
    executor=None,
    src: str | None = None,
    progress=None,
    cancel=None,
) -> list[dict]:
    """Run every point not yet done; returns the sweep's runs (one per point that ran).

    The same for every executor: `progress(j, n, label, outcome)` as each point ends
    (`outcome` an Outcome, or the error string of a point that could not start); `cancel`
    (an Event) stops the points not started and the running ones within a few batches, whose
    runs end `cancelled`; a point that fails ends `failed` with its message while the others
    go on. A TPE search asks for as many points at a time as the executor has workers."""
    store.mark_interrupted(sweep.name)
    executor = executor or SequentialExecutor()
    run = SweepRun(store, ds, sweep, src or ds.name, cancel)
    ids: list[int] = []
    if run.cancelled:
        return []
    search = TpeSearch(store, ds, sweep) if sweep.adaptive else None
    j = search.told if search else 0
    with executor.session(run) as batch:
        while True:
            points = search.ask(executor.workers) if search else list(sweep.points)
            if not points or run.cancelled:
                break
            for label, out in batch(points):
                j += 1
                if isinstance(out, Outcome):
                    ids.append(out.run["id"])
                if search:
                    search.tell(label, out)
                if progress:
                    progress(j, sweep.size, label, out)
            if not search:
                break
    return [store.run(i) for i in ids]

"""Fit a zoo model on a protocol's training data and evaluate it: the pipeline behind
`evaluate`, `train`, `build` and the sweeps."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from recsys_core.config import to_dict
from recsys_core.data import Dataset
from recsys_core.errors import ConfigError, RecsysError
from recsys_core.evaluation import splits
from recsys_core.evaluation.metrics import Ranks
from recsys_core.evaluation.protocols import RANKING, RATING, TEMPORAL, check_protocol
from recsys_core.evaluation.scoring import evaluate_many, evaluate_ratings, evaluate_temporal
from recsys_core.evaluation.temporal import temporal_split
from recsys_core.models.base import History, Recommender
from recsys_core.models.blend import Blend
from recsys_core.runs import zoo
from recsys_core.runs.artifacts import load_model
from recsys_core.runs.catalog import build_protocols, run_key, split_of
from recsys_core.runs.store import Store
from recsys_core.training.fitting import fit_model


@dataclass
class Result:
    model: str
    dataset: str
    fingerprint: str
    config: dict
    metrics: dict[str, dict]  # protocol -> metrics
    seconds: dict[str, float]
    history: History
    recommender: Recommender | None = field(default=None, repr=False)
    lists: tuple | None = field(default=None, repr=False)  # top-50 (items, scores) for every user
    refit: bool = False  # the leave-one-out figures are from a refit on train + validation
    ranks: dict[str, Ranks] = field(default_factory=dict, repr=False)  # per-user ranks per ranking protocol

    def to_json(self, protocol: str, k: int) -> dict:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "protocol": protocol,
            "protocol_description": splits.describe(protocol, refit=self.refit),
            "k": k,
            "metrics": self.metrics[protocol],
            "seconds": self.seconds,
        }


def fit_and_evaluate(
    name: str,
    ds: Dataset,
    protocols: list[str] | tuple[str, ...] = ("loo-uniform",),
    k: int = 10,
    overrides: dict | None = None,
    seed: int = 0,
    callbacks=(),
    cfg=None,
    cancel=None,
    refit: bool = False,
    temporal: dict | None = None,
    store: Store | None = None,
) -> Result:
    """Fit once per split family (leave-one-out / ratings) and evaluate every protocol.

    `refit`: for the leave-one-out protocols, train again on train + validation (every
    interaction before the test item) for the epochs validation picked, and evaluate that
    model (`ratings-5fold` always refits each fold this way). `temporal`: the temporal
    split's `test_share` / `valid_share` when not the defaults; its model is fitted on its
    own training rows (`temporal.py`). `store`: where a blend finds its networks already
    trained (`_stored_parts`)."""
    _check(name, protocols)
    split = split_of(protocols)  # a run of the temporal split alone takes that split's shipped settings
    cfg = cfg if cfg is not None else zoo.config_for(name, overrides, ds.name, split)
    feats = ds.genre_matrix if ds.has_genres else None
    metrics, seconds, ranks = {}, {}, {}
    history, model, lists = History(), None, None
    ranking = [p for p in protocols if p in RANKING]
    if ranking:
        model, history, lists, ranks = _leave_one_out(
            name, ds, cfg, feats, ranking, k, seed, refit, callbacks, cancel, seconds, metrics, store
        )
    if TEMPORAL in protocols:
        m, h, seconds["fit_temporal"], found = _temporal(
            name, ds, cfg, feats, seed, k, temporal, callbacks, cancel, store, split
        )
        if found is not None:
            metrics[TEMPORAL], temporal_lists, ranks[TEMPORAL] = found
            lists = lists if ranking else temporal_lists
        if not ranking:
            model, history = m, h
    if "ratings" in protocols:
        rs = splits.ratings_split(ds, seed=seed)
        m = zoo.make(name, ds.n_users, ds.n_items, cfg=cfg, item_features=feats)
        t = time.perf_counter()
        h = fit_model(m, rs.train, rs.valid, callbacks, cancel)
        seconds["fit_ratings"] = time.perf_counter() - t
        metrics["ratings"] = evaluate_ratings(m, rs.test) if h.status == "done" else {}
        model, history = model or m, history if ranking else h
    if "ratings-5fold" in protocols:
        t = time.perf_counter()
        found = _five_folds(name, ds, cfg, feats, seed, callbacks, cancel)
        seconds["fit_5fold"] = time.perf_counter() - t
        if found is not None:
            metrics["ratings-5fold"] = found
    refitted = "refit" in seconds  # asked for and run (not after a failed fit, nor without a ranking protocol)
    return Result(name, ds.name, ds.fingerprint, to_dict(cfg), metrics, seconds, history, model, lists, refitted, ranks)


def _check(name: str, protocols) -> None:
    """ConfigError for an unknown protocol, or a ratings protocol asked of a ranking model."""
    for p in protocols:
        check_protocol(p)
        if p in RATING and zoo.entry(name).task != "rating":
            raise ConfigError(f"{name} does not predict ratings: use {', '.join(RANKING)}")


def _leave_one_out(
    name: str, ds: Dataset, cfg, feats, ranking, k, seed, refit, callbacks, cancel, seconds, metrics, store
):
    """The leave-one-out fit (and with `refit`, the fit again on train + validation) and its
    one scoring pass for every ranking protocol asked: (model, history, top lists, per-user
    ranks); the figures go into `metrics` and the timings into `seconds`."""
    split = splits.loo_split(ds, seed=seed)
    model = zoo.make(name, ds.n_users, ds.n_items, cfg=cfg, item_features=feats, dataset=ds.name)
    if seed == 0:  # the shipped runs are on the default split
        _stored_parts(model, store, ds, temporal=False)
    t = time.perf_counter()
    history = fit_model(model, split.train, split, callbacks, cancel)
    seconds["fit"] = time.perf_counter() - t
    if refit and history.status == "done":
        # everything before each user's test item: the validation item joins train (the
        # NCF paper's training set), for the epochs validation picked; scored as seen
        split = replace(split, train=split.train.concat(split.valid_rows))
        t = time.perf_counter()
        model, h = _refit(name, ds, model, history, cfg, split.train, feats, callbacks, cancel)
        seconds["refit"] = time.perf_counter() - t
        if h.status != "done":
            history.status, history.message = h.status, f"refit on train + validation: {h.message}"
    t = time.perf_counter()
    lists, ranks = None, {}
    if history.status == "done" and not refit and model.reads_history:
        model.read(split.valid_rows)  # a sequential model reads up to the test item, not retrained
    if history.status == "done":
        found, topk, topk_scores, ranks = evaluate_many(model, split, ranking, k)
        metrics.update(found)
        lists = (topk, topk_scores)
    seconds["evaluate"] = time.perf_counter() - t
    return model, history, lists, ranks


def _temporal(
    name: str, ds: Dataset, cfg, feats, seed: int, k: int, temporal, callbacks, cancel, store=None, split=None
):
    """The temporal split's own fit and evaluation: (model, history, seconds the fit took, None
    or (figures, its top lists, its per-user ranks)). A sequential model reads the validation window before
    the test, not retrained. `split`: whose shipped settings a blend's components take (`split_of`)."""
    ts = temporal_split(ds, seed=seed, **(temporal or {}))
    m = zoo.make(name, ds.n_users, ds.n_items, cfg=cfg, item_features=feats, split=split, dataset=ds.name)
    if not temporal and seed == 0:  # the shipped temporal runs are on the default split
        _stored_parts(m, store, ds, temporal=True)
    t = time.perf_counter()
    h = fit_model(m, ts.train, ts, callbacks, cancel)
    seconds = time.perf_counter() - t
    if h.status != "done":
        return m, h, seconds, None
    if m.reads_history:
        m.read(ts.valid_rows)  # up to the test window, not retrained
    found, topk, topk_scores, ranks = evaluate_temporal(m, ts, k)
    return m, h, seconds, (found, (topk, topk_scores), ranks)


def _stored_parts(model: Recommender, store: Store | None, ds: Dataset, temporal: bool) -> None:
    """A blend's networks the store already holds, trained on the same rows with the same
    settings (a shipped run: same config, same split), loaded as they were validated instead
    of trained again (a blend of ml-1m's SASRec would train it for twenty minutes more).
    Closed-form components fit in seconds: always fitted."""
    if store is None or not isinstance(model, Blend):
        return
    for i, (name, part) in enumerate(zip(model.part_names, model.parts)):
        if not zoo.is_neural(name):
            continue
        # every leave-one-out run trains on the same rows, whichever of its protocols it reports
        protocol_sets = [[TEMPORAL]] if temporal else [build_protocols(name), ["full"]]
        runs = [store.latest_done(run_key(ds, name, part.cfg, ps)) for ps in protocol_sets]
        run = next((r for r in runs if r is not None and r.status == "done"), None)
        if run is None:
            continue
        try:
            model.parts[i] = load_model(store, run, ds, read=False)
        except RecsysError:
            continue  # its weights are gone: trained again
        model.stored[i] = run.id


def _five_folds(name: str, ds: Dataset, cfg, feats, seed: int, callbacks, cancel) -> dict | None:
    """`ratings-5fold`: each fold's model picks its epochs on a tenth of its training ratings,
    then is refit on all of them (as Surprise trains) and tested on its fold; the mean and
    spread over the folds, None when no fold finished."""
    folds, inner = [], []
    for rs in splits.ratings_folds(ds, 5, seed):
        m = zoo.make(name, ds.n_users, ds.n_items, cfg=cfg, item_features=feats)
        h = fit_model(m, rs.train, rs.valid, callbacks, cancel)
        if h.status == "done" and zoo.is_neural(name) and h.best_epoch:
            inner.append(h.best_row()["RMSE"])
            # refit on all of the fold's training ratings for the epochs the inner tenth picked
            m, h = _refit(name, ds, m, h, cfg, rs.train.concat(rs.valid), feats, callbacks, cancel)
        if h.status == "done":
            folds.append(evaluate_ratings(m, rs.test))
    if not folds:
        return None
    out = {key: float(np.mean([f[key] for f in folds])) for key in folds[0]}
    out.update({f"{key}_std": float(np.std([f[key] for f in folds])) for key in folds[0]})
    if inner:  # what picked each fold's epochs (and what tuning may look at): never the test folds
        out["valid_RMSE"] = float(np.mean(inner))
    return out


def _refit(name: str, ds: Dataset, fitted: Recommender, history: History, cfg, train, feats, callbacks, cancel):
    """(a fresh model trained on `train` without validation, its history): neural models for
    the epochs `fitted`'s validation picked, closed-form ones as they are. The callbacks see
    it as a second training (the run's history stays the validated fit's)."""
    rcfg = fitted.refit_config(history) if zoo.is_neural(name) else cfg
    m = zoo.make(name, ds.n_users, ds.n_items, cfg=rcfg, item_features=feats, dataset=ds.name)
    return m, fit_model(m, train, None, callbacks, cancel)

"""Train, evaluate and cache the shipped models into the store (`python -m recsys_core build`).

Each run is keyed by dataset fingerprint + model + config hash (+ protocols) + schema
version; a key whose run is done and whose artifacts pass their checksum is skipped, so a
second build returns at once. Artifacts per model: full-ranking top-50 lists for every
user (the pages read these, not the models), item/user embeddings with their PCA
coordinates, weights (neural models), and NCF's cold-start list.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

import numpy as np

from recsys_core import zoo
from recsys_core.config import config_hash, to_dict
from recsys_core.data import Dataset
from recsys_core.errors import RecsysError
from recsys_core.runner import applicable_protocols, fit_and_evaluate
from recsys_core.splits import RANKING
from recsys_core.store import Store, cache_key
from recsys_core.train import Callback, describe_device

TOPK = 50
REQUIRED = ["topk.npz"]


class StoreEpochs(Callback):
    """Writes each epoch's row to the store as it lands (live curves, resumable history)."""

    def __init__(self, store: Store, run_id: int):
        self.store, self.run_id = store, run_id

    def on_epoch_end(self, row):
        self.store.add_epoch(self.run_id, row)


def build_protocols(name: str) -> list[str]:
    """What `build` evaluates: every ranking protocol, plus the ratings split for rating
    models (5-fold is for the benchmark: five fits are too slow for a cold start)."""
    return [p for p in applicable_protocols(name) if p != "ratings-5fold"]


def run_key(ds: Dataset, name: str, cfg, protocols) -> str:
    return cache_key(ds.fingerprint, name, config_hash(cfg) + "-" + "+".join(sorted(protocols)).replace("loo-", ""))[
        :120
    ]


@dataclass
class Outcome:
    run: dict
    cached: bool


def ensure_run(store: Store, ds: Dataset, name: str, cfg=None, protocols=None, *, sweep=None, label=None,
               artifacts=True, callbacks=(), cancel=None, run_id: int | None = None, reuse=True) -> Outcome:  # fmt: skip
    """The finished run for (dataset, model, config, protocols): from the store when cached
    and intact, else trained now (under a lock, so two processes never train it twice).
    `reuse=False` always trains (a run asked for from the Train page)."""
    cfg = cfg if cfg is not None else zoo.config_for(name)
    protocols = list(protocols or build_protocols(name))
    key = run_key(ds, name, cfg, protocols)
    with store.lock(key):
        done = store.latest_done(key) if reuse else None
        if done and (done["status"] == "diverged" or not artifacts or store.has_artifacts(key, REQUIRED)):
            if run_id is not None:  # a queued job found its result already there
                store.finish_run(run_id, done["status"], done["metrics"], done["error"] or "", done["best_epoch"])
            return Outcome(done, True)
        if run_id is None:
            run_id = store.create_run(key=key, dataset=ds.name, fingerprint=ds.fingerprint, model=name,
                                      config=to_dict(cfg), config_hash=config_hash(cfg), sweep=sweep, label=label)  # fmt: skip
        store.start_run(run_id, describe_device())
        try:
            res = fit_and_evaluate(name, ds, protocols, cfg=cfg, callbacks=[StoreEpochs(store, run_id), *callbacks],
                                   cancel=cancel)  # fmt: skip
        except RecsysError as e:
            store.finish_run(run_id, "failed", error=str(e))
            return Outcome(store.run(run_id), False)
        except Exception as e:  # noqa: BLE001 - recorded with its traceback, never lost
            store.finish_run(run_id, "failed", error=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}")
            return Outcome(store.run(run_id), False)
        h = res.history
        metrics = dict(res.metrics, seconds=res.seconds)
        if h.status == "done" and artifacts and res.recommender is not None:
            save_artifacts(store, key, res.recommender, ds, res.lists)
        store.finish_run(run_id, h.status, metrics, h.message if h.status != "done" else "", h.best_epoch, h.device)
        return Outcome(store.run(run_id), False)


def save_artifacts(store: Store, key: str, model, ds: Dataset, lists=None) -> None:
    from sklearn.decomposition import PCA

    if lists is None:
        lists = model.recommend(np.arange(ds.n_users), k=min(TOPK, ds.n_items))
    items, scores = lists
    for side, emb in (("item", model.item_embeddings()), ("user", model.user_embeddings())):
        if emb is None or emb.ndim != 2 or emb.shape[1] < 2:
            continue
        pca = PCA(n_components=min(3, emb.shape[1]), random_state=0)
        coords = pca.fit_transform(emb.astype(np.float64))
        store.save_arrays(key, f"{side}_embeddings", vectors=emb.astype(np.float32), pca=coords.astype(np.float32),
                          explained=pca.explained_variance_ratio_.astype(np.float32))  # fmt: skip
    if hasattr(model, "score_new_user"):
        new_user = model.score_new_user().cpu().numpy()
        store.save_arrays(key, "cold_start", scores=new_user.astype(np.float32))
    if hasattr(model, "state_dict"):
        store.save_weights(key, {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                                 "config": to_dict(model.cfg), "model": model.name})  # fmt: skip
    store.save_arrays(key, "topk", items=items.astype(np.int32), scores=scores.astype(np.float32))


def missing_models(store: Store, ds: Dataset) -> list[str]:
    """Shipped models with no finished run on this dataset yet."""
    done = shipped_runs(store, ds)
    return [name for name in zoo.ZOO if name not in done]


def build(ds: Dataset, models=None, store: Store | None = None, progress=None, with_sweeps=False,
          cancel=None) -> list[dict]:  # fmt: skip
    """Make sure every shipped model (or `models`) is trained, evaluated and cached.
    `cancel` (an Event) stops it between models and inside a training."""
    store = store or Store()
    store.mark_interrupted()
    names = list(models or zoo.ZOO)
    outcomes = []
    for j, name in enumerate(names):
        if cancel is not None and cancel.is_set():
            break
        out = ensure_run(store, ds, name, cancel=cancel)
        outcomes.append(out)
        if progress:
            progress(j + 1, len(names), name, out)
    if with_sweeps:
        from recsys_core.sweeps import SHIPPED, run_sweep

        for sweep in SHIPPED.values():
            run_sweep(sweep, ds, store)
    return leaderboard(store, ds)


def shipped_runs(store: Store, ds: Dataset) -> dict[str, dict]:
    """name -> the finished run of each shipped model with its default config."""
    out = {}
    for name in zoo.ZOO:
        run = store.latest_done(run_key(ds, name, zoo.config_for(name), build_protocols(name)))
        if run is not None:
            out[name] = run
    return out


def leaderboard(store: Store, ds: Dataset) -> list[dict]:
    rows = []
    for name, run in shipped_runs(store, ds).items():
        m = run["metrics"]
        for p in [*RANKING, "ratings"]:
            if p not in m:
                continue
            rows.append(
                {
                    "model": name,
                    "protocol": p,
                    **{k: v for k, v in m[p].items()},
                    "train_seconds": m.get("seconds", {}).get("fit" if p != "ratings" else "fit_ratings"),
                    "status": run["status"],
                    "built": run["finished"],
                }
            )
    return rows

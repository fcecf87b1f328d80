"""What a stored run keeps beside its row, and how a stored run is rebuilt: the top-50 lists of
every user, item/user embeddings with their PCA coordinates, the weights (a plain
state_dict), a large catalogue's fitted arrays, NCF's cold-start list and the per-user ranks
of every ranking protocol; `load_model` rebuilds any finished run in a fresh process from
its config and weights, scoring as it did when it was evaluated.
"""

from __future__ import annotations

import numpy as np
import torch

from recsys_core.config import from_dict, to_dict
from recsys_core.data import Dataset
from recsys_core.errors import RecsysError
from recsys_core.evaluation import splits
from recsys_core.evaluation.metrics import Ranks
from recsys_core.evaluation.protocols import RANKING, TEMPORAL
from recsys_core.evaluation.scoring import evaluate_many, evaluate_temporal
from recsys_core.evaluation.temporal import temporal_split
from recsys_core.models.base import Recommender
from recsys_core.runs import zoo
from recsys_core.runs.catalog import build_protocols, run_key, shipped_config, split_of
from recsys_core.runs.record import Run
from recsys_core.runs.store import Store

TOPK = 50
STATE_ABOVE = 5_000  # items above which a closed-form model keeps its fitted arrays (EASE: 100 MB at 5,000)


def pca(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(coordinates on the first k principal components, their explained variance ratios).
    Signs fixed as scikit-learn fixes them (each component's largest loading positive), so a
    component's two ends do not swap between runs; numpy's SVD, not scikit-learn (whose
    import alone costs a training process about 70 MiB)."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(0, keepdims=True)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    vt = vt[:k] * np.sign(vt[np.arange(k), np.argmax(np.abs(vt[:k]), axis=1)])[:, None]
    var = s**2
    return x @ vt.T, var[:k] / max(var.sum(), 1e-300)


def checkpoint(model: Recommender) -> dict | None:
    """What a neural model's weights are kept as: its state_dict on the CPU with its config
    and name (a plain dict, never a module); None for a closed-form model."""
    if not isinstance(model, torch.nn.Module):
        return None
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"state_dict": state, "config": to_dict(model.cfg), "model": model.name}


def save_weights(store: Store, key: str, model: Recommender) -> None:
    """What rebuilds the fitted model without training, into the run's folder: a neural
    model's `checkpoint`, a blend's state (its networks' weights and its own); nothing for a
    closed-form model, which fits again in seconds."""
    kept = checkpoint(model)
    if kept is not None:
        store.save_weights(key, kept)
    elif model.keeps_state and model.refits_slowly:
        store.save_arrays(key, "state", **model.state_arrays())


def save_artifacts(store: Store, key: str, model: Recommender, ds: Dataset, lists=None) -> None:
    """Top-k lists, embeddings with their PCA coordinates, the cold-start list and weights."""
    if lists is None:
        lists = model.recommend(np.arange(ds.n_users), k=min(TOPK, ds.n_items))
    items, scores = lists
    for side, emb in (("item", model.item_embeddings()), ("user", model.user_embeddings())):
        if emb is None or emb.ndim != 2 or emb.shape[1] < 2:
            continue
        coords, explained = pca(emb, min(3, emb.shape[1]))
        store.save_arrays(
            key,
            f"{side}_embeddings",
            vectors=emb.astype(np.float32),
            pca=coords.astype(np.float32),
            explained=explained.astype(np.float32),
        )
    if model.has_cold_start:
        new_user = model.score_new_user().cpu().numpy()
        store.save_arrays(key, "cold_start", scores=new_user.astype(np.float32))
    if model.has_item_item:  # EASE: "people who liked this also liked"
        store.save_arrays(key, "item_item", **model.strongest(TOPK))
    if model.keeps_state and ds.n_items > STATE_ABOVE and not model.refits_slowly:  # a minute's refit: kept
        store.save_arrays(key, "state", **model.state_arrays())
    save_weights(store, key, model)
    store.save_arrays(key, "topk", items=items.astype(np.int32), scores=scores.astype(np.float32))


def save_ranks(store: Store, key: str, ranks: dict[str, Ranks]) -> None:
    """Per-user ranks of every ranking protocol of a run (`ranks.npz`): what the paired tests
    and segments read, with no model to load."""
    arrays = {}
    for p, r in ranks.items():
        arrays |= {f"{p}__users": r.users, f"{p}__items": r.items, f"{p}__ranks": r.ranks}
    store.save_arrays(key, "ranks", **arrays)


def load_ranks(store: Store, run: Run, ds: Dataset, compute: bool = True) -> dict[str, Ranks]:
    """Protocol -> per-user ranks of a stored run: from its `ranks.npz`, or, for a run stored
    before ranks were kept (or whose file fails its checksum), computed from its reloaded
    model and stored (`compute=False`: {} then). RecsysError when the run cannot be reloaded."""
    check_own(store, run)
    found = store.load_arrays(run.key, "ranks")
    if found is None and compute:
        model = load_model(store, run, ds)
        protocols = run.meta.get("protocols") or build_protocols(run.model)
        ranking = [p for p in protocols if p in RANKING]
        out = {}
        if ranking:
            out = evaluate_many(model, splits.loo_split(ds), ranking)[3]
        if TEMPORAL in protocols:
            out[TEMPORAL] = evaluate_temporal(model, temporal_split(ds))[3]
        if out:
            save_ranks(store, run.key, out)
        return out
    if found is None:
        return {}
    protocols = {k.split("__")[0] for k in found}
    return {p: Ranks(found[f"{p}__users"], found[f"{p}__items"], found[f"{p}__ranks"]) for p in protocols}


# ------------------------------------------------------------------ reloading a stored run


def train_data(ds: Dataset, protocols) -> splits.Interactions:
    """The interactions a run with these protocols was trained on (the leave-one-out train
    split for leave-one-out protocols, the temporal split's for `temporal` alone, else the
    ratings split's train part)."""
    if any(p in RANKING for p in protocols):
        return splits.loo_split(ds).train
    if TEMPORAL in protocols:
        return temporal_split(ds).train
    return splits.ratings_split(ds).train


def load_model(store: Store, run: Run, ds: Dataset, device: str = "cpu", read: bool = True) -> Recommender:
    """The fitted model of a stored run, rebuilt from its config and weights: neural models
    load their state_dict (`weights_only=True`), closed-form ones are fitted again (they are
    deterministic and take a second), or, on a catalogue over STATE_ABOVE items, restored
    from the arrays their fit computed (EASE's weights: a refit there takes a minute). Raises RecsysError when the run cannot be rebuilt
    (weights missing or corrupt, another dataset), saying what to do."""
    if run.fingerprint != ds.fingerprint:
        raise RecsysError(f"run {run.id} was trained on {run.dataset}, not on {ds.name}")
    if run.status != "done":
        raise RecsysError(f"run {run.id} is {run.status}: only a finished run can be used")
    name = run.model
    cfg = from_dict(type(zoo.entry(name).config), run.config)  # keys a newer config dropped are ignored
    protocols = run.meta.get("protocols") or build_protocols(name)
    train = train_data(ds, protocols)
    feats = ds.genre_matrix if ds.has_genres else None
    dataset = _components_dataset(run, ds, cfg, protocols)
    model = zoo.make(
        name, ds.n_users, ds.n_items, cfg=cfg, item_features=feats, split=split_of(protocols), dataset=dataset
    )
    if not zoo.is_neural(name):
        state = store.load_arrays(run.key, "state") if model.keeps_state else None
        if state is not None:
            model.restore(train, state)  # a large catalogue's EASE: its weights, not a minute's refit
        elif model.refits_slowly:
            raise RecsysError(
                f"run {run.id} ({name}): its fitted state is missing or fails its checksum; {_advice(run, ds)}"
            )
        else:
            model.fit(train)
        if read:
            _read_as_evaluated(model, ds, protocols)
        return model
    check_own(store, run)
    checkpoint = store.load_weights(run.key)
    if checkpoint is None:
        raise RecsysError(f"run {run.id} ({name}): its weights are missing or fail their checksum; {_advice(run, ds)}")
    model.prepare(train)
    if read:
        _read_as_evaluated(model, ds, protocols)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError) as e:
        raise RecsysError(f"run {run.id} ({name}): its weights do not fit its config ({e}); train it again") from e
    model.to(torch.device(device))
    model.eval()
    return model


def check_own(store: Store, run: Run) -> None:
    """RecsysError when the weights (and lists, ranks) stored under `run`'s key are no longer
    its own: the store keeps one set per settings, and a later run of the same settings (the
    Train page's Train again, a run on another device or thread count, another version of the
    code) replaced them (`RunLife.record_weights` keeps a run's own SHA-256). Runs stored
    before their weights were recorded are not checked."""
    if not store.replaced(run):
        return
    later = store.latest_done(run.key)
    by = f"run {later.id}" if later is not None and later.id != run.id else "a later run"
    raise RecsysError(
        f"run {run.id} ({run.model}): its stored weights were replaced by {by}'s, trained later with the"
        f" same settings (the store keeps one set of weights per settings). Run {run.id}'s figures are its"
        f" own, but it can no longer be reloaded or compared: use {by}, or train it again"
    )


def _components_dataset(run: Run, ds: Dataset, cfg, protocols) -> str | None:
    """The dataset whose own settings a stored run's model takes: `ds.name`, or None for a
    blend stored before a dataset's own settings (`catalog.TUNED`) reached a blend's
    components, which then mixed the models' defaults (its key says which)."""
    if zoo.entry(run.model).family != "blend" or run.key == run_key(ds, run.model, cfg, protocols):
        return ds.name
    return None if run.key == run_key(ds, run.model, cfg, protocols, tuned=False) else ds.name


def _advice(run: Run, ds: Dataset) -> str:
    """What to do about a run whose weights are gone: a shipped model is rebuilt by the build."""
    protocols = run.meta.get("protocols") or build_protocols(run.model)
    cfg = shipped_config(run.model, ds.name, protocols)
    if run.sweep is None and run.key == run_key(ds, run.model, cfg, protocols):
        return "it is a shipped model: the app's build (or `python -m recsys_core build`) trains it again by itself"
    return "train it again (the Train page, its Resubmit on the Sweeps page, or the same `train` command)"


def _read_as_evaluated(model: Recommender, ds: Dataset, protocols) -> None:
    """A model that reads history reads what it read before its test: up to the test item
    (leave-one-out), or up to the test window (temporal)."""
    if model.reads_history and any(p in RANKING for p in protocols):
        model.read(splits.loo_split(ds).valid_rows)
    elif model.reads_history and TEMPORAL in protocols:
        model.read(temporal_split(ds).valid_rows)


def save_run_artifacts(store: Store, run: Run, ds: Dataset) -> None:
    """Top-k lists, embeddings and PCA of a stored run, computed from its reloaded weights
    (a Train page run, a sweep point) so the pages can show it beside the shipped models.
    Raises RecsysError (saying what to do) when the run cannot be reloaded."""
    save_artifacts(store, run.key, load_model(store, run, ds), ds)

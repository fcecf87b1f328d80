"""Tables the pages draw, computed here so pages stay UI only (and so they are tested)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.data import Dataset
from recsys_core.splits import MIN_LOO_HISTORY


def rating_histogram(ds: Dataset) -> pd.DataFrame:
    """Number of ratings at each rating value."""
    counts = ds.ratings["rating"].value_counts().sort_index()
    return pd.DataFrame({"rating": counts.index.astype(float), "ratings": counts.to_numpy()})


def activity(ds: Dataset) -> pd.DataFrame:
    """Ratings per user and per movie, long format (who, count) for histograms."""
    return pd.concat(
        [
            pd.DataFrame({"who": "per user", "ratings": ds.user_activity}),
            pd.DataFrame({"who": "per movie", "ratings": ds.item_popularity}),
        ],
        ignore_index=True,
    )


def activity_stats(ds: Dataset) -> pd.DataFrame:
    """Min / median / mean / max ratings per user and per movie."""
    rows = []
    for who, counts in (("per user", ds.user_activity), ("per movie", ds.item_popularity)):
        rows.append(
            {
                "": who,
                "min": int(counts.min()),
                "median": float(np.median(counts)),
                "mean": round(float(counts.mean()), 1),
                "max": int(counts.max()),
            }
        )
    return pd.DataFrame(rows).set_index("")


def genre_counts(ds: Dataset) -> pd.DataFrame:
    """Movies and ratings per genre, most rated first (empty when the data has no genres)."""
    if not ds.has_genres:
        return pd.DataFrame(columns=["genre", "movies", "ratings"])
    g = ds.genre_matrix
    return (
        pd.DataFrame(
            {
                "genre": ds.genres,
                "movies": g.sum(0).astype(int),
                "ratings": (ds.item_popularity[:, None] * g).sum(0).astype(int),
            }
        )
        .sort_values("ratings", ascending=False)
        .reset_index(drop=True)
    )


def ratings_over_time(ds: Dataset) -> pd.DataFrame:
    """Ratings per month."""
    month = pd.to_datetime(ds.ratings["timestamp"], unit="s").dt.to_period("M").dt.to_timestamp()
    counts = month.value_counts().sort_index()
    return pd.DataFrame({"month": counts.index, "ratings": counts.to_numpy()})


# ------------------------------------------------------------------ views over the run store
# The pages read the store's cached results through these functions; nothing here trains.


def leaderboard_frame(store, ds: Dataset) -> pd.DataFrame:
    """One row per (model, protocol) of the shipped models, best first within a protocol."""
    from recsys_core.build import leaderboard

    rows = leaderboard(store, ds)
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    df["built"] = pd.to_datetime(df["built"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
    return df


def hr_standard_error(ds: Dataset, hr: float) -> tuple[float, int]:
    """(standard error of a leave-one-out HR@k of `hr`, number of evaluated users): one
    held-out item per user with at least 3 interactions, a binomial proportion."""
    n = int((ds.user_activity >= MIN_LOO_HISTORY).sum())
    return (float(np.sqrt(hr * (1 - hr) / n)) if n else float("nan")), n


def shipped_run(store, ds: Dataset, model: str) -> dict | None:
    """The finished run of a shipped model with its default config, if built."""
    from recsys_core.build import shipped_runs

    return shipped_runs(store, ds).get(model)


def _shipped_key(store, ds: Dataset, model: str) -> str | None:
    run = shipped_run(store, ds, model)
    return run["key"] if run else None


def models_with(store, ds: Dataset, artifact: str) -> list[str]:
    """Shipped models whose cached artifact `artifact` (e.g. 'item_embeddings') is intact."""
    from recsys_core.build import shipped_runs

    return [m for m, r in shipped_runs(store, ds).items() if store.load_arrays(r["key"], artifact) is not None]


def genre_neighbours(ds: Dataset, item: int, n: int = 10) -> pd.DataFrame:
    """Top-n genre-similar movies with cosine similarity and the genres they share."""
    g = ds.genre_matrix
    norms = np.linalg.norm(g, axis=1)
    unit = np.divide(g, norms[:, None], out=np.zeros_like(g), where=norms[:, None] > 0)
    sims = unit @ unit[item]
    pop = ds.item_popularity
    order = np.lexsort((-pop, -sims))  # most similar, then most rated
    order = order[order != item][:n]
    shared = [[ds.genres[j] for j in np.flatnonzero(g[item] * g[i])] for i in order]
    return pd.DataFrame(
        {
            "title": ds.items["title"].to_numpy()[order],
            "similarity": np.round(sims[order], 3),
            "shared genres": [", ".join(s) for s in shared],
            "all genres": ds.items["genres"].to_numpy()[order],
            "year": ds.items["year"].to_numpy()[order],
            "ratings": pop[order],
            "movie_id": ds.items["item_id"].to_numpy()[order],
        }
    )


def embedding_neighbours(store, ds: Dataset, model: str, item: int, n: int = 10, side: str = "item") -> pd.DataFrame:
    """Nearest items (or users) by cosine in a model's learned embedding space."""
    key = _shipped_key(store, ds, model)
    arrays = store.load_arrays(key, f"{side}_embeddings") if key else None
    if arrays is None:
        return pd.DataFrame()
    v = arrays["vectors"].astype(np.float64)
    unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit[item]
    sims[item] = -np.inf
    order = np.argsort(-sims, kind="stable")[:n]
    if side == "user":
        return pd.DataFrame({"user": ds.users["user_id"].to_numpy()[order], "cosine": np.round(sims[order], 3)})
    return pd.DataFrame(
        {
            "title": ds.items["title"].to_numpy()[order],
            "cosine": np.round(sims[order], 3),
            "genres": ds.items["genres"].to_numpy()[order],
            "ratings": ds.item_popularity[order],
        }
    )


def user_profile(ds: Dataset, user: int) -> dict:
    r = ds.ratings[ds.ratings["user"] == user]
    g = ds.genre_matrix[r["item"].to_numpy()].sum(0) if ds.has_genres else np.zeros(0)
    fav = [ds.genres[j] for j in np.argsort(-g)[:3] if g[j] > 0]
    out = {
        "ratings": len(r),
        "mean rating": round(float(r["rating"].mean()), 2) if len(r) else None,
        "favourite genres": fav,
    }
    for col in ds.demographics:
        out[col] = ds.users[col].iat[user]
    return out


def user_history(ds: Dataset, user: int, n: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(highest rated, most recent) movies of a user."""
    r = ds.ratings[ds.ratings["user"] == user].copy()
    r["title"] = ds.items["title"].to_numpy()[r["item"].to_numpy()]
    r["genres"] = ds.items["genres"].to_numpy()[r["item"].to_numpy()]
    r["date"] = pd.to_datetime(r["timestamp"], unit="s").dt.strftime("%Y-%m-%d")
    cols = ["title", "rating", "genres", "date"]
    top = r.sort_values(["rating", "timestamp"], ascending=[False, False])[cols].head(n)
    recent = r.sort_values("timestamp", ascending=False)[cols].head(n)
    return top.reset_index(drop=True), recent.reset_index(drop=True)


def top_list(store, ds: Dataset, model: str, user: int, test_item: int, k: int = 10) -> pd.DataFrame:
    """A model's cached top-k for a user (train items excluded), marking the held-out movie."""
    key = _shipped_key(store, ds, model)
    arrays = store.load_arrays(key, "topk") if key else None
    if arrays is None:
        return pd.DataFrame()
    items = arrays["items"][user][:k]
    scores = arrays["scores"][user][:k]
    keep = items >= 0
    items, scores = items[keep], scores[keep]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(items) + 1),
            "title": ds.items["title"].to_numpy()[items],
            "score": np.round(scores.astype(float), 4),
            "genres": ds.items["genres"].to_numpy()[items],
            "held-out test movie": items == test_item,
            "item": items,
        }
    )


def cold_start_list(store, ds: Dataset, model: str = "ncf", k: int = 10) -> pd.DataFrame:
    key = _shipped_key(store, ds, model)
    arrays = store.load_arrays(key, "cold_start") if key else None
    if arrays is None:
        return pd.DataFrame()
    s = arrays["scores"]
    order = np.argsort(-s, kind="stable")[:k]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "title": ds.items["title"].to_numpy()[order],
            "score": np.round(s[order].astype(float), 4),
            "genres": ds.items["genres"].to_numpy()[order],
            "ratings": ds.item_popularity[order],
        }
    )


def genre_mix(ds: Dataset, items: np.ndarray) -> pd.Series:
    """Share of each genre among the given movies (multi-genre movies count in each)."""
    if not ds.has_genres or len(items) == 0:
        return pd.Series(dtype=float)
    counts = ds.genre_matrix[np.asarray(items, dtype=int)].sum(0)
    return pd.Series(counts / max(counts.sum(), 1), index=ds.genres)


def embedding_map(store, ds: Dataset, model: str, side: str = "item") -> tuple[pd.DataFrame, np.ndarray] | None:
    """PCA coordinates with metadata for the scatter, and the explained variance ratios."""
    key = _shipped_key(store, ds, model)
    arrays = store.load_arrays(key, f"{side}_embeddings") if key else None
    if arrays is None:
        return None
    pca = arrays["pca"]
    df = pd.DataFrame({f"PC{j + 1}": pca[:, j] for j in range(pca.shape[1])})
    if side == "item":
        df["title"] = ds.items["title"].to_numpy()
        df["primary genre"] = _primary_genre(ds)
        df["ratings"] = ds.item_popularity
        df["id"] = np.arange(ds.n_items)
    else:
        df["title"] = "user " + ds.users["user_id"].astype(str).to_numpy()
        df["primary genre"] = _favourite_genre(ds)
        df["ratings"] = ds.user_activity
        df["id"] = np.arange(ds.n_users)
    return df, arrays["explained"]


def _primary_genre(ds: Dataset) -> np.ndarray:
    """The first listed genre of each movie ('(none)' when it has none)."""
    return ds.items["genres"].map(lambda s: s.split("|")[0] if s else "(none)").to_numpy()


def _favourite_genre(ds: Dataset) -> np.ndarray:
    if not ds.has_genres:
        return np.full(ds.n_users, "(none)")
    m = np.zeros((ds.n_users, len(ds.genres)))
    np.add.at(m, ds.ratings["user"].to_numpy(), ds.genre_matrix[ds.ratings["item"].to_numpy()])
    return np.array(ds.genres)[m.argmax(1)]


def component_ends(df: pd.DataFrame, component: str, n: int = 8) -> tuple[list[str], list[str]]:
    """Titles at the negative and positive ends of a principal component."""
    order = df.sort_values(component)
    return order["title"].head(n).tolist(), order["title"].tail(n)[::-1].tolist()


def projector_tsv(store, ds: Dataset, model: str) -> tuple[str, str] | None:
    """(vectors.tsv, metadata.tsv) in the TensorBoard projector format."""
    key = _shipped_key(store, ds, model)
    arrays = store.load_arrays(key, "item_embeddings") if key else None
    if arrays is None:
        return None
    vectors = "\n".join("\t".join(f"{x:.6g}" for x in row) for row in arrays["vectors"])
    meta = pd.DataFrame({"title": ds.items["title"], "genres": ds.items["genres"], "ratings": ds.item_popularity})
    return vectors + "\n", meta.to_csv(sep="\t", index=False)


def sweep_curves(store, ds: Dataset, sweep) -> pd.DataFrame:
    """Per-epoch rows of every point of a sweep (its latest run), long format."""
    from recsys_core.sweeps import sweep_point_run

    frames = []
    for label, cfg in sweep.configs():
        run = sweep_point_run(store, ds, sweep, cfg)
        if run is None:
            continue
        ep = pd.DataFrame(store.epochs(run["id"]))
        if ep.empty:
            continue
        ep["value"] = label
        ep["status"] = run["status"]
        frames.append(ep)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ------------------------------------------------------------------ runs from the Train page


def run_metric(run: dict, protocol: str | None = None) -> tuple[str, float | None]:
    """(name, value) of a run's headline test figure: NDCG@10 for ranking, RMSE for ratings."""
    metrics = {k: v for k, v in run["metrics"].items() if isinstance(v, dict)}
    protocol = protocol or next(iter(metrics), None)
    m = metrics.get(protocol, {})
    return ("RMSE", m.get("RMSE")) if "RMSE" in m else ("NDCG@10", m.get("NDCG@10"))


def my_runs_frame(store, ds: Dataset) -> pd.DataFrame:
    """The runs started from the Train page on this dataset, newest first."""
    from recsys_core.jobs import MY_RUNS

    rows = []
    for r in reversed(store.runs(sweep=MY_RUNS, fingerprint=ds.fingerprint)):
        protocol = (r["meta"].get("protocols") or ["?"])[0]
        m = r["metrics"].get(protocol, {}) if isinstance(r["metrics"].get(protocol), dict) else {}
        epochs = store.epochs(r["id"])
        rows.append(
            {
                "run": r["id"],
                "model": r["model"],
                "changes": r["label"],
                "protocol": protocol,
                "status": r["status"],
                "HR@10": m.get("HR@10"),
                "NDCG@10": m.get("NDCG@10"),
                "RMSE": m.get("RMSE"),
                "epochs": len(epochs),
                "best_epoch": r["best_epoch"],
                "s/epoch": float(np.mean([e["seconds"] for e in epochs])) if epochs else None,
                "device": r["device"],
                "started": pd.to_datetime(r["created"], unit="s"),
                "message": r["error"] or "",
            }
        )
    return pd.DataFrame(rows)


def run_curves(store, run_ids: list[int], names: dict[int, str] | None = None) -> pd.DataFrame:
    """Per-epoch rows of several runs, long format, `run` naming each line."""
    frames = []
    for rid in run_ids:
        ep = pd.DataFrame(store.epochs(rid))
        if not ep.empty:
            ep["run"] = (names or {}).get(rid, f"run {rid}")
            frames.append(ep)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def closest_sweep(model: str, overrides: dict, sweeps: dict):
    """The sweep to draw a run beside: of the same model, varying a parameter the run changed
    (else the model's first sweep); None when the model has no sweep."""
    from recsys_core.jobs import changed

    mine = [s for s in sweeps.values() if s.model == model]
    if not mine:
        return None
    diff = set(changed(model, overrides))
    for s in mine:
        varied = {k for _, ov in s.points for k in ov}
        if varied & diff:
            return s
    return mine[0]


def model_runs_frame(store, ds: Dataset, model: str) -> pd.DataFrame:
    """Every finished run of a model on this dataset (shipped, sweeps, my runs): the numeric
    config values that vary between them, and the validation metric at the best and at the
    last epoch, plus the test figure. The parallel-coordinates view of the Sweeps page."""
    rows = []
    for r in store.runs(model=model, fingerprint=ds.fingerprint):
        if r["status"] not in ("done", "diverged"):
            continue
        epochs = store.epochs(r["id"])
        if not epochs:
            continue
        monitor = "RMSE" if "RMSE" in epochs[-1] else "NDCG@10"
        best = epochs[r["best_epoch"] - 1] if r["best_epoch"] and r["best_epoch"] <= len(epochs) else epochs[-1]
        name, test = run_metric(r)
        row = {"run": r["id"], "source": r["sweep"] or "shipped", "status": r["status"]}
        for k, v in r["config"].items():
            if k in ("seed", "device"):
                continue
            if isinstance(v, (bool, str)):
                row[k] = str(v).lower()
            elif isinstance(v, (int, float)):
                row[k] = float(v)
            elif isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
                row[f"{k} (first)"] = float(v[0])
                row[f"{k} (depth)"] = float(len(v))
        row[f"best-epoch valid {monitor}"] = best.get(monitor)
        row[f"last-epoch valid {monitor}"] = epochs[-1].get(monitor)
        row["epochs run"] = float(len(epochs))
        row[f"test {name}"] = test
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    fixed = [c for c in df.columns[3:] if c.split(" ")[0] not in ("best-epoch", "last-epoch", "test", "epochs")
             and df[c].nunique(dropna=False) <= 1]  # fmt: skip
    return df.drop(columns=fixed)

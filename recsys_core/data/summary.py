"""What describes a dataset for the pages: rating and activity histograms, genre counts,
a user's profile and history, genre neighbours, genre mixes. Pure functions of a Dataset
(no store, no model); the app's pages draw them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.data.dataset import Dataset


def rating_histogram(ds: Dataset) -> pd.DataFrame:
    """Number of ratings at each rating value."""
    counts = ds.ratings["rating"].value_counts().sort_index()
    return pd.DataFrame({"rating": counts.index.astype(float), "ratings": counts.to_numpy()})


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


def genre_mix(ds: Dataset, items: np.ndarray) -> pd.Series:
    """Share of each genre among the given movies (multi-genre movies count in each)."""
    if not ds.has_genres or len(items) == 0:
        return pd.Series(dtype=float)
    counts = ds.genre_matrix[np.asarray(items, dtype=int)].sum(0)
    return pd.Series(counts / max(counts.sum(), 1), index=ds.genres)


def primary_genre(ds: Dataset) -> np.ndarray:
    """The first listed genre of each movie ('(none)' when it has none)."""
    return ds.items["genres"].map(lambda s: s.split("|")[0] if s else "(none)").to_numpy()


def favourite_genre(ds: Dataset) -> np.ndarray:
    if not ds.has_genres:
        return np.full(ds.n_users, "(none)")
    m = np.zeros((ds.n_users, len(ds.genres)))
    np.add.at(m, ds.ratings["user"].to_numpy(), ds.genre_matrix[ds.ratings["item"].to_numpy()])
    return np.array(ds.genres)[m.argmax(1)]


def component_ends(df: pd.DataFrame, component: str, n: int = 8) -> tuple[list[str], list[str]]:
    """Titles at the negative and positive ends of a principal component."""
    order = df.sort_values(component)
    return order["title"].head(n).tolist(), order["title"].tail(n)[::-1].tolist()

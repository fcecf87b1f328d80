"""Tables the pages draw, computed here so pages stay UI only (and so they are tested)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.data import Dataset


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

"""Embedding maths for the pages: neighbours in a learned space, how good they are, and what
a map's axes separate. Numpy only (no torch), so the results reader stays light.

Neighbours are judged by a measure, not by taste (`neighbour_quality`): over a panel of the
most-rated movies, the share of each movie's neighbours that share a genre with it, and how
far apart their release years are. The pages default to the variant that scores best.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

VARIANTS = {"top-pc": "removed (top component)", "centred": "centred only", "none": "kept"}
PANEL = 50  # well-known movies the neighbours are judged on
MIN_RATINGS = 20  # with popularity removed, rare movies' noisy vectors are kept out


def debiased(vectors: np.ndarray, how: str = "none") -> np.ndarray:
    """Embedding vectors for neighbour search: as learned ("none"), centred on their mean
    ("centred"), or centred with the first principal component removed ("top-pc")."""
    v = np.asarray(vectors, dtype=np.float64)
    if how == "none":
        return v
    v = v - v.mean(0, keepdims=True)
    if how == "top-pc":
        top = np.linalg.svd(v, full_matrices=False)[2][0]  # the direction of largest variance
        v = v - np.outer(v @ top, top)
    return v


def cosine_to(vectors: np.ndarray, row: int) -> np.ndarray:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return unit @ unit[row]


def neighbours(
    vectors: np.ndarray, item: int, n: int, popularity: np.ndarray | None = None, min_ratings: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(the `n` rows nearest to `row` `item` by cosine, their cosines): itself left out, and
    items with fewer than `min_ratings` ratings where `popularity` is given."""
    sims = cosine_to(vectors, item)
    sims[item] = -np.inf
    if min_ratings and popularity is not None:
        sims[popularity < min_ratings] = -np.inf
    order = np.argsort(-sims, kind="stable")[:n]
    return order, sims[order]


def panel(popularity: np.ndarray, size: int = PANEL) -> np.ndarray:
    """The `size` most-rated items (ties by id): movies everyone knows, to judge neighbours on."""
    return np.lexsort((np.arange(len(popularity)), -np.asarray(popularity)))[:size]


def quality(lists: dict[int, np.ndarray], genres: np.ndarray | None, years: np.ndarray | None) -> dict[str, float]:
    """Over query -> neighbour lists: the share of neighbours sharing at least one genre with
    their query, and the median absolute gap in release years (NaN where unknown)."""
    share, gaps = [], []
    for q, near in lists.items():
        if genres is not None and genres.shape[1]:
            share.append(float(((genres[near] & genres[q]).sum(1) > 0).mean()))
        if years is not None and np.isfinite(years[q]):
            y = years[near]
            gaps.extend(np.abs(y[np.isfinite(y)] - years[q]).tolist())
    return {
        "shares a genre": float(np.mean(share)) if share else float("nan"),
        "median year gap": float(np.median(gaps)) if gaps else float("nan"),
    }


def neighbour_quality(
    vectors: np.ndarray | None,
    popularity: np.ndarray,
    genres: np.ndarray | None,
    years: np.ndarray | None,
    item_item: dict | None = None,
    n: int = 10,
) -> pd.DataFrame:
    """One row per neighbour variant (the embedding kept raw, centred, with its top component
    removed; and EASE's item-item weights where given) over the panel of well-known movies."""
    queries = panel(popularity)
    g = None if genres is None else np.asarray(genres, dtype=bool)
    y = None if years is None else np.asarray(years, dtype=np.float64)
    rows = []
    if vectors is not None:
        for how, label in VARIANTS.items():
            v = debiased(vectors, how)
            floor = MIN_RATINGS if how != "none" else 0
            lists = {int(q): neighbours(v, int(q), n, popularity, floor)[0] for q in queries}
            rows.append({"variant": how, "neighbours": f"popularity direction {label}", **quality(lists, g, y)})
    if item_item is not None:
        found = {int(q): item_item["items"][q][:n] for q in queries}
        lists = {q: row[row >= 0] for q, row in found.items()}  # a bounded EASE has none for rare items
        rows.append({"variant": "ease", "neighbours": "EASE item-item weights", **quality(lists, g, y)})
    return pd.DataFrame(rows)


def best_variant(table: pd.DataFrame) -> str:
    """The embedding variant with the most genre-sharing neighbours (fewer years apart breaks ties)."""
    emb = table[table["variant"].isin(list(VARIANTS))]
    if emb.empty:
        return "top-pc"
    ranked = emb.sort_values(["shares a genre", "median year gap"], ascending=[False, True], na_position="last")
    return str(ranked.iloc[0]["variant"])


def component_story(df: pd.DataFrame, component: str, features: dict[str, np.ndarray], genres: pd.DataFrame | None):
    """What a map's axis separates, from the data: its correlation with each feature (name ->
    values per point, e.g. log popularity, mean rating, year) and the genres over-represented
    among the 10 % of points at each end. Returns (correlations, genres at the − end, at the + end)."""
    x = df[component].to_numpy(dtype=np.float64)
    corr = {}
    for name, values in features.items():
        v = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(v) & np.isfinite(x)
        if ok.sum() > 2 and np.std(v[ok]) > 0 and np.std(x[ok]) > 0:
            corr[name] = float(np.corrcoef(x[ok], v[ok])[0, 1])
    ends = ([], [])
    if genres is not None and genres.shape[1]:
        k = max(1, len(x) // 10)
        order = np.argsort(x, kind="stable")
        base = genres.to_numpy(dtype=np.float64).mean(0)
        for j, idx in enumerate((order[:k], order[-k:])):
            lift = genres.to_numpy(dtype=np.float64)[idx].mean(0) - base
            top = np.argsort(-lift)[:2]
            ends[j].extend(str(genres.columns[t]) for t in top if lift[t] > 0.05)
    return corr, ends[0], ends[1]


def because(
    history: np.ndarray,
    recs: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    vectors: np.ndarray | None = None,
    attention: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Why each recommended item: the history item that contributes most to it, and its share.

    - `weights` (EASE's item-item weights B[history, recs], [len(history), len(recs)]): the
      score of item i is the sum over the history of B[j, i], so each history item's
      contribution is B[j, i] itself.
    - `vectors` (a model's item embeddings): the history item whose vector is most similar
      (cosine) to the recommended one's; with `attention` (SASRec: how much its latest
      position reads each history item, aligned with `history`), the similarity weighted by
      that attention.
    Returns (the history item per recommendation, its contribution: the weight, the cosine or
    the attention-weighted cosine; -1 and NaN where the user has no history)."""
    history, recs = np.asarray(history, dtype=np.int64), np.asarray(recs, dtype=np.int64)
    if not len(history) or not len(recs):
        return np.full(len(recs), -1), np.full(len(recs), np.nan)
    if weights is not None:
        contrib = np.asarray(weights, dtype=np.float64)  # [history, recs]
    else:
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        contrib = unit[history] @ unit[recs].T
        if attention is not None:
            contrib = contrib * np.asarray(attention, dtype=np.float64)[:, None]
    top = contrib.argmax(0)
    return history[top], contrib[top, np.arange(len(recs))]

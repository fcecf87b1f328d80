"""Find movies by title and users by original id, forgiving of case, year and articles."""

from __future__ import annotations

import difflib
import re

import pandas as pd

from recsys_core.data import Dataset
from recsys_core.errors import RecsysError

_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_ARTICLE = re.compile(r"^(.*), (the|a|an|les|la|le|il|el|das|der|die)$", re.IGNORECASE)


def normalise(title: str) -> str:
    """'American President, The (1995)' -> 'the american president'."""
    t = _YEAR.sub("", str(title)).strip()
    m = _ARTICLE.match(t)
    if m:
        t = f"{m.group(2)} {m.group(1)}"
    return re.sub(r"\s+", " ", t).strip().lower()


def find_movie(ds: Dataset, query: str) -> int:
    """The item index for a title (or "id:<movie id>"); ambiguous or unknown titles raise
    with the closest matches."""
    titles = ds.items["title"]
    if query.strip().lower().startswith("id:"):
        ids = ds.items["item_id"]
        hit = ids.index[ids == query.strip()[3:].strip()]
        if len(hit):
            return int(hit[0])
        raise RecsysError(f"no movie with id {query.strip()[3:]!r} in {ds.name}")
    exact = titles.str.lower() == query.strip().lower()
    if exact.sum() == 1:
        return int(exact.to_numpy().argmax())
    norm = _normalised_titles(ds)
    q = normalise(query)
    hits = norm.index[norm == q] if not exact.any() else titles.index[exact]
    if len(hits) == 1:
        return int(hits[0])
    if len(hits) > 1:
        listed = "; ".join(f"{titles.iat[i]} [movie id {ds.items['item_id'].iat[i]}]" for i in hits[:10])
        raise RecsysError(f"{query!r} matches {len(hits)} movies: {listed}. Add the year, or give 'id:<movie id>'.")
    close = difflib.get_close_matches(q, norm.tolist(), n=5, cutoff=0.6)
    contains = norm.index[norm.str.contains(re.escape(q), regex=True)][:5] if q else []
    suggestions = list(
        dict.fromkeys([titles.iat[int(norm.index[norm == c][0])] for c in close] + [titles.iat[i] for i in contains])
    )
    hint = f" Closest: {'; '.join(suggestions[:5])}." if suggestions else ""
    raise RecsysError(f"no movie titled {query!r} in {ds.name}.{hint}")


def _normalised_titles(ds: Dataset) -> pd.Series:
    cached = ds.__dict__.get("_normalised_titles")
    if cached is None:
        cached = ds.items["title"].map(normalise)
        ds.__dict__["_normalised_titles"] = cached
    return cached


def find_user(ds: Dataset, user_id: str | int) -> int:
    """The user index for an original user id."""
    ids = ds.users["user_id"]
    hit = ids.index[ids == str(user_id).strip()]
    if len(hit) == 0:
        raise RecsysError(
            f"no user with id {user_id!r} in {ds.name} ({ds.n_users:,} users, ids {ids.iat[0]} .. {ids.iat[-1]})"
        )
    return int(hit[0])

"""The one normalised `Dataset` every loader produces, and its on-disk cache."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

CACHE_VERSION = 2  # bump when the parsed layout changes: old caches are then ignored


@dataclass
class Dataset:
    """Ratings with contiguous indices, plus item and user tables.

    `ratings`: columns user (int32, 0..n_users-1), item (int32, 0..n_items-1),
    rating (float32), timestamp (int64, seconds), one row per (user, item).
    `items`: one row per item index: item_id (original id, str), title ("Title (Year)"),
    year (nullable Int32), genres ("A|B", empty when none).
    `users`: one row per user index: user_id (original id, str) and, where the data has
    them, age, gender, occupation, zip.
    """

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    genres: list[str]
    notes: list[str] = field(default_factory=list)  # what the loader fixed up (duplicates, ...)
    extra: dict = field(default_factory=dict)  # loader facts, e.g. movie rows before dropping unrated

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_ratings(self) -> int:
        return len(self.ratings)

    @property
    def density(self) -> float:
        return self.n_ratings / max(1, self.n_users * self.n_items)

    @property
    def has_genres(self) -> bool:
        return len(self.genres) > 0

    @property
    def item_noun(self) -> str:
        """What an item is called on the pages: "movie" for MovieLens, a log's own word."""
        return str(self.extra.get("item_noun") or "movie")

    @property
    def category_noun(self) -> str:
        """What the item categories are called: "genres" for MovieLens, "categories" for a log."""
        return str(self.extra.get("category_noun") or "genres")

    @property
    def implicit(self) -> bool:
        """No ratings: every interaction is a positive."""
        return bool(self.extra.get("implicit"))

    @property
    def demographics(self) -> list[str]:
        """The user columns beyond the id that this dataset has (may be empty)."""
        return [c for c in ("age", "gender", "occupation", "zip") if c in self.users.columns]

    @cached_property
    def genre_matrix(self) -> np.ndarray:
        """Multi-hot [n_items, n_genres] float32 (zero columns when the data has no genres)."""
        m = np.zeros((self.n_items, len(self.genres)), dtype=np.float32)
        padded = "|" + self.items["genres"].fillna("").astype(str) + "|"
        for j, g in enumerate(self.genres):
            m[:, j] = padded.str.contains(f"|{g}|", regex=False).to_numpy()
        return m

    @cached_property
    def item_popularity(self) -> np.ndarray:
        """Number of ratings per item, int64 [n_items]."""
        return np.bincount(self.ratings["item"].to_numpy(), minlength=self.n_items)

    @cached_property
    def user_activity(self) -> np.ndarray:
        """Number of ratings per user, int64 [n_users]."""
        return np.bincount(self.ratings["user"].to_numpy(), minlength=self.n_users)

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the normalised data: changes iff the data changes."""
        h = hashlib.sha256()
        r = self.ratings
        for col in ("user", "item", "rating", "timestamp"):
            h.update(np.ascontiguousarray(r[col].to_numpy()).tobytes())
        h.update("\x1f".join(self.items["item_id"].astype(str)).encode())
        h.update("\x1f".join(self.items["genres"].fillna("").astype(str)).encode())
        h.update("\x1f".join(self.users["user_id"].astype(str)).encode())
        return h.hexdigest()[:16]

    def info(self) -> dict:
        """Summary used by `data info` and the home page."""
        r = self.ratings["rating"]
        return {
            "name": self.name,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "n_ratings": self.n_ratings,
            "n_genres": len(self.genres),
            "rating_min": float(r.min()) if len(r) else None,
            "rating_max": float(r.max()) if len(r) else None,
            "density": round(self.density, 6),
            "fingerprint": self.fingerprint,
            "demographics": self.demographics,
            "first_rating": _iso(self.ratings["timestamp"].min()) if len(r) else None,
            "last_rating": _iso(self.ratings["timestamp"].max()) if len(r) else None,
            "notes": list(self.notes),
            **{k: v for k, v in self.extra.items() if isinstance(v, (int, float, str))},
        }

    def title_of(self, item: int) -> str:
        return str(self.items["title"].iat[int(item)])


def _iso(ts) -> str:
    return pd.Timestamp(int(ts), unit="s").strftime("%Y-%m-%d")


# ---------------------------------------------------------------- building from raw frames


def build_dataset(
    name: str,
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame | None,
    genres: list[str],
    notes: list[str] | None = None,
    drop_unrated: bool = True,
) -> Dataset:
    """Normalise raw frames keyed by original ids into a `Dataset`.

    `ratings` has user_id, item_id (str), rating, timestamp; already validated, with one
    row per (user, item). `items` has item_id, title, year, genres. Items that nobody rated
    are dropped (they carry no signal and have no popularity), and counted in `extra`.
    """
    notes = list(notes or [])
    extra = {"movie_rows": int(len(items))}
    rated = pd.Index(ratings["item_id"].unique())
    if drop_unrated:
        items = items[items["item_id"].isin(rated)]
        dropped = extra["movie_rows"] - len(items)
        if dropped:
            notes.append(f"{dropped} movies with no ratings left out of the catalogue")
    items = items.iloc[_natural_order(items["item_id"])].reset_index(drop=True)
    user_ids = pd.Index(ratings["user_id"].unique())
    user_ids = user_ids[_natural_order(pd.Series(user_ids))]
    users_df = pd.DataFrame({"user_id": user_ids.astype(str)})
    if users is not None and len(users):
        users = users.drop_duplicates("user_id", keep="last").set_index("user_id")
        users_df = users_df.join(users, on="user_id")
    u_index = pd.Index(users_df["user_id"])
    i_index = pd.Index(items["item_id"].astype(str))
    user = u_index.get_indexer(ratings["user_id"].astype(str)).astype(np.int32)
    item = i_index.get_indexer(ratings["item_id"].astype(str)).astype(np.int32)
    ts = ratings["timestamp"].to_numpy(dtype=np.int64)
    rating = ratings["rating"].to_numpy(dtype=np.float32)
    return from_codes(name, user, item, rating, ts, items, users_df, genres, notes, extra)


def from_codes(
    name: str,
    user: np.ndarray,
    item: np.ndarray,
    rating: np.ndarray,
    ts: np.ndarray,
    items: pd.DataFrame,
    users: pd.DataFrame,
    genres: list[str],
    notes: list[str],
    extra: dict,
    item_noun: str = "movie",
) -> Dataset:
    """The `Dataset` from rows already coded as item and user indices (int32, into `items`
    and `users`, which are in their final order): rows sorted by user, then time, then a
    fixed hash of (user, item), and duplicate (user, item) rows reduced to the latest."""
    n_items = len(items)
    # Equal timestamps (common: ml-100k users rated in bursts) are ordered by a fixed hash of
    # (user, item), not by file order, so the leave-one-out split does not depend on how a
    # file was written (a copy sorted by movie id would move popularity's HR@10 from 0.39 to
    # 0.32 on ml-100k). See README, "Protocol sensitivity" and benchmarks/bench_tie_order.py.
    tie = _mix(user.astype(np.uint64) * np.uint64(n_items) + item.astype(np.uint64))
    order = np.lexsort((tie, ts, user))
    user, item, ts, rating = user[order], item[order], ts[order], rating[order]
    # duplicate (user, item) rows: keep the latest (ties: the later row in the file)
    key = user.astype(np.int64) * n_items + item
    _, last_rev = np.unique(key[::-1], return_index=True)
    keep = np.sort(len(key) - 1 - last_rev)
    if len(keep) < len(key):
        notes.append(f"{len(key) - len(keep):,} duplicate (user, {item_noun}) rows: kept the latest of each")
    out = pd.DataFrame({"user": user[keep], "item": item[keep], "rating": rating[keep], "timestamp": ts[keep]})
    items = items.assign(
        item_id=items["item_id"].astype(str),
        title=items["title"].astype(str),
        year=pd.array(items["year"], dtype="Int32"),
        genres=items["genres"].fillna("").astype(str),
    )[["item_id", "title", "year", "genres"]]
    return Dataset(name, out, items, users, list(genres), notes, extra)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a fixed, well-spread hash of uint64 keys."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _natural_order(ids: pd.Series) -> np.ndarray:
    """Positions that sort ids numerically when they all are numbers, else as strings."""
    s = pd.Series(ids).astype(str).reset_index(drop=True)
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all():
        return np.argsort(num.to_numpy(), kind="stable")
    return np.argsort(s.to_numpy(dtype=object), kind="stable")


# ---------------------------------------------------------------- cache (parquet, atomic)


def save_cache(ds: Dataset, folder: Path) -> None:
    """Write the dataset to `folder` atomically: a temp folder renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        ds.ratings.to_parquet(tmp / "ratings.parquet", index=False)
        ds.items.to_parquet(tmp / "items.parquet", index=False)
        ds.users.to_parquet(tmp / "users.parquet", index=False)
        meta = {
            "version": CACHE_VERSION,
            "name": ds.name,
            "genres": ds.genres,
            "notes": ds.notes,
            "extra": ds.extra,
            "fingerprint": ds.fingerprint,
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_parquet(folder: Path, names) -> list[pd.DataFrame]:
    """The frames, read with Arrow allocating from the C library's heap: its default pool
    (mimalloc) keeps what a read used for itself, where torch's tensors cannot reuse it
    (ml-1m: 33 MiB of a training process's peak; docs/benchmarks.md, "Memory")."""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        return [pd.read_parquet(folder / f"{name}.parquet") for name in names]
    finally:
        pa.set_memory_pool(previous)


def load_cache(folder: Path) -> Dataset | None:
    """The cached dataset, or None when the cache is missing, old or unreadable."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("version") != CACHE_VERSION:
            return None
        ratings, items, users = _read_parquet(folder, ("ratings", "items", "users"))
        ds = Dataset(
            meta["name"],
            ratings,
            items,
            users,
            meta["genres"],
            meta["notes"],
            meta["extra"],
        )
        ds.__dict__["fingerprint"] = meta["fingerprint"]  # computed at parse time
        return ds
    except Exception:  # noqa: BLE001 - any unreadable cache is simply rebuilt
        return None

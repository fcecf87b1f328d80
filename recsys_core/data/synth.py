"""Interaction logs shaped like real ones, at any size (`python -m recsys_core data synth`).

Real logs (MovieLens-25M, a shop's orders) are heavy-tailed on both sides: a few items take
most interactions and most users have few, and a user's interactions come in sessions in
time. The generator draws:

- item popularity: Zipf, weight (rank + 10) ** -ALPHA over a shuffled catalogue;
- user activity: log-normal (sigma 1.1), at least MIN_PER_USER each, scaled to the asked total
  (MovieLens-25M: median 71, mean 154, at least 20);
- taste: each user has a favourite category; half of their interactions come from it (by the
  items' popularity inside it), half from the whole catalogue, so models have something to learn;
- time: each user arrives at a random moment over SPAN_YEARS and acts in sessions (a
  geometric number of interactions each, minutes apart inside, days apart between);
- ratings (unless `implicit`): half-stars 0.5-5, higher inside the favourite category.

Draws are without repeats per user (repeats are redrawn, up to REDRAWS rounds, the later ones
from the whole catalogue), so the log has the asked number of distinct (user, item) rows, or
within a fraction of a per cent of it (the heaviest users exhaust the popular items). Everything is vectorised: 25 million rows take
about a minute and a few GB. Written as Parquet (or CSV) with an item table and a dataset
TOML file that names both, which `load_dataset` and the app read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recsys_core.data.logspec import LogSpec, write_toml
from recsys_core.errors import DataError

ALPHA = 1.0
MIN_PER_USER = 5
SIGMA = 1.1
SPAN_YEARS = 10
REDRAWS = 12
START = 1_420_070_400  # 2015-01-01
CATEGORY_WORDS = [
    "Books", "Music", "Garden", "Kitchen", "Toys", "Sports", "Beauty", "Tools", "Games", "Office",
    "Pets", "Baby", "Outdoor", "Health", "Crafts", "Travel", "Film", "Shoes", "Home", "Auto",
]  # fmt: skip


@dataclass
class Synth:
    users: int
    items: int
    interactions: int
    seed: int = 0
    categories: int = 12
    implicit: bool = False

    def check(self) -> None:
        if self.users < 2 or self.items < 10:
            raise DataError("synth needs at least 2 users and 10 items")
        if not 1 <= self.categories <= len(CATEGORY_WORDS):
            raise DataError(f"synth has 1 to {len(CATEGORY_WORDS)} categories")
        if self.interactions < self.users * MIN_PER_USER:
            raise DataError(
                f"{self.interactions:,} interactions for {self.users:,} users: each user needs at least "
                f"{MIN_PER_USER}, so at least {self.users * MIN_PER_USER:,}"
            )
        if self.interactions > self.users * self.items // 2:
            raise DataError(f"{self.interactions:,} interactions is over half of every (user, item) pair")


def activity(rng: np.random.Generator, users: int, total: int, cap: int) -> np.ndarray:
    """Interactions per user: log-normal, at least MIN_PER_USER, at most `cap`, summing to `total`."""
    raw = rng.lognormal(0.0, SIGMA, users)
    extra = total - users * MIN_PER_USER
    counts = MIN_PER_USER + np.floor(raw / raw.sum() * extra).astype(np.int64)
    counts = np.minimum(counts, cap)
    short = total - counts.sum()
    while short > 0:  # rounding and the cap: hand out the rest to users below the cap
        room = np.flatnonzero(counts < cap)
        pick = rng.choice(room, size=min(short, len(room)), replace=False)
        counts[pick] += 1
        short = total - counts.sum()
    return counts


def generate(s: Synth) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(log, item table): the log's columns user_id, item_id, timestamp[, rating].

    long: one generative story told in order (popularity, categories, activity, tastes,
    sessions, times, ratings), each step drawing from the same seeded generator."""
    s.check()
    rng = np.random.default_rng(s.seed)
    weight = (np.arange(s.items) + 10.0) ** -ALPHA
    item_of_rank = rng.permutation(s.items)
    pop = np.empty(s.items)
    pop[item_of_rank] = weight / weight.sum()
    # categories: a primary one per item (Zipf over categories), sometimes a second
    cat_weight = (np.arange(s.categories) + 1.0) ** -0.7
    primary = rng.choice(s.categories, size=s.items, p=cat_weight / cat_weight.sum())
    second = np.where(rng.random(s.items) < 0.35, rng.integers(0, s.categories, s.items), primary)
    # the catalogue sorted by primary category, with a popularity cdf inside each category,
    # stacked as category + cdf so one searchsorted draws from any category
    by_cat = np.argsort(primary, kind="stable")
    cat_sizes = np.bincount(primary, minlength=s.categories)
    cat_start = np.concatenate([[0], np.cumsum(cat_sizes)[:-1]])
    within = np.zeros(s.items)
    for c in range(s.categories):
        members = by_cat[cat_start[c] : cat_start[c] + cat_sizes[c]]
        if len(members):
            within[cat_start[c] : cat_start[c] + len(members)] = c + np.cumsum(pop[members]) / pop[members].sum()
    global_cdf = np.cumsum(pop)
    global_cdf /= global_cdf[-1]
    fav = rng.choice(s.categories, size=s.users, p=cat_weight / cat_weight.sum())
    fav = np.where(cat_sizes[fav] > 0, fav, primary[item_of_rank[0]])
    counts = activity(rng, s.users, s.interactions, cap=s.items // 2)

    def draw(user: np.ndarray, fav_share: float = 0.5) -> np.ndarray:
        u = rng.random(len(user))
        from_fav = rng.random(len(user)) < fav_share
        out = np.searchsorted(global_cdf, u, side="right").clip(0, s.items - 1)
        key = fav[user[from_fav]] + u[from_fav] * (1 - 1e-12)
        pos = np.searchsorted(within, key, side="right")
        pos = np.minimum(pos, cat_start[fav[user[from_fav]]] + cat_sizes[fav[user[from_fav]]] - 1)
        out[from_fav] = by_cat[pos]
        return out

    user = np.repeat(np.arange(s.users), counts)
    item = draw(user)
    for round_ in range(REDRAWS):  # repeats of a (user, item) pair are redrawn, later from the whole catalogue
        key = user.astype(np.int64) * s.items + item
        _, first = np.unique(key, return_index=True)
        dup = np.ones(len(key), dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        item[dup] = draw(user[dup], 0.5 if round_ < 2 else 0.0)
    key = user.astype(np.int64) * s.items + item
    _, first = np.unique(key, return_index=True)
    first.sort()
    user, item = user[first], item[first]
    # time: arrival, then sessions of geometric length, minutes apart inside, days between
    n = len(user)
    arrival = START + rng.integers(0, SPAN_YEARS * 365 * 86400 // 2, s.users)
    new_session = rng.random(n) < 0.15
    starts = np.r_[True, user[1:] != user[:-1]]
    gap = np.where(new_session | starts, rng.exponential(5 * 86400, n), rng.exponential(240, n))
    gap[starts] = 0
    clock = np.cumsum(gap)
    first_of_user = np.flatnonzero(starts)
    clock -= np.repeat(clock[first_of_user], np.diff(np.r_[first_of_user, n]))
    ts = arrival[user] + clock.astype(np.int64)
    log = pd.DataFrame(
        {"user_id": (user + 1).astype(np.int64), "item_id": (item + 1).astype(np.int64), "timestamp": ts}
    )
    if not s.implicit:
        liked = (primary[item] == fav[user]) | (second[item] == fav[user])
        stars = np.clip(np.round((3.3 + 0.6 * liked + rng.normal(0, 0.9, n)) * 2) / 2, 0.5, 5.0)
        log["rating"] = stars.astype(np.float32)
    words = CATEGORY_WORDS[: s.categories]
    cats = [words[p] if p == q else f"{words[p]}|{words[q]}" for p, q in zip(primary, second)]
    items = pd.DataFrame({"item_id": np.arange(1, s.items + 1), "name": [f"Item {i}" for i in range(1, s.items + 1)]})
    items["categories"] = cats
    return log, items


def write(s: Synth, out: Path) -> Path:
    """Write the log to `out` (.parquet or .csv), its item table beside it
    (`<stem>.items.<ext>`) and a dataset file (`<stem>.toml`); returns the TOML's path."""
    log, items = generate(s)
    out.parent.mkdir(parents=True, exist_ok=True)
    ext = out.suffix.lower()
    items_path = out.with_name(f"{out.stem}.items{ext}")
    if ext == ".csv":
        log.to_csv(out, index=False)
        items.to_csv(items_path, index=False)
    elif ext in (".parquet", ".pq"):
        pq.write_table(pa.Table.from_pandas(log, preserve_index=False), out)
        pq.write_table(pa.Table.from_pandas(items, preserve_index=False), items_path)
    else:
        raise DataError(f"synth writes .parquet or .csv, not {ext or 'a file without a suffix'}", str(out))
    spec = LogSpec(
        Path(out.name),
        {"user": "user_id", "item": "item_id", "time": "timestamp", **({} if s.implicit else {"rating": "rating"})},
        Path(items_path.name),
        {"item": "item_id", "name": "name", "categories": ["categories"]},
        "|",
    )
    return write_toml(spec, out.with_suffix(".toml"))

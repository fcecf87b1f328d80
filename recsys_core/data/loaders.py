"""Parsers for the MovieLens family, Netflix Prize and RecBole atomic files.

Each parser takes a `Source` (folder or zip) and returns a `Dataset`. Validation is
shared: ratings numeric and in range, every rated movie known, duplicates resolved
(latest kept, counted), unparseable years kept empty.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from recsys_core.data.dataset import Dataset, build_dataset
from recsys_core.data.sources import Source, check_range, line_of, numeric, read_table
from recsys_core.errors import DataError

ML100K_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]  # fmt: skip  (the vocabulary in the order of u.item's flags, a few a line, reads as a table)
ML1M_AGES = {"1": "Under 18", "18": "18-24", "25": "25-34", "35": "35-44", "45": "45-49", "50": "50-55", "56": "56+"}
ML1M_OCCUPATIONS = [
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
]  # fmt: skip  (GroupLens' occupation codes 0-20 in order, a table)
MOVIELENS_RATINGS = (0.5, 5.0)
NUMBERS = ("rating", "timestamp")  # parsed by the C parser when clean
_YEAR = re.compile(r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$")


def detect(src: Source) -> str:
    """Which format a folder or zip holds, by the files it has."""
    names = set(src.names())
    if "u.data" in names:
        return "ml-100k"
    if "ratings.dat" in names:
        return "ml-1m"
    if "ratings.csv" in names:
        return "ml-latest"
    if any(n.startswith("combined_data_") for n in names):
        return "netflix"
    if any(n.endswith(".inter") for n in names):
        return "recbole"
    raise DataError(
        "no MovieLens files found (expected u.data, ratings.dat, ratings.csv, "
        "combined_data_*.txt or a RecBole .inter file)",
        str(src.path),
    )


def load_source(src: Source, name: str | None = None) -> Dataset:
    fmt = detect(src)
    loader = {
        "ml-100k": load_ml100k,
        "ml-1m": load_ml1m,
        "ml-latest": load_mllatest,
        "netflix": load_netflix,
        "recbole": load_recbole,
    }[fmt]
    return loader(src, name or src.path.stem)


# ------------------------------------------------------------------ shared validation


def finish(
    name: str,
    src: Source,
    ratings_file: str,
    ratings: pd.DataFrame,
    first_line: int,
    items: pd.DataFrame,
    users: pd.DataFrame | None,
    genres: list[str],
    rating_range: tuple[float, float] = MOVIELENS_RATINGS,
    timestamps: pd.Series | None = None,
    numeric_ids: bool = True,
) -> Dataset:
    """Validate raw string ratings against the items and build the `Dataset`. GroupLens and
    Netflix files number their users and movies: a non-numeric id there is an error naming
    its line (`numeric_ids`; RecBole's token ids may be any string)."""
    label = src.label(ratings_file)
    if not len(ratings):
        raise DataError("no ratings in the file", label)
    if numeric_ids:
        lines = ratings.get("line")  # the source line numbers, where the loader kept them
        for col, what in (("user_id", "user id"), ("item_id", "movie id")):
            ids = ratings[col].astype(str).str.strip()
            bad = ~ids.str.fullmatch(r"\d+").to_numpy()
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(f"{what} {ratings[col].iat[i]!r} is not a number", label, line_of(first_line, lines, i))
    r = numeric(ratings, "rating", label, first_line)
    check_range(r, *rating_range, label, first_line, "rating")
    ts = timestamps if timestamps is not None else numeric(ratings, "timestamp", label, first_line)
    known = ratings["item_id"].isin(items["item_id"]).to_numpy()
    if not known.all():
        i = int(np.argmax(~known))
        raise DataError(f"rating for unknown movie id {ratings['item_id'].iat[i]!r}", label, first_line + i)
    notes = []
    frame = pd.DataFrame(
        {"user_id": ratings["user_id"].str.strip(), "item_id": ratings["item_id"], "rating": r, "timestamp": ts}
    )
    missing_year = int(items["year"].isna().sum())
    if missing_year:
        notes.append(f"{missing_year} movies without a parseable year (kept, year empty)")
    return build_dataset(name, frame, items, users, genres, notes)


def split_title(title: pd.Series) -> tuple[pd.Series, pd.Series]:
    """("Toy Story (1995)") -> display title unchanged, year 1995 (empty if unparseable)."""
    title = title.str.strip()
    year = pd.to_numeric(title.str.extract(_YEAR, expand=False), errors="coerce")
    return title, year


def with_year(title: pd.Series, year: pd.Series) -> pd.Series:
    """Display title "Title (Year)" from a bare title and a year column (RecBole)."""
    y = pd.to_numeric(year, errors="coerce")
    ys = y.map(lambda v: f" ({int(v)})" if pd.notna(v) else "")
    has = title.str.contains(r"\(\d{4}\)\s*$")
    return title.where(has, title + ys)


# ------------------------------------------------------------------ GroupLens ml-100k


def load_ml100k(src: Source, name: str) -> Dataset:
    genres = ML100K_GENRES
    if src.has("u.genre"):
        g, _ = read_table(src, "u.genre", ["genre", "index"], "|", encoding="latin-1")
        genres = list(g["genre"])
    cols = ["item_id", "title", "release", "video", "url", *genres]
    it, _ = read_table(src, "u.item", cols, "|", encoding="latin-1", required=["item_id", "title"])
    title, year = split_title(it["title"])
    release_year = pd.to_numeric(it["release"].str[-4:], errors="coerce")
    flags = it[genres].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy() > 0
    items = pd.DataFrame(
        {
            "item_id": it["item_id"].str.strip(),
            "title": title,
            "year": year.fillna(release_year),
            "genres": ["|".join(g for g, f in zip(genres, row) if f) for row in flags],
        }
    )
    users = None
    if src.has("u.user"):
        u, _ = read_table(src, "u.user", ["user_id", "age", "gender", "occupation", "zip"], "|", encoding="latin-1")
        users = u.assign(user_id=u["user_id"].str.strip())
    r, first = read_table(src, "u.data", ["user_id", "item_id", "rating", "timestamp"], "\t", numbers=NUMBERS)
    r["item_id"] = r["item_id"].str.strip()
    return finish(name, src, "u.data", r, first, items, users, genres)


# ------------------------------------------------------------------ GroupLens ml-1m / ml-10m


def load_ml1m(src: Source, name: str) -> Dataset:
    mv, _ = read_table(src, "movies.dat", ["item_id", "title", "genres"], "::", encoding="latin-1")
    title, year = split_title(mv["title"])
    items = pd.DataFrame({"item_id": mv["item_id"].str.strip(), "title": title, "year": year, "genres": mv["genres"]})
    items, genres = _genre_vocab(items)
    users = None
    if src.has("users.dat"):
        u, _ = read_table(src, "users.dat", ["user_id", "gender", "age", "occupation", "zip"], "::", encoding="latin-1")
        users = _ml1m_demographics(u)
    r, first = read_table(
        src, "ratings.dat", ["user_id", "item_id", "rating", "timestamp"], "::", encoding="latin-1", numbers=NUMBERS
    )
    return finish(name, src, "ratings.dat", r, first, items, users, genres)


def _ml1m_demographics(u: pd.DataFrame) -> pd.DataFrame:
    occ = pd.to_numeric(u["occupation"], errors="coerce")
    names = occ.map(lambda v: ML1M_OCCUPATIONS[int(v)] if pd.notna(v) and 0 <= v < 21 else "")
    age = u["age"].str.strip().str.replace(r"\.0$", "", regex=True)
    return pd.DataFrame(
        {
            "user_id": u["user_id"].str.strip(),
            "age": age.map(lambda a: ML1M_AGES.get(a, a)),
            "gender": u["gender"].str.strip(),
            "occupation": names.where(names != "", u["occupation"]),
            "zip": u["zip"].str.strip(),
        }
    )


def _genre_vocab(items: pd.DataFrame, sep: str = "|") -> tuple[pd.DataFrame, list[str]]:
    """Normalise a genre column to "A|B" and return its sorted vocabulary."""
    g = items["genres"].fillna("").str.strip()
    g = g.where(g != "(no genres listed)", "")
    lists = g.str.split(sep).map(lambda gs: [x for x in gs if x])
    items = items.assign(genres=lists.map("|".join))
    vocab = sorted({x for gs in lists for x in gs})
    return items, vocab


# ------------------------------------------------------------------ ml-latest / 20m / 25m / 32m


def load_mllatest(src: Source, name: str) -> Dataset:
    mv, _ = read_table(src, "movies.csv", ["item_id", "title", "genres"], ",", header=True, quoted=True)
    title, year = split_title(mv["title"])
    items = pd.DataFrame({"item_id": mv["item_id"].str.strip(), "title": title, "year": year, "genres": mv["genres"]})
    items, genres = _genre_vocab(items)
    r, first = read_table(
        src, "ratings.csv", ["user_id", "item_id", "rating", "timestamp"], ",", header=True, numbers=NUMBERS
    )
    r["item_id"] = r["item_id"].str.strip()
    return finish(name, src, "ratings.csv", r, first, items, None, genres)


# ------------------------------------------------------------------ Netflix Prize


def load_netflix(src: Source, name: str) -> Dataset:
    """`combined_data_*.txt`: "MovieID:" lines, then "CustomerID,Rating,Date" lines.

    The Netflix data has no genres: the dataset says so (`has_genres` is False).
    """
    items = None
    if src.has("movie_titles.csv"):
        raw = src.read("movie_titles.csv").decode("latin-1")
        rows = [line.split(",", 2) for line in raw.splitlines() if line.strip()]
        bad = [i for i, row in enumerate(rows) if len(row) < 3]
        if bad:
            raise DataError("expected MovieID,Year,Title", src.label("movie_titles.csv"), bad[0] + 1)
        mt = pd.DataFrame(rows, columns=["item_id", "year", "title"])
        year = pd.to_numeric(mt["year"], errors="coerce")
        items = pd.DataFrame(
            {"item_id": mt["item_id"].str.strip(), "title": with_year(mt["title"].str.strip(), year), "year": year}
        )
    parts = []
    for f in sorted(n for n in src.names() if n.startswith("combined_data_")):
        t, first = read_table(src, f, ["a", "rating", "date"], ",", required=["a"])
        is_movie = t["a"].str.endswith(":")
        if not is_movie.iat[0]:
            raise DataError("expected a 'MovieID:' line first", src.label(f), first)
        t["item_id"] = t["a"].where(is_movie).str.rstrip(":").ffill()
        t["line"] = np.arange(len(t)) + first
        t = t[~is_movie].rename(columns={"a": "user_id"})
        empty = (t["rating"] == "") | (t["date"] == "")
        if empty.any():
            raise DataError("expected CustomerID,Rating,Date", src.label(f), int(t["line"][empty].iat[0]))
        label = src.label(f)
        check_range(numeric(t, "rating", label, 0, lines=t["line"]), 1, 5, label, 0, "rating", lines=t["line"])
        if items is not None:
            known = t["item_id"].isin(items["item_id"]).to_numpy()
            if not known.all():
                i = int(np.argmax(~known))
                raise DataError(f"rating for unknown movie id {t['item_id'].iat[i]!r}", label, int(t["line"].iat[i]))
        t["file"] = f
        parts.append(t)
    r = pd.concat(parts, ignore_index=True)
    dates = pd.to_datetime(r["date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        i = int(np.argmax(dates.isna().to_numpy()))
        raise DataError(
            f"date {r['date'].iat[i]!r} is not YYYY-MM-DD", src.label(r["file"].iat[i]), int(r["line"].iat[i])
        )
    ts = (dates - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    if items is None:
        ids = r["item_id"].unique()
        items = pd.DataFrame({"item_id": ids, "title": [f"Movie {i}" for i in ids], "year": np.nan})
    items = items.assign(genres="")
    # line numbers are per file; report against the first file when several are read
    return finish(name, src, r["file"].iat[0], r, 0, items, None, [], (1.0, 5.0), ts)


# ------------------------------------------------------------------ RecBole atomic files


def load_recbole(src: Source, name: str) -> Dataset:
    """RecBole atomic files: tab-separated, typed headers (`item_id:token`)."""
    inter = sorted(n for n in src.names() if n.endswith(".inter"))
    stem = next((n[: -len(".inter")] for n in inter if n.startswith(name)), inter[0][: -len(".inter")])
    r, first = _atomic(src, f"{stem}.inter", ["user_id", "item_id"], numbers=NUMBERS)
    prefix = _domain_prefix(r["user_id"])
    r["user_id"] = r["user_id"].str.removeprefix(prefix)
    if "rating" not in r:
        r["rating"] = "1"
    if "timestamp" not in r:
        r["timestamp"] = [str(i) for i in range(len(r))]
    items = pd.DataFrame({"item_id": r["item_id"].unique(), "title": None, "year": np.nan, "genres": ""})
    genres: list[str] = []
    if src.has(f"{stem}.item"):
        it, _ = _atomic(src, f"{stem}.item", ["item_id"])
        title_col = next((c for c in ("movie_title", "title") if c in it), None)
        year_col = next((c for c in ("release_year", "year") if c in it), None)
        genre_col = next((c for c in ("class", "genre", "genres") if c in it), None)
        year = pd.to_numeric(it[year_col], errors="coerce") if year_col else pd.Series(np.nan, index=it.index)
        title = with_year(it[title_col], year) if title_col else it["item_id"]
        items = pd.DataFrame(
            {"item_id": it["item_id"], "title": title, "year": year, "genres": it[genre_col] if genre_col else ""}
        )
        items, genres = _genre_vocab(items, sep=" ")
    items["title"] = items["title"].fillna(items["item_id"])
    users = None
    if src.has(f"{stem}.user"):
        u, _ = _atomic(src, f"{stem}.user", ["user_id"])
        keep = {"user_id": "user_id", "age": "age", "gender": "gender", "occupation": "occupation", "zip_code": "zip"}
        users = u[[c for c in keep if c in u]].rename(columns=keep)
        users["user_id"] = users["user_id"].str.removeprefix(prefix)
    lo = 0.0 if (pd.to_numeric(r["rating"], errors="coerce") == 0).any() else 0.5
    return finish(name, src, f"{stem}.inter", r, first, items, users, genres, (lo, 10.0), numeric_ids=False)


def _domain_prefix(ids: pd.Series) -> str:
    """RecBole cross-domain files prefix user ids ("1m_1"): the prefix, when all share one."""
    first = str(ids.iat[0])
    if "_" not in first:
        return ""
    prefix = first.split("_", 1)[0] + "_"
    rest = ids.str.removeprefix(prefix)
    return prefix if ids.str.startswith(prefix).all() and rest.str.isdigit().all() else ""


def _atomic(src: Source, fname: str, required: list[str], numbers=()) -> tuple[pd.DataFrame, int]:
    label = src.label(fname)
    head = src.read(fname).split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    fields = [f.split(":")[0] for f in head.split("\t")]
    missing = [c for c in required if c not in fields]
    if missing:
        raise DataError(f"header has no {', '.join(missing)} field (found: {', '.join(fields)})", label, 1)
    return read_table(src, fname, fields, "\t", header=True, required=required, numbers=numbers)

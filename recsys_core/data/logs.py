"""A team's own interaction log read into the one `Dataset`: a CSV, TSV or Parquet file of
(user, item, time[, rating]) with an optional item table of names and categories, as a
`LogSpec` describes it (`logspec`: the SRC forms and the dataset TOML file).

Ids may be strings; times are epoch seconds, milliseconds, microseconds or nanoseconds (told
apart by their size) or dates. Without a rating column every interaction is a positive (the
dataset is implicit: models that predict ratings are not offered). What was done to the data
(repeats, the threshold, the k-core, items missing from the item table) is in the dataset's
notes, with counts. A malformed file raises one `DataError` naming the file, the line and the
problem; nothing is half-loaded. The read is columnar (Arrow): 25 million rows load in about
35 s and 4 GB on two cores (docs/benchmarks.md, "Your own data at scale").
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from recsys_core.data.dataset import Dataset, _natural_order, from_codes
from recsys_core.data.loaders import split_title
from recsys_core.data.logspec import (
    CATEGORY_NAMES,
    ITEM_NAME_NAMES,
    LOG_SUFFIXES,
    ROLES,
    LogSpec,
    detect_columns,
    is_log,
    norm,
    parse_src,
)
from recsys_core.errors import DataError

CATEGORY_SEPS = ("|", ";", ",", "/")
MAX_CATEGORIES = 200  # a column with more distinct values is an attribute, not categories


# ---------------------------------------------------------------- reading tables


def _separator(path: Path, head: bytes) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    first = head.split(b"\n", 1)[0]
    counts = {sep: first.count(sep.encode()) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_table(path: Path, nrows: int | None = None) -> pa.Table:
    """A CSV/TSV (with a header row) or Parquet file as an Arrow table; a malformed line is
    a DataError naming the file and the line."""
    if not path.exists():
        raise DataError("no such file", str(path))
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            f = pq.ParquetFile(path)
            if nrows is not None:
                batch = next(f.iter_batches(batch_size=nrows), None)
                return pa.Table.from_batches([batch]) if batch is not None else f.schema_arrow.empty_table()
            return f.read()
        except (pa.ArrowInvalid, OSError) as e:
            raise DataError(f"not a readable Parquet file: {e}", str(path)) from e
    with open(path, "rb") as fh:
        head = fh.read(1 << 16 if nrows is None else 1 << 20)
    if not head.strip():
        raise DataError("the file is empty", str(path))
    sep = _separator(path, head)
    bad: list = []

    def on_bad(row):
        bad.append(row)
        return "error"

    source = path
    if nrows is not None:  # a preview: the first lines only
        lines = head.split(b"\n")[: nrows + 1]
        source = io.BytesIO(b"\n".join(lines) + b"\n")
    try:
        return pacsv.read_csv(
            source,
            parse_options=pacsv.ParseOptions(delimiter=sep, invalid_row_handler=on_bad, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        if bad:
            row = bad[0]
            line = row.number or _line_of_text(path, row.text)
            raise DataError(
                f"expected {row.expected_columns} fields, found {row.actual_columns}", str(path), line
            ) from None
        raise DataError(f"cannot parse: {e}", str(path)) from e


def _line_of_text(path: Path, text: str) -> int | None:
    target = text.encode()
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if line.rstrip(b"\r\n") == target:
                return n
    return None


def preview(path: Path, n: int = 8, given: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """The first rows and the detected column mapping, for the app's preview."""
    t = read_table(path, nrows=n)
    return t.to_pandas(), detect_columns(t.column_names, given, str(path))


# ---------------------------------------------------------------- the log


def _where(kind: str, i: int) -> int:
    """The line of row i (CSV: a header line, then one row a line) or its row number (Parquet)."""
    return i + 2 if kind == "csv" else i + 1


def _ids(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, unique ids as str) with the ids in natural order (numbers as numbers)."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        # string ids coded by Arrow: no Python string a row (25 million rows of them were gigabytes)
        encoded = pc.dictionary_encode(col.combine_chunks())
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        uniques = pd.Series(encoded.dictionary.to_pylist(), dtype=object).astype(str)
    else:
        codes, found = pd.factorize(col.to_numpy(zero_copy_only=False), sort=False)
        uniques = pd.Series(found).astype(str)
    order = _natural_order(uniques)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes].astype(np.int32), uniques.to_numpy()[order]


def _times(col: pa.ChunkedArray, label: str, kind: str) -> tuple[np.ndarray, str]:
    """Epoch seconds (int64) and how they were read; a value that is no time names its line."""
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        secs = pc.cast(pc.cast(col, pa.timestamp("s")), pa.int64()).to_numpy(zero_copy_only=False)
        return secs.astype(np.int64), "dates"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        v = col.to_numpy(zero_copy_only=False).astype(np.float64)
        bad = ~np.isfinite(v)
        if bad.any():
            raise DataError("time is empty or not a number", label, _where(kind, int(np.argmax(bad))))
        top = np.abs(v).max() if len(v) else 0
        if top > 1e17:
            return (v // 1e9).astype(np.int64), "epoch nanoseconds"
        if top > 1e14:
            return (v // 1e6).astype(np.int64), "epoch microseconds"
        if top > 1e11:
            return (v // 1e3).astype(np.int64), "epoch milliseconds"
        return v.astype(np.int64), "epoch seconds"
    s = pd.Series(col.to_numpy(zero_copy_only=False)).astype(str).str.strip()
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all():
        return _times(pa.chunked_array([pa.array(num.to_numpy())]), label, kind)
    out = np.zeros(len(s), dtype=np.int64)
    is_num = num.notna().to_numpy()
    if is_num.any():  # epoch numbers among dates: each by its own size
        v = num.to_numpy()[is_num]
        scale = np.select([np.abs(v) > 1e17, np.abs(v) > 1e14, np.abs(v) > 1e11], [1e9, 1e6, 1e3], 1.0)
        out[is_num] = (v // scale).astype(np.int64)
    text = s[~is_num]
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(text.index[int(np.argmax(bad))])
        raise DataError(f"time {s.iat[i]!r} is not a date or an epoch number", label, _where(kind, i))
    out[~is_num] = ((parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "s")).to_numpy(dtype=np.int64)
    return out, "dates" if not is_num.any() else "dates and epoch numbers"


def _numbers(col: pa.ChunkedArray, what: str, label: str, kind: str) -> np.ndarray:
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        v = col.to_numpy(zero_copy_only=False).astype(np.float64)
    else:
        v = pd.to_numeric(pd.Series(col.to_numpy(zero_copy_only=False)).astype(str).str.strip(), errors="coerce")
        v = v.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.argmax(bad))
        shown = col[i].as_py()
        raise DataError(f"{what} {shown!r} is not a number", label, _where(kind, i))
    return v


def _check_ids(col: pa.ChunkedArray, role: str, label: str, kind: str) -> None:
    if col.null_count:
        i = int(np.argmax(col.is_null().to_numpy(zero_copy_only=False)))
        raise DataError(f"missing {role} id", label, _where(kind, i))
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        empty = pc.equal(pc.utf8_trim_whitespace(col), "").to_numpy(zero_copy_only=False)
        if empty.any():
            raise DataError(f"missing {role} id", label, _where(kind, int(np.argmax(empty))))


def k_core(user: np.ndarray, item: np.ndarray, k: int) -> np.ndarray:
    """The rows kept by the k-core: every user and every item with at least k rows, repeated
    until it holds (removing a user can take an item below k, and back)."""
    keep = np.ones(len(user), dtype=bool)
    while True:
        u = np.bincount(user[keep], minlength=user.max() + 1 if len(user) else 0)
        i = np.bincount(item[keep], minlength=item.max() + 1 if len(item) else 0)
        ok = keep & (u[user] >= k) & (i[item] >= k)
        if ok.sum() == keep.sum():
            return keep
        keep = ok


def load_log(spec: LogSpec) -> Dataset:
    """Read the log (and its item table) into a `Dataset` (see the module docstring)."""
    label = str(spec.path)
    rows, cols, notes = _read_rows(spec, label)
    user, user_ids = _ids(rows.pop("user"))
    item, item_ids = _ids(rows.pop("item"))
    rating, ts = rows["rating"], rows["ts"]
    user, item, rating, ts = _latest_of_repeats(user, item, rating, ts, len(item_ids), spec.item_noun, notes)
    if spec.k_core > 1:
        kept = k_core(user, item, spec.k_core)
        gone = int((~kept).sum())
        before_u, before_i = len(user_ids), len(item_ids)
        user, item, rating, ts = user[kept], item[kept], rating[kept], ts[kept]
        used_u, used_i = np.unique(user), np.unique(item)
        user = np.searchsorted(used_u, user).astype(np.int32)
        item = np.searchsorted(used_i, item).astype(np.int32)
        user_ids, item_ids = user_ids[used_u], item_ids[used_i]
        notes.append(
            f"{spec.k_core}-core: {_count(gone, 'interaction')}, {_count(before_u - len(user_ids), 'user')} and "
            f"{_count(before_i - len(item_ids), spec.item_noun)} with fewer than {spec.k_core} removed"
        )
    if not len(user):
        raise DataError("no interactions left after the threshold and the k-core", label)
    items, categories = _item_table(spec, item_ids, notes)
    extra = {
        "implicit": "rating" not in cols,
        "item_noun": spec.item_noun,
        "category_noun": "categories",
        "source_rows": rows["n"],
        "columns": ", ".join(f"{r}={c}" for r, c in cols.items()),
    }
    users = pd.DataFrame({"user_id": user_ids})
    rating = rating.astype(np.float32)
    return from_codes(spec.label, user, item, rating, ts, items, users, categories, notes, extra, spec.item_noun)


def _read_rows(spec: LogSpec, label: str) -> tuple[dict, dict, list[str]]:
    """The log's columns, checked, with the threshold applied: ({user, item (Arrow), rating,
    ts (numpy), n (rows in the file)}, role -> column, notes)."""
    kind = "parquet" if spec.path.suffix.lower() in (".parquet", ".pq") else "csv"
    table = read_table(spec.path)
    if table.num_rows == 0:
        raise DataError("no interactions in the file", label)
    cols = detect_columns(table.column_names, spec.columns, label)
    for role in ("user", "item"):
        if role not in cols:
            raise DataError(
                f"no {role} column found (the file has: {', '.join(table.column_names)}); name it with "
                f"--columns {role}=COLUMN",
                label,
            )
        _check_ids(table[cols[role]], role, label, kind)
    notes: list[str] = []
    n_rows = table.num_rows
    implicit = "rating" not in cols
    rating = np.ones(n_rows) if implicit else _numbers(table[cols["rating"]], "rating", label, kind)
    if "time" in cols:
        ts, how = _times(table[cols["time"]], label, kind)
        notes.append(f"times read as {how}")
    else:
        ts = np.arange(n_rows, dtype=np.int64)
        notes.append("no time column: the file's row order is the time order (the temporal split means little)")
    user, item = table[cols["user"]], table[cols["item"]]
    if spec.threshold is not None:
        if implicit:
            raise DataError(f"a threshold ({spec.threshold:g}) needs a rating column; this log has none", label)
        keep = rating >= spec.threshold
        notes.append(f"threshold {spec.threshold:g}: {int((~keep).sum()):,} interactions rated below it removed")
        user, item, rating, ts = user.filter(pa.array(keep)), item.filter(pa.array(keep)), rating[keep], ts[keep]
    if implicit:
        notes.append("no rating column: every interaction is a positive (implicit feedback)")
    return {"user": user, "item": item, "rating": rating, "ts": ts, "n": int(n_rows)}, cols, notes


def _latest_of_repeats(user, item, rating, ts, n_items: int, noun: str, notes: list[str]):
    """Repeats of a (user, item) pair reduced to the latest (ties: the later row), before the
    k-core counts them."""
    pair = user.astype(np.int64) * n_items + item
    order = np.lexsort((np.arange(len(pair)), ts, pair))
    last = order[np.r_[pair[order][1:] != pair[order][:-1], True]]
    if len(last) == len(pair):
        return user, item, rating, ts
    last.sort()
    notes.append(f"{len(pair) - len(last):,} repeated (user, {noun}) rows: kept the latest of each")
    return user[last], item[last], rating[last], ts[last]


def _item_table(spec: LogSpec, item_ids: np.ndarray, notes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """One row per item of the log: its name (the id where the table has none) and categories."""
    frame = pd.DataFrame({"item_id": item_ids, "title": item_ids, "year": pd.NA, "genres": ""})
    if spec.items is None:
        return frame, []
    label = str(spec.items)
    t = read_table(spec.items)
    names = t.column_names
    given = spec.item_columns
    key = given.get("item") or detect_columns(names).get("item")
    if key is None or key not in names:
        raise DataError(f"no item id column found in the item table (it has: {', '.join(names)})", label)
    name_col = given.get("name") or next((c for c in names if c != key and norm(c) in ITEM_NAME_NAMES), None)
    cats = given.get("categories") or [c for c in names if c != key and norm(c) in CATEGORY_NAMES]
    for c in [name_col, *cats]:
        if c is not None and c not in names:
            raise DataError(f"no column {c!r} in the item table (it has: {', '.join(names)})", label)
    table = t.to_pandas()
    table[key] = table[key].astype(str)
    dup = int(table[key].duplicated().sum())
    if dup:
        notes.append(f"{dup:,} repeated rows in the item table: kept the last of each")
        table = table.drop_duplicates(key, keep="last")
    table = table.set_index(key)
    known = pd.Index(item_ids).isin(table.index)
    if (~known).any():
        notes.append(f"{_count(int((~known).sum()), spec.item_noun)} of the log not in the item table (named by id)")
    extra_rows = len(table) - int(known.sum())
    if extra_rows > 0:
        notes.append(f"{_count(extra_rows, spec.item_noun)} of the item table never in the log (left out)")
    rows = table.reindex(item_ids)
    if name_col is not None:
        title = rows[name_col].astype("string").fillna(pd.Series(item_ids, index=rows.index, dtype="string"))
        title, year = split_title(title.astype(str))
        frame["title"], frame["year"] = title.to_numpy(), year.to_numpy()
    vocab: list[str] = []
    if cats:
        sep = spec.category_sep or _category_sep(rows[cats])
        cells = []
        for col in cats:
            values = rows[col].astype("string").fillna("")
            parts = values.str.split(sep, regex=False) if sep else values.map(lambda v: [v])
            cells.append(parts.map(lambda ps: [p.strip() for p in ps if p and p.strip()]))
        merged = [sorted(set().union(*row)) for row in zip(*cells)] if cells else []
        vocab = sorted(set().union(*merged)) if merged else []
        if len(vocab) > MAX_CATEGORIES:
            raise DataError(
                f"{len(vocab):,} distinct categories in {', '.join(cats)}: over {MAX_CATEGORIES}; name the category "
                "columns (categories=...) or their separator (category_sep=...)",
                label,
            )
        frame["genres"] = ["|".join(r) for r in merged]
    return frame, vocab


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' if n != 1 else ''}"


def _category_sep(frame: pd.DataFrame) -> str | None:
    text = frame.astype("string").fillna("").agg("".join, axis=1)
    counts = {sep: int(text.str.count(re.escape(sep)).sum()) for sep in CATEGORY_SEPS}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


__all__ = ["LOG_SUFFIXES", "ROLES", "LogSpec", "is_log", "load_log", "parse_src", "preview", "read_table"]

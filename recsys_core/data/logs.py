"""A team's own interaction log: a CSV, TSV or Parquet file of (user, item, time[, rating]),
with an optional item table of names and categories, read into the one `Dataset`.

SRC forms (`load_dataset` sends them here):

- `events.csv`, `events.tsv`, `events.parquet`: columns found by their common names
  (`COLUMN_NAMES`), or named after a `?`: `events.csv?user=uid&item=sku&time=ts&rating=stars`,
  with the options `threshold=4` (only ratings at or above it are kept as interactions),
  `k_core=5`, `items=items.csv` (with `item_key=`, `item_name=`, `categories=col1+col2`,
  `category_sep=;`), `item_noun=product` and `label=` (the dataset's name).
- `shop.toml`: a dataset file naming the same things (`describe` writes one; the app does
  for an upload):

      [interactions]
      path = "events.parquet"            # relative to the TOML file
      columns = { user = "uid", item = "sku", time = "ts", rating = "stars" }
      [items]
      path = "products.csv"
      columns = { item = "sku", name = "title", categories = ["dept", "tags"] }
      category_sep = "|"
      [options]
      threshold = 4.0
      k_core = 5
      item_noun = "product"

Ids may be strings; times are epoch seconds, milliseconds or microseconds (told apart by
their size) or ISO dates. Without a rating column every interaction is a positive (the
dataset is implicit: models that predict ratings are not offered). What was done to the data
(duplicates, the threshold, the k-core, unknown items) is in the dataset's notes, with counts.
A malformed file raises one `DataError` naming the file, the line and the problem; nothing is
half-loaded. The whole read is columnar (Arrow), so a log of 25 million rows loads in tens of
seconds and a few GB (docs/benchmarks.md, "Your own data").
"""

from __future__ import annotations

import io
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from recsys_core.data.dataset import Dataset, _natural_order, from_codes
from recsys_core.data.loaders import split_title
from recsys_core.errors import DataError

LOG_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
ROLES = ("user", "item", "time", "rating")
COLUMN_NAMES = {  # compared without case, "_", "-" or spaces
    "user": ("user", "userid", "uid", "customer", "customerid", "visitor", "visitorid", "member", "memberid"),
    "item": ("item", "itemid", "iid", "movie", "movieid", "product", "productid", "sku", "article", "articleid"),
    "time": (
        "timestamp",
        "time",
        "ts",
        "datetime",
        "date",
        "when",
        "eventtime",
        "eventdate",
        "orderdate",
        "createdat",
        "unixtime",
    ),
    "rating": ("rating", "score", "stars", "value", "rate"),
}
ITEM_NAME_NAMES = ("name", "title", "itemname", "productname", "movietitle", "label")
CATEGORY_NAMES = ("categories", "category", "genres", "genre", "class", "tags", "department", "dept")
CATEGORY_SEPS = ("|", ";", ",", "/")
MAX_CATEGORIES = 200  # a column with more distinct values is an attribute, not categories


@dataclass
class LogSpec:
    """Where a log is and how to read it (the parsed SRC or dataset file)."""

    path: Path
    columns: dict = field(default_factory=dict)  # role -> column name, where given
    items: Path | None = None
    item_columns: dict = field(default_factory=dict)  # item, name, categories (a list)
    category_sep: str | None = None
    threshold: float | None = None
    k_core: int = 0
    item_noun: str = "item"
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.path.stem


def is_log(text: str) -> bool:
    """Whether SRC names an interaction log (a table file or a dataset TOML file)."""
    path = text.split("?", 1)[0].lower()
    return path.endswith((*LOG_SUFFIXES, ".toml"))


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name).split(":")[0]).lower()


def detect_columns(names: list[str], given: dict | None = None, label: str | None = None) -> dict:
    """role -> column: the given ones (checked), the others found by their common names."""
    given = {k: v for k, v in (given or {}).items() if v}
    unknown = [r for r in given if r not in ROLES]
    if unknown:
        raise DataError(f"unknown column role {unknown[0]!r}: the roles are {', '.join(ROLES)}", label)
    for role, col in given.items():
        if col not in names:
            raise DataError(f"no column {col!r} for {role} (the file has: {', '.join(map(str, names))})", label)
    found = dict(given)
    taken = set(given.values())
    for role in ROLES:
        if role in found:
            continue
        for col in names:
            if col not in taken and _norm(col) in COLUMN_NAMES[role]:
                found[role] = col
                taken.add(col)
                break
    return found


# ---------------------------------------------------------------- SRC and dataset files


def parse_src(text: str) -> LogSpec:
    """The LogSpec of a log SRC: a table file with `?options`, or a dataset TOML file."""
    path_text, _, query = text.partition("?")
    path = Path(path_text).expanduser()
    if path.suffix.lower() == ".toml":
        return read_toml(path)
    opts = dict(parse_qsl(query, keep_blank_values=True))
    return _spec(path, path.parent, {"columns": {r: opts.pop(r) for r in ROLES if r in opts}}, opts)


def read_toml(path: Path) -> LogSpec:
    if not path.exists():
        raise DataError("no such dataset file", str(path))
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"not a valid TOML dataset file: {e}", str(path)) from e
    inter = doc.get("interactions")
    if not isinstance(inter, dict) or "path" not in inter:
        raise DataError('needs an [interactions] table with a path = "..."', str(path))
    items = doc.get("items") or {}
    opts = dict(doc.get("options") or {})
    opts.setdefault("label", path.stem)
    if items.get("path"):
        opts["items"] = items["path"]
        cols = dict(items.get("columns") or {})
        for key, option in (("item", "item_key"), ("name", "item_name")):
            if cols.get(key):
                opts[option] = cols[key]
        cats = cols.get("categories")
        if cats:
            opts["categories"] = cats if isinstance(cats, list) else [cats]
        if items.get("category_sep"):
            opts["category_sep"] = items["category_sep"]
    return _spec(Path(inter["path"]), path.parent, {"columns": dict(inter.get("columns") or {})}, opts)


def _spec(path: Path, base: Path, given: dict, opts: dict) -> LogSpec:
    """A LogSpec from the options of a SRC query or a dataset file (paths relative to `base`)."""
    path = path if path.is_absolute() else base / path
    known = {
        "threshold",
        "k_core",
        "items",
        "item_key",
        "item_name",
        "categories",
        "category_sep",
        "item_noun",
        "label",
    }
    extra = [k for k in opts if k not in known]
    if extra:
        raise DataError(f"unknown option {extra[0]!r} (options: {', '.join(sorted(known))})", str(path))
    spec = LogSpec(path, dict(given["columns"]))
    try:
        if opts.get("threshold") not in (None, ""):
            spec.threshold = float(opts["threshold"])
        if opts.get("k_core") not in (None, ""):
            spec.k_core = int(opts["k_core"])
    except (TypeError, ValueError) as e:
        raise DataError(f"threshold must be a number and k_core a whole number: {e}", str(path)) from e
    if spec.k_core < 0:
        raise DataError(f"k_core {spec.k_core} is negative: use 0 (no filter) or more", str(path))
    if opts.get("items"):
        items = Path(opts["items"])
        spec.items = items if items.is_absolute() else base / items
        cats = opts.get("categories")
        if isinstance(cats, str):
            cats = [c for c in cats.split("+") if c]
        spec.item_columns = {k: opts[o] for k, o in (("item", "item_key"), ("name", "item_name")) if opts.get(o)}
        if cats:
            spec.item_columns["categories"] = list(cats)
        spec.category_sep = opts.get("category_sep") or None
    spec.item_noun = str(opts.get("item_noun") or "item")
    spec.name = str(opts["label"]) if opts.get("label") else None
    return spec


def write_toml(spec: LogSpec, path: Path) -> Path:
    """A dataset file for `spec` (paths as given), so the same log loads the same way again."""

    def q(v) -> str:
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def table(d: dict) -> str:
        parts = []
        for k, v in d.items():
            shown = "[" + ", ".join(q(x) for x in v) + "]" if isinstance(v, list) else q(v)
            parts.append(f"{k} = {shown}")
        return "{ " + ", ".join(parts) + " }"

    lines = ["[interactions]", f"path = {q(spec.path)}"]
    if spec.columns:
        lines.append(f"columns = {table(spec.columns)}")
    if spec.items is not None:
        lines += ["", "[items]", f"path = {q(spec.items)}"]
        if spec.item_columns:
            lines.append(f"columns = {table(spec.item_columns)}")
        if spec.category_sep:
            lines.append(f"category_sep = {q(spec.category_sep)}")
    lines += ["", "[options]", f"item_noun = {q(spec.item_noun)}", f"k_core = {int(spec.k_core)}"]
    if spec.threshold is not None:
        lines.append(f"threshold = {float(spec.threshold)}")
    path.write_text("\n".join(lines) + "\n")
    return path


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
    values = col.to_numpy(zero_copy_only=False)
    codes, uniques = pd.factorize(values, sort=False)
    uniques = pd.Series(uniques).astype(str)
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
    for role in ("user", "item"):
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
    raw_user, raw_item = table[cols["user"]], table[cols["item"]]
    keep = np.ones(n_rows, dtype=bool)
    if spec.threshold is not None:
        if implicit:
            raise DataError(f"a threshold ({spec.threshold:g}) needs a rating column; this log has none", label)
        keep = rating >= spec.threshold
        notes.append(f"threshold {spec.threshold:g}: {int((~keep).sum()):,} interactions rated below it removed")
    if implicit:
        notes.append("no rating column: every interaction is a positive (implicit feedback)")
    del table
    user, user_ids = _ids(raw_user.filter(pa.array(keep)) if not keep.all() else raw_user)
    item, item_ids = _ids(raw_item.filter(pa.array(keep)) if not keep.all() else raw_item)
    rating, ts = rating[keep], ts[keep]
    # repeats of a (user, item) pair: the latest kept (ties: the later row), before the k-core counts
    pair = user.astype(np.int64) * len(item_ids) + item
    order = np.lexsort((np.arange(len(pair)), ts, pair))
    last = order[np.r_[pair[order][1:] != pair[order][:-1], True]]
    if len(last) < len(pair):
        last.sort()
        notes.append(f"{len(pair) - len(last):,} repeated (user, {spec.item_noun}) rows: kept the latest of each")
        user, item, rating, ts = user[last], item[last], rating[last], ts[last]
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
    users = pd.DataFrame({"user_id": user_ids})
    extra = {
        "implicit": implicit,
        "item_noun": spec.item_noun,
        "category_noun": "categories",
        "source_rows": int(n_rows),
        "columns": ", ".join(f"{r}={c}" for r, c in cols.items()),
    }
    return from_codes(
        spec.label,
        user,
        item,
        rating.astype(np.float32),
        ts,
        items,
        users,
        categories,
        notes,
        extra,
        spec.item_noun,
    )


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
    name_col = given.get("name") or next((c for c in names if c != key and _norm(c) in ITEM_NAME_NAMES), None)
    cats = given.get("categories") or [c for c in names if c != key and _norm(c) in CATEGORY_NAMES]
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


def with_columns(text: str, columns: dict, **options) -> str:
    """SRC for a log with its columns (and options) named: `path?user=uid&item=sku`."""
    path, _, query = text.partition("?")
    opts = dict(parse_qsl(query, keep_blank_values=True))
    opts.update({k: v for k, v in columns.items() if v})
    opts.update({k: v for k, v in options.items() if v not in (None, "")})
    return path + ("?" + "&".join(f"{k}={v}" for k, v in opts.items()) if opts else "")


def parse_columns(text: str) -> dict:
    """--columns user=uid,item=sku,time=ts[,rating=stars] -> {"user": "uid", ...}."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, eq, col = part.partition("=")
        if not eq or not col.strip():
            raise DataError(f"bad --columns part {part!r}: use ROLE=COLUMN, e.g. user=uid,item=sku,time=ts")
        if role.strip() not in ROLES:
            raise DataError(f"unknown column role {role.strip()!r}: the roles are {', '.join(ROLES)}")
        out[role.strip()] = col.strip()
    return out


__all__ = [
    "LogSpec",
    "detect_columns",
    "is_log",
    "load_log",
    "parse_columns",
    "parse_src",
    "preview",
    "read_toml",
    "with_columns",
    "write_toml",
]

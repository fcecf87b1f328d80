"""How a team's own interaction log is described: its SRC (a table file with `?options`) or
its dataset TOML file, parsed into a `LogSpec`; `logs.load_log` reads it.

SRC forms (`load_dataset` sends them here):

- `events.csv`, `events.tsv`, `events.parquet`: columns found by their common names
  (`COLUMN_NAMES`), or named after a `?`: `events.csv?user=uid&item=sku&time=ts&rating=stars`,
  with the options `threshold=4` (only ratings at or above it are kept as interactions),
  `k_core=5`, `items=items.csv` (with `item_key=`, `item_name=`, `categories=col1+col2`,
  `category_sep=;`), `item_noun=product` and `label=` (the dataset's name).
- `shop.toml`: a dataset file naming the same things (`write_toml` writes one; the app does
  for each dataset it adds):

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
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

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


def norm(name: str) -> str:
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
            if col not in taken and norm(col) in COLUMN_NAMES[role]:
                found[role] = col
                taken.add(col)
                break
    return found


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

"""Reading data files from a folder or a zip, and parsing delimited tables with messages
that name the file, the line and the problem."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from recsys_core.errors import DataError


class Source:
    """A folder or a .zip of data files, addressed by base name (zips nest a folder)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise DataError("no such file or folder", str(self.path))
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            self._members = {p.name: p for p in sorted(self.path.rglob("*")) if p.is_file()}
        else:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise DataError(f"not a readable zip archive (truncated or corrupt?): {e}", str(self.path)) from e
            members = sorted(self._zip.namelist(), key=lambda n: (n.count("/"), n))
            self._members = {}
            for n in members:
                if not n.endswith("/"):
                    self._members.setdefault(PurePosixPath(n).name, n)

    def names(self) -> list[str]:
        return list(self._members)

    def has(self, name: str) -> bool:
        return name in self._members

    def label(self, name: str) -> str:
        """How a file is named in messages."""
        m = self._members.get(name, name)
        return f"{self.path}!{m}" if self._zip else str(m if isinstance(m, Path) else self.path / m)

    def read(self, name: str) -> bytes:
        if name not in self._members:
            raise DataError(f"missing file {name}", str(self.path))
        try:
            if self._zip is None:
                return self._members[name].read_bytes()
            return self._zip.read(self._members[name])
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise DataError(f"cannot read (truncated or corrupt archive?): {e}", self.label(name)) from e

    def stamp(self) -> str:
        """Changes when any file changes (size or modification time): the cache key."""
        h = hashlib.sha256(str(self.path.resolve()).encode())
        files = [self.path] if self._zip else list(self._members.values())
        for p in files:
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:16]


def read_table(
    src: Source,
    name: str,
    columns: list[str],
    sep: str,
    *,
    header: bool = False,
    encoding: str = "utf-8",
    quoted: bool = False,
    required: list[str] | None = None,
    numbers: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, int]:
    """Parse a delimited file into string columns; returns (frame, line number of row 0).

    Multi-character separators (MovieLens-1M's `::`) are rewritten to a tab first, so the
    fast C parser reads them. Every row must have a non-empty value in each `required`
    column (default: all of `columns`); a row with too many fields is an error.
    Columns in `numbers` are parsed as float64 by the C parser when every value is a
    number; otherwise they stay strings and `numeric()` finds the bad line.

    long: each kind of malformed input (encoding, separator, short and long rows, empty
    cells) is caught where the parse meets it, so its message can name the line.
    """
    label = src.label(name)
    raw = src.read(name)
    if not raw.strip():
        raise DataError("the file is empty", label)
    raw = raw.rstrip(b"\r\n") + b"\n"  # trailing blank lines are not rows
    if len(sep) > 1:
        raw = raw.replace(sep.encode(), b"\t")
        sep = "\t"
    required = columns if required is None else required
    need = max(columns.index(c) for c in required) + 1
    lines = raw.split(b"\n", 2)
    first = lines[1] if header and len(lines) > 1 else lines[0]
    if first.count(sep.encode()) + 1 < need:
        shown = repr(sep) if sep != "\t" else "tab"
        raise DataError(
            f"expected {need} {shown}-separated fields, found {first.count(sep.encode()) + 1}"
            " (wrong separator or format?)",
            label,
            2 if header else 1,
        )

    def parse(dtype):
        return pd.read_csv(
            io.BytesIO(raw),
            sep=sep,
            header=None,
            skiprows=1 if header else 0,
            dtype=dtype,
            encoding=encoding,
            keep_default_na=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
            engine="c",
            names=list(range(len(columns))),
            on_bad_lines="error",
        )

    try:
        try:
            fast = {i: ("float64" if c in numbers else str) for i, c in enumerate(columns)}
            df = parse(fast) if numbers else parse(str)
        except ValueError:
            df = parse(str)  # some value is not a number: numeric() will name its line
    except pd.errors.ParserError as e:
        raise DataError(f"malformed row: {e}", label) from e
    except UnicodeDecodeError as e:
        raise DataError(f"not valid {encoding} text: {e}", label) from e
    df.columns = columns
    first_line = 2 if header else 1
    # A short row (or a blank line) leaves empty strings in the required columns.
    text = [c for c in required if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
    empty = (df[text] == "").to_numpy()
    if empty.any():
        i, j = np.argwhere(empty)[0]
        raise DataError(f"missing value for {text[j]} (expected {need} fields)", label, first_line + int(i))
    return df, first_line


def numeric(df: pd.DataFrame, col: str, label: str, first_line: int, lines=None) -> pd.Series:
    """The column as numbers; the first non-numeric value is reported with its line
    (row i is on line `first_line + i`, or `lines[i]` when the rows carry their own)."""
    if pd.api.types.is_numeric_dtype(df[col]):
        values = df[col]
    else:
        values = pd.to_numeric(df[col].str.strip(), errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        shown = repr(df[col].iat[i]) if not pd.api.types.is_numeric_dtype(df[col]) else "(empty)"
        raise DataError(f"{col} {shown} is not a number", label, line_of(first_line, lines, i))
    return values


def check_range(values: pd.Series, lo: float, hi: float, label: str, first_line: int, what: str, lines=None) -> None:
    bad = ((values < lo) | (values > hi) | ~np.isfinite(values)).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        where = line_of(first_line, lines, i)
        raise DataError(f"{what} {values.iat[i]:g} is out of range [{lo:g}, {hi:g}]", label, where)


def line_of(first_line: int, lines, i: int) -> int:
    return int(lines.iat[i]) if lines is not None else first_line + i

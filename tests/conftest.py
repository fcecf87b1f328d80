"""Shared fixtures: every test gets its own data and artifacts folders (never the user's)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

import recsys_core  # noqa: F401 - first: OpenMP's wait policy is set before any test imports torch

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = Path(os.environ.get("RECSYS_REAL_DATA", ROOT / "data"))


@pytest.fixture(autouse=True)
def isolated_folders(tmp_path_factory, monkeypatch):
    data = tmp_path_factory.mktemp("data")
    arts = tmp_path_factory.mktemp("artifacts")
    monkeypatch.setenv("RECSYS_DATA", str(data))
    monkeypatch.setenv("RECSYS_ARTIFACTS", str(arts))
    # the app fetches and builds by itself where nothing is there; tests ask for it explicitly
    monkeypatch.setenv("RECSYS_AUTO_FETCH", "0")
    monkeypatch.setenv("RECSYS_AUTO_BUILD", "0")
    # one torch thread: the same numbers on every machine, whatever its cores
    monkeypatch.setenv("RECSYS_THREADS", "1")
    yield


@contextmanager
def own_folders(tmp_path_factory, artifacts: Path):
    """For module-scoped fixtures, which run before the per-test `isolated_folders`: their
    own data folder and `artifacts` (split caches land there, not in the user's folders)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_DATA", str(tmp_path_factory.mktemp("data")))
        mp.setenv("RECSYS_ARTIFACTS", str(artifacts))
        yield


@pytest.fixture
def real_data(monkeypatch):
    """Point at the real fetched data (make test fetches ml-100k); skip when absent."""
    if not (REAL_DATA / "ml-100k" / "FETCHED.json").exists():
        pytest.skip(f"real ml-100k not fetched in {REAL_DATA} (run `make data`)")
    monkeypatch.setenv("RECSYS_DATA", str(REAL_DATA))
    return REAL_DATA

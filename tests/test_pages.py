"""Pages rendered with Streamlit's AppTest on small synthetic data."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.data import load_dataset
from tests.conftest import ROOT

SYN = "synthetic:users=80,items=60,seed=1"


@pytest.fixture(autouse=True)
def clear_streamlit_caches(monkeypatch):
    """AppTest shares st.cache_* between tests (streamlit#9139): start each test clean."""
    monkeypatch.setenv("RECSYS_DATASETS", SYN)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def run_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_home_shows_dataset_summary():
    at = run_app()
    ds = load_dataset(SYN)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Users"] == f"{ds.n_users:,}"
    assert metrics["Movies"] == f"{ds.n_items:,}"
    assert metrics["Ratings"] == f"{ds.n_ratings:,}"
    assert metrics["Density"] == f"{ds.density:.2%}"
    assert metrics["Genres"] == str(len(ds.genres))
    assert at.selectbox(key="dataset").value == SYN


def test_home_without_any_dataset_offers_fetch(monkeypatch):
    monkeypatch.setenv("RECSYS_DATASETS", "")
    at = run_app()
    assert at.button(key="fetch_default").label == "Fetch MovieLens-100K"
    assert not at.metric

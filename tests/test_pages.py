"""Pages rendered with Streamlit's AppTest on small synthetic data."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.data import load_dataset
from tests.conftest import ROOT

SYN = "synthetic:users=80,items=60,seed=1"
BUILT = ["popularity", "genre", "ease", "mf"]


@pytest.fixture(scope="module")
def built_store(tmp_path_factory):
    """A store with cheap shipped models built for the synthetic dataset."""
    from recsys_core.build import build
    from recsys_core.store import Store

    root = tmp_path_factory.mktemp("built")
    build(load_dataset(SYN), BUILT, Store(root))
    return root


@pytest.fixture(autouse=True)
def clear_streamlit_caches(monkeypatch):
    """AppTest shares st.cache_* between tests (streamlit#9139): start each test clean."""
    monkeypatch.setenv("RECSYS_DATASETS", SYN)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def run_app(page: str | None = None, store_root=None, monkeypatch=None) -> AppTest:
    if store_root is not None:
        monkeypatch.setenv("RECSYS_ARTIFACTS", str(store_root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py")
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


def test_home_leaderboard_shows_store_values(built_store, monkeypatch):
    from recsys_core.build import shipped_runs
    from recsys_core.store import Store

    at = run_app(store_root=built_store, monkeypatch=monkeypatch)
    runs = shipped_runs(Store(built_store), load_dataset(SYN))
    board = at.dataframe[0].value
    assert set(board.index) == set(BUILT)
    assert board.loc["ease", "HR@10"] == pytest.approx(runs["ease"]["metrics"]["loo-uniform"]["HR@10"])
    assert board.index[0] == board["NDCG@10"].idxmax()  # sorted best first


def test_similar_page_lists_genre_neighbours(built_store, monkeypatch):
    from recsys_core import views

    at = run_app("similar", built_store, monkeypatch)
    ds = load_dataset(SYN)
    item = at.selectbox(key="movie").value
    expected = views.genre_neighbours(ds, item, 10)["title"].tolist()
    assert at.dataframe[0].value["title"].tolist() == expected
    assert at.selectbox(key="emb_model").value == "mf"


def test_users_page_shows_cached_top10(built_store, monkeypatch):
    from recsys_core.build import shipped_runs
    from recsys_core.store import Store

    at = run_app("users", built_store, monkeypatch)
    assert not at.exception
    ds = load_dataset(SYN)
    user = at.selectbox(key="user").value
    model_a = at.selectbox(key="model_a").value
    key = shipped_runs(Store(built_store), ds)[model_a]["key"]
    top = Store(built_store).load_arrays(key, "topk")["items"][user][:10]
    shown = [t.removeprefix("★ ") for t in at.dataframe[-2].value["title"]]
    assert shown == ds.items["title"].to_numpy()[top].tolist()
    at.selectbox(key="user").set_value(-1).run()  # the new-user option: no crash without NCF
    assert not at.exception


def test_embedding_and_sweeps_pages_render(built_store, monkeypatch):
    at = run_app("embeddings", built_store, monkeypatch)
    assert not at.exception and any("Explained variance" in c.value for c in at.caption)
    at = run_app("sweeps", built_store, monkeypatch)
    assert not at.exception
    assert at.button(key="run_sweep")  # not run yet on this data: offered as a background job


def test_pages_without_artifacts_say_what_to_do(monkeypatch):
    at = run_app("similar")
    assert not at.exception
    assert any(b.label == "Build the models now" for b in at.button)

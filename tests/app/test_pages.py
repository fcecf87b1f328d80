"""Pages rendered with Streamlit's AppTest on small synthetic data."""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.data import load_dataset
from tests.conftest import ROOT, own_folders

SYN = "synthetic:users=80,items=60,seed=1"
BUILT = ["popularity", "genre", "ease", "mf", "sasrec"]


@pytest.fixture(scope="module")
def built_store(tmp_path_factory):
    """A store with cheap shipped models built for the synthetic dataset."""
    from recsys_core.runs.build import build
    from recsys_core.runs.store import Store

    root = tmp_path_factory.mktemp("built")
    with own_folders(tmp_path_factory, root):
        build(load_dataset(SYN), BUILT, Store(root))
    return root


@pytest.fixture(autouse=True)
def clear_streamlit_caches(monkeypatch):
    """AppTest shares st.cache_* between tests (streamlit#9139): start each test clean."""
    monkeypatch.setenv("RECSYS_DATASETS", SYN)
    st.cache_data.clear()
    st.cache_resource.clear()
    main = sys.modules["__main__"]
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
    # AppTest leaves the page script as __main__; a later spawn-based process pool would
    # re-run that script in its workers (they die and are respawned forever): put it back.
    sys.modules["__main__"] = main


def run_app(page: str | None = None, store_root=None, monkeypatch=None) -> AppTest:
    if store_root is not None:
        monkeypatch.setenv("RECSYS_ARTIFACTS", str(store_root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py")
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
    from recsys_core.evaluation.paired import holm
    from recsys_core.runs.catalog import shipped_runs
    from recsys_core.runs.results import Results
    from recsys_core.runs.store import Store

    at = run_app(store_root=built_store, monkeypatch=monkeypatch)
    runs = shipped_runs(Store(built_store), load_dataset(SYN))
    board = at.dataframe[0].value  # the first tab: full ranking, the headline
    assert [t.label for t in at.tabs][:2] == ["full", "temporal"]
    assert set(board.index) == set(BUILT)
    assert board.loc["ease", "HR@10"] == pytest.approx(runs["ease"].metrics["full"]["HR@10"])
    assert board.index[0] == board["NDCG@10"].idxmax()  # sorted best first
    # each gap to the next model: the paired test over the same users, Holm-corrected over the board
    res = Results(Store(built_store), load_dataset(SYN))
    order = list(board.index)
    tests = [res.paired(a, b, "full") for a, b in zip(order, order[1:])]
    adjusted = holm([t.p_value for t in tests])
    for model, t, p in zip(order, tests, adjusted):
        assert board.loc[model, "gap to next"].endswith(f"{t.diff:+.3f} ({'p<0.001' if p < 0.001 else f'p {p:.2g}'})")
    assert board.loc[order[-1], "gap to next"] == "–"
    assert any("Holm-corrected" in c.value for c in at.caption)
    assert any("validation item held out" in c.value for c in at.caption)  # which model the figures test
    assert any("Sampled protocol" in c.value and "Krichene" in c.value for c in at.caption)


def test_similar_page_lists_genre_neighbours(built_store, monkeypatch):
    from recsys_core.data import summary

    at = run_app("similar", built_store, monkeypatch)
    ds = load_dataset(SYN)
    item = at.selectbox(key="movie").value
    expected = summary.genre_neighbours(ds, item, 10)["title"].tolist()
    assert at.dataframe[0].value["title"].tolist() == expected
    assert at.selectbox(key="emb_model").value == "mf"


def test_users_page_shows_cached_top10(built_store, monkeypatch):
    from recsys_core.runs.catalog import shipped_runs
    from recsys_core.runs.store import Store

    at = run_app("users", built_store, monkeypatch)
    assert not at.exception
    ds = load_dataset(SYN)
    user = at.selectbox(key="user").value
    model_a = at.selectbox(key="model_a").value
    key = shipped_runs(Store(built_store), ds)[model_a].key
    top = Store(built_store).load_arrays(key, "topk")["items"][user][:10]
    table = at.dataframe[-2].value
    shown = [t.removeprefix("HELD OUT: ").removeprefix("• ") for t in table["title"]]
    assert shown == ds.items["title"].to_numpy()[top].tolist()
    from recsys_core.evaluation.splits import loo_split

    held_out = int(loo_split(ds).test_items[user])
    marked = [t.startswith("HELD OUT: ") for t in table["title"]]
    assert marked == [int(i) == held_out for i in top]  # the hit is marked on its own row, as text
    # why this: for EASE, the history movie with the largest item-item weight to each recommendation
    from recsys_core.runs.artifacts import load_model

    at.selectbox(key="model_a").set_value("ease").run()
    table = at.dataframe[-2].value
    ease = load_model(Store(built_store), shipped_runs(Store(built_store), ds)["ease"], ds)
    train = loo_split(ds).train
    history = train.items[train.users == user]
    first = int(
        Store(built_store).load_arrays(shipped_runs(Store(built_store), ds)["ease"].key, "topk")["items"][user][0]
    )
    expected = ds.title_of(int(history[ease.item_item()[history, first].argmax()]))
    assert table["because you watched"].iloc[0].startswith(expected + " · ")
    at.selectbox(key="user").set_value(-1).run()  # the new-user option: no crash without NCF
    assert not at.exception


def test_embedding_and_sweeps_pages_render(built_store, monkeypatch):
    from recsys_core.runs.results import Results
    from recsys_core.runs.store import Store

    at = run_app("embeddings", built_store, monkeypatch)
    assert not at.exception and any("Explained variance" in c.value for c in at.caption)
    # what each axis separates is measured on the map shown, not a fixed claim
    res = Results(Store(built_store), load_dataset(SYN))
    df, _ = res.embedding_map(at.selectbox(key="map_model").value)
    corr, _, _ = res.map_story(df, "PC1")
    said = next(m.value for m in at.markdown if m.value.startswith("**PC1**"))
    assert all(f"r = {r:+.2f}" in said for r in corr.values()) and "seriousness" not in said
    at = run_app("sweeps", built_store, monkeypatch)
    assert not at.exception
    assert at.button(key="run_sweep")  # not run yet on this data: offered as a background job


def test_pages_without_artifacts_say_what_to_do(monkeypatch):
    at = run_app("similar")
    assert not at.exception
    assert any(b.label == "Build the models now" for b in at.button)


def run_page(page: str, store_root, monkeypatch) -> AppTest:
    """One page on its own (the sidebar's dataset set in the session), so widget reruns keep it."""
    monkeypatch.setenv("RECSYS_ARTIFACTS", str(store_root))
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=60)
    at.session_state["dataset"] = SYN
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _wait_for_run(root, timeout=90):
    """The state that matters: the app's training jobs have ended (their child processes
    returned), and the run they stored."""
    from app_pages._shared import job_manager
    from recsys_core.runs.catalog import MY_RUNS
    from recsys_core.runs.store import Store

    for job in job_manager().jobs(kind="train"):
        job_manager().wait(job, timeout)
    runs = Store(root).runs(sweep=MY_RUNS)
    assert runs and runs[-1].status not in ("queued", "running"), "the training job did not finish"
    return runs[-1]


def train_page(built_store, monkeypatch, tmp_path, model: str | None = None):
    """The Train page on a copy of the built store (its runs land there), with `model` picked."""
    import shutil

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    at = run_page("train", root, monkeypatch)
    if model is not None:
        at.segmented_control(key="train_model").set_value(model).run()
    return at, root


def test_train_page_says_a_small_step_model_trains_on_one_thread(built_store, monkeypatch, tmp_path):
    """The device line follows the picked model and its settings: NeuMF and GRU4Rec in small
    batches train on one thread where the cores are more (`devices.useful_threads`); SASRec on
    one a core; a count named in RECSYS_THREADS is what every run takes."""
    from recsys_core.runs import zoo
    from recsys_core.training.devices import SMALL_STEP_POSITIONS, usable_cores

    monkeypatch.delenv("RECSYS_THREADS", raising=False)
    at, _ = train_page(built_store, monkeypatch, tmp_path)

    def line() -> str:
        return next(m.value for m in at.markdown if "This run will use" in m.value)

    cores = usable_cores()
    fewer = "1 torch thread, fewer than the cores: its steps are too small to share"
    assert (fewer in line()) == (cores > 1), line()  # ncf, the page's first model
    at.segmented_control(key="train_model").set_value("sasrec").run()
    assert f"{cores} torch thread" in line() and "one per core" in line(), line()
    at.segmented_control(key="train_model").set_value("gru4rec").run()
    assert "one per core" in line(), line()  # batches of 128 x 50 positions: one thread a core
    assert 16 * zoo.config_for("gru4rec").max_len <= SMALL_STEP_POSITIONS
    at.select_slider(key="gru4rec:batch_size").set_value(16).run()
    assert (fewer in line()) == (cores > 1), line()
    monkeypatch.setenv("RECSYS_THREADS", "2")
    at.run()
    assert "2 torch threads (RECSYS_THREADS)" in line(), line()


@pytest.mark.slow
def test_train_page_sliders_make_the_config_and_the_finished_run_is_shown(built_store, monkeypatch, tmp_path):
    from recsys_core.runs import zoo

    at, root = train_page(built_store, monkeypatch, tmp_path)
    assert at.segmented_control(key="train_model").value == "ncf"
    ncf = zoo.config_for("ncf")
    assert at.select_slider(key="ncf:lr").value == ncf.lr  # every picker starts at the shipped default
    assert at.selectbox(key="ncf:schedule").value == ncf.schedule
    assert at.selectbox(key="ncf:variant").value == ncf.variant
    assert at.toggle(key="ncf:pretrain").value == ncf.pretrain
    assert at.select_slider(key="ncf:recency_half_life").value == ncf.recency_half_life
    assert any("This run will use" in m.value and "CPU" in m.value for m in at.markdown)
    at.segmented_control(key="train_model").set_value("autorec").run()
    autorec = zoo.config_for("autorec")
    assert at.select_slider(key="autorec:average_half_life").value == autorec.average_half_life > 0
    assert at.slider(key="autorec:dropout").value == autorec.dropout
    assert at.selectbox(key="autorec:protocol").value == "ratings"  # the protocol it is judged on
    at.segmented_control(key="train_model").set_value("mf").run()
    at.select_slider(key="mf:dim").set_value(16)
    at.slider(key="mf:epochs").set_value(2)
    at.select_slider(key="mf:lr").set_value(0.01)
    at.selectbox(key="mf:loss").set_value("bpr")
    at.run()
    at.button(key="train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = _wait_for_run(root)
    assert run.status == "done" and run.model == "mf", run.error
    assert (run.config["dim"], run.config["epochs"], run.config["lr"], run.config["loss"]) == (
        16,
        2,
        0.01,
        "bpr",
    )
    assert run.label == "loss=bpr, dim=16, epochs=2, lr=0.01"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Finished in" in s.value for s in at.success)
    figures = at.dataframe[0].value
    assert figures.loc["this run", "HR@10"] == pytest.approx(run.metrics["full"]["HR@10"])  # the default
    shipped = views_leaderboard(root)
    assert figures.loc["shipped defaults", "HR@10"] == pytest.approx(shipped)


@pytest.mark.slow
def test_train_page_names_the_sweep_it_draws_only_once_that_sweep_has_runs(built_store, monkeypatch, tmp_path):
    from recsys_core.runs.store import Store
    from recsys_core.sweeps.executors import run_sweep
    from recsys_core.sweeps.registry import get_sweep

    at, root = train_page(built_store, monkeypatch, tmp_path, "autorec")
    at.slider(key="autorec:epochs").set_value(2)
    at.slider(key="autorec:patience").set_value(1)
    at.run()
    at.button(key="train").click().run()
    run = _wait_for_run(root)
    assert run.status == "done" and "ratings" in run.metrics  # a rating model trains on `ratings` by default
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("beside the shipped model" in m.value for m in at.markdown)
    assert any("**autorec-width**, has not been run" in c.value for c in at.caption)
    sweep = get_sweep("autorec-width")
    run_sweep(replace(sweep, points=sweep.points[:1]), load_dataset(SYN), Store(root))
    at.run()
    assert any("beside sweep **autorec-width**" in m.value for m in at.markdown)
    assert not any("has not been run" in c.value for c in at.caption)


def views_leaderboard(root):
    from recsys_core.runs.results import Results
    from recsys_core.runs.store import Store

    b = Results(Store(root), load_dataset(SYN)).leaderboard()
    return b[(b["model"] == "mf") & (b["protocol"] == "full")]["HR@10"].iloc[0]


def test_train_page_rejects_invalid_settings_and_explains(built_store, monkeypatch):
    at = run_page("train", built_store, monkeypatch)
    at.slider(key="ncf:epochs").set_value(2).run()
    assert any("early stopping cannot end the run" in c.value for c in at.caption)
    at.selectbox(key="ncf:optimizer").set_value("sgd").run()
    assert at.slider(key="ncf:momentum").value == 0.9  # momentum shows with SGD only
    at.selectbox(key="ncf:variant").set_value("gmf").run()
    assert at.toggle(key="ncf:pretrain").disabled  # pre-training needs NeuMF


@pytest.mark.slow
def test_sweeps_page_lists_my_runs_and_parallel_coordinates(built_store, monkeypatch, tmp_path):
    import shutil

    from recsys_core.jobs.manager import JobManager
    from recsys_core.jobs.work import submit_training
    from recsys_core.runs.store import Store

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    store = Store(root)
    jobs = JobManager(store)
    job = submit_training(jobs, store, SYN, "mf", {"epochs": 2, "dim": 8})
    jobs.wait(job, 60)
    at = run_page("sweeps", root, monkeypatch)
    mine = at.dataframe[-1].value
    assert mine["run"].tolist() == [job.run_id] and mine["changes"].iloc[0] == "dim=8, epochs=2"
    assert mine["status"].iloc[0] == "done"
    at.selectbox(key="pc_model").set_value("mf").run()
    runs = at.dataframe[0].value  # the table under the parallel coordinates: shipped mf + my run
    assert sorted(runs["source"]) == ["my-runs", "shipped"] and "dim" in runs
    assert "best-epoch valid NDCG@10" in runs and "last-epoch valid NDCG@10" in runs


@pytest.mark.slow
def test_switching_to_a_dataset_builds_what_is_missing_with_progress(monkeypatch):
    """With auto-build on, picking a dataset with nothing built starts the build in the
    background; its progress shows in the sidebar and the leaderboard fills in."""
    from app_pages._shared import job_manager
    from recsys_core.runs import catalog

    monkeypatch.setattr(catalog, "ZOO", {n: catalog.ZOO[n] for n in ("popularity", "genre", "ease")})  # cheap ones
    monkeypatch.setenv("RECSYS_AUTO_BUILD", "1")
    at = run_app()
    shown = [p.proto.text for p in at.sidebar.get("progress")]
    assert any(t.startswith("Building 0/3") for t in shown), shown  # one count: the build's own
    job = next(j for j in job_manager().jobs(kind="build"))
    job_manager().wait(job, timeout=60)  # the state that matters: the build job's end
    assert job.status == "done", job.error
    at.run()
    assert set(at.dataframe[0].value.index) == {"popularity", "genre", "ease"}
    assert not any("Shipped models for" in c.value for c in at.sidebar.caption)  # all built: nothing to say


def test_deep_links_pick_the_user_or_movie_and_unknown_ids_are_said(built_store, monkeypatch):
    monkeypatch.setenv("RECSYS_ARTIFACTS", str(built_store))
    ds = load_dataset(SYN)
    for params, key, expected in [
        ({"user": ds.users["user_id"].iat[7]}, "user", 7),
        ({"movie": ds.items["item_id"].iat[5]}, "movie", 5),
    ]:
        page = "users" if key == "user" else "similar"
        at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=60)
        at.session_state["dataset"] = SYN
        at.query_params.update(params)
        at.run()
        assert not at.exception and not at.warning
        assert at.selectbox(key=key).value == expected
    at = AppTest.from_file(str(ROOT / "app_pages" / "users.py"), default_timeout=60)
    at.session_state["dataset"] = SYN
    at.query_params["user"] = "no-such-user"
    at.run()
    assert not at.exception
    assert "no user with id 'no-such-user'" in at.warning[0].value and at.selectbox(key="user").value == 0


@pytest.mark.slow
def test_train_page_cancel_shows_the_cancelled_run(built_store, monkeypatch, tmp_path):
    at, root = train_page(built_store, monkeypatch, tmp_path, "mf")
    at.slider(key="mf:epochs").set_value(100)
    at.select_slider(key="mf:batch_size").set_value(16)
    at.run()
    at.button(key="train").click().run()
    cancel = [b for b in at.button if str(b.key).startswith("cancel_")]
    assert cancel, "a running job offers Cancel"
    cancel[0].click().run()
    run = _wait_for_run(root)
    assert run.status == "cancelled"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(i.value.startswith("Cancelled") for i in at.info)


def test_sweeps_page_with_a_user_sweep_of_a_closed_form_model(built_store, monkeypatch, tmp_path):
    folder = tmp_path / "sweeps"
    folder.mkdir()
    (folder / "ease.toml").write_text('name = "ease-lam"\nmodel = "ease"\nparam = "lam"\nvalues = [10.0, 500.0]\n')
    monkeypatch.setenv("RECSYS_SWEEPS", str(folder))
    at = run_page("sweeps", built_store, monkeypatch)
    at.selectbox(key="sweep").set_value("ease-lam").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.button(key="run_sweep")  # not run yet: offered as a background job


def test_sweeps_page_warns_that_different_losses_are_not_on_one_scale(built_store, monkeypatch, tmp_path):
    import shutil

    from recsys_core.runs.store import Store
    from recsys_core.sweeps.executors import run_sweep
    from recsys_core.sweeps.registry import get_sweep

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    sweep = get_sweep("mf-loss")
    run_sweep(replace(sweep, points=sweep.points[:2]), load_dataset(SYN), Store(root))
    at = run_page("sweeps", root, monkeypatch)
    at.selectbox(key="sweep").set_value("mf-loss").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("not on one scale" in c.value for c in at.caption)
    assert any(h.value == "Final figures, one row per loss" for h in at.subheader)
    table = at.dataframe[0].value
    assert table["loss"].tolist() == ["BCE", "BPR", "softmax 4", "softmax 16"], table
    assert table["status"].tolist()[:2] == ["done", "done"], table
    at.selectbox(key="sweep").set_value("cdae-hidden").run()  # one loss: no warning
    assert not any("not on one scale" in c.value for c in at.caption)


def test_a_chart_point_id_is_read_whatever_form_streamlit_hands_back():
    from app_pages._widgets import point_id

    assert point_id({"customdata": {"0": 17}}) == 17  # Streamlit 1.67, WebGL and SVG scatters
    assert point_id({"customdata": [17]}) == 17
    assert point_id({"customdata": 17}) == 17
    assert point_id({"x": 1.0}) is None and point_id({"customdata": {}}) is None


def test_every_genre_has_its_own_colour_fixed_across_datasets():
    from app_pages._colours import genre_colours
    from recsys_core.data.loaders import ML100K_GENRES

    ml100k = genre_colours(ML100K_GENRES)
    ml1m = genre_colours([g for g in ML100K_GENRES if g != "unknown"])  # ml-1m: the same 18 named genres
    for palette in (ml100k, ml1m):
        assert len(set(palette.values())) == len(palette)  # no two genres share a colour
    assert all(ml1m[g] == ml100k[g] for g in ml1m)  # Drama is the same blue on every dataset and page
    other = genre_colours(["Drama", "Space opera", "Telenovela"])
    assert other["Drama"] == ml100k["Drama"] and len(set(other.values())) == len(other)
    shop = genre_colours([f"Department {i}" for i in range(20)])  # a log's own 20 categories
    assert len(set(shop.values())) == len(shop)


def test_the_train_form_is_made_from_config_metadata_and_keeps_settings_across_pages(built_store, monkeypatch):
    import dataclasses

    from app_pages._form import SKIP
    from recsys_core.runs import catalog

    at = run_app("train", built_store, monkeypatch)
    for model in ("mf", "cdae", "embnet"):
        at.segmented_control(key="train_model").set_value(model).run()
        cfg = catalog.config_for(model)
        drawn = {str(w.key).split(":", 1)[1] for w in at.main if str(getattr(w, "key", "")).startswith(f"{model}:")}
        wanted = {f.name for f in dataclasses.fields(cfg)} - SKIP - {"momentum", "restart_epochs"}
        rating = catalog.entry(model).task == "rating"
        if rating:  # a rating model validates on RMSE: no ranking candidates to choose
            wanted.discard("validate_on")
            assert "validate_on" not in drawn
        assert wanted <= drawn, wanted - drawn  # every field a user sets has its widget, none hand-listed
    at.segmented_control(key="train_model").set_value("mf").run()
    at.slider(key="mf:epochs").set_value(3).run()
    assert at.slider(key="mf:epochs").help == catalog.ZOO["mf"].config.__dataclass_fields__["epochs"].metadata["help"]
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/train.py").run()
    assert at.segmented_control(key="train_model").value == "mf"
    assert at.slider(key="mf:epochs").value == 3  # kept across the page switch
    at.button(key="reset").click().run()
    assert at.slider(key="mf:epochs").value == catalog.config_for("mf").epochs


def test_a_trained_run_can_be_picked_on_every_page_beside_the_shipped_models(built_store, monkeypatch, tmp_path):
    import shutil

    from recsys_core.runs import catalog
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    store, ds = Store(root), load_dataset(SYN)
    cfg = catalog.config_for("mf", {"epochs": 2, "dim": 8})
    run = ensure_run(
        store,
        ds,
        "mf",
        cfg,
        ["loo-uniform"],
        sweep=catalog.MY_RUNS,
        label="dim=8, epochs=2",
        artifacts=False,
        reuse=False,
        meta={"src": SYN},
    ).run
    choice = f"run:{run.id}"
    assert store.load_arrays(run.key, "topk") is None  # nothing made until someone looks
    at = run_page("users", root, monkeypatch)
    label = f"run {run.id} · mf · dim=8, epochs=2 · "  # the run and its settings first: readable when narrow
    assert any(o.startswith(label) for o in at.selectbox(key="model_a").options)
    at.selectbox(key="model_a").set_value(choice).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(label in h.value for h in at.subheader)
    assert store.load_arrays(run.key, "topk") is not None  # made from the reloaded weights, kept
    for page, key in (("similar", "emb_model"), ("embeddings", "map_model")):
        at = run_page(page, root, monkeypatch)
        at.selectbox(key=key).set_value(choice).run()
        assert not at.exception, [e.value for e in at.exception]
    # a run whose weights were lost says so and offers to train it again
    other = ensure_run(
        store,
        ds,
        "mf",
        catalog.config_for("mf", {"epochs": 1, "dim": 4}),
        ["loo-uniform"],
        sweep=catalog.MY_RUNS,
        label="x",
        artifacts=False,
        reuse=False,
        meta={"src": SYN},
    ).run
    (store.artifact_dir(other.key) / "weights.pt").write_bytes(b"x")
    at = run_page("users", root, monkeypatch)
    at.selectbox(key="model_a").set_value(f"run:{other.id}").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("weights are missing or fail their checksum" in e.value for e in at.error)
    at.button(key=f"retrain_{other.id}").click().run()
    assert any("Queued as run" in m.value for m in at.success)


def test_similar_movies_offers_also_liked_and_popularity_free_embedding_neighbours(tmp_path_factory, monkeypatch):
    from recsys_core.runs.build import build
    from recsys_core.runs.store import Store
    from tests.conftest import own_folders

    root = tmp_path_factory.mktemp("similar")
    with own_folders(tmp_path_factory, root):
        build(load_dataset(SYN), ["ease", "mf"], Store(root))
    at = run_page("similar", root, monkeypatch)
    titles = [h.value for h in at.subheader]
    assert titles == [
        "Same genres",
        "People who liked this also liked",
        "Near in a learned embedding",
        "Which neighbours to trust",
    ]
    also, near, measure = at.dataframe[1].value, at.dataframe[2].value, at.dataframe[3].value
    assert len(also) == 10 and also["weight"].is_monotonic_decreasing
    # the default is the variant measured best: most neighbours sharing a genre over the panel
    assert len(measure) == 4 and measure["shares a genre"].between(0, 1).all()
    variants = measure.iloc[:3]  # the three embedding variants, then EASE
    best = variants["shares a genre"].idxmax()
    assert at.selectbox(key="emb_debias").value == ["top-pc", "centred", "none"][best]
    at.selectbox(key="emb_debias").set_value("top-pc").run()
    near = at.dataframe[2].value
    assert all(r >= 20 for r in near["ratings"])  # noisy rare movies left out once popularity is removed
    assert sum("Mean popularity of this list" in c.value for c in at.caption) == 3
    at.selectbox(key="emb_debias").set_value("none").run()
    raw = at.dataframe[2].value
    assert list(raw["title"]) != list(near["title"])


def test_a_link_opens_the_same_view(built_store, monkeypatch):
    monkeypatch.setenv("RECSYS_ARTIFACTS", str(built_store))
    at = AppTest.from_file(str(ROOT / "app_pages" / "users.py"), default_timeout=60)
    at.session_state["dataset"] = SYN
    at.query_params.update({"model_a": "ease", "model_b": "popularity"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert (at.selectbox(key="model_a").value, at.selectbox(key="model_b").value) == ("ease", "popularity")
    at.selectbox(key="model_b").set_value("mf").run()
    assert at.query_params["model_b"] == "mf"  # the address bar follows the view
    at = AppTest.from_file(str(ROOT / "app_pages" / "sweeps.py"), default_timeout=60)
    at.session_state["dataset"] = SYN
    at.query_params["sweep"] = "cdae-hidden"
    at.run()
    assert at.selectbox(key="sweep").value == "cdae-hidden"


def test_findings_are_computed_from_the_store_and_name_their_protocol(built_store, monkeypatch):
    from recsys_core.runs.findings import findings
    from recsys_core.runs.results import Results
    from recsys_core.runs.store import Store
    from recsys_core.sweeps.registry import all_sweeps

    res = Results(Store(built_store), load_dataset(SYN))
    found = findings(res, all_sweeps())
    board = res.leaderboard()
    lead = board[board["protocol"] == "loo-uniform"].sort_values("NDCG@10", ascending=False).iloc[0]
    first = next(f for f in found if f.title.endswith("under loo-uniform"))
    assert first.title.startswith(lead["model"]) and f"{lead['NDCG@10']:.3f}" in first.text
    assert first.protocol.startswith("loo-uniform: leave-one-out by time")
    assert all(f.protocol for f in found)  # every finding says how it was measured
    assert any(f.title.startswith("What the first direction of mf") for f in found)
    assert not any("NeuMF" in f.title for f in found)  # NeuMF is not built here: nothing said about it
    at = run_app("findings", built_store, monkeypatch)
    assert [s.value for s in at.subheader] == [*(f.title for f in found), "For whom: two models, segment by segment"]
    assert any(f.title.startswith("Does the order hold from full to loo-uniform") for f in found)
    assert any(f.title == "Where the popularity baseline's score comes from" for f in found)
    seg = at.dataframe[-1].value  # the segments view: every user in exactly one segment
    assert seg["users"].sum() == len(res.ranks("popularity", "full").users)


@pytest.mark.slow
def test_a_corrupt_artifact_is_said_everywhere_and_rebuilt_by_itself(built_store, monkeypatch, tmp_path):
    import shutil

    from app_pages._shared import job_manager
    from recsys_core.runs.catalog import shipped_runs
    from recsys_core.runs.store import Store

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    key = shipped_runs(Store(root), load_dataset(SYN))["mf"].key
    (Store(root).artifact_dir(key) / "topk.npz").write_bytes(b"truncated")
    monkeypatch.setenv("RECSYS_AUTO_BUILD", "1")
    at = run_app(None, root, monkeypatch)
    assert any("**mf**: a stored file failed its checksum" in w.value for w in at.warning)
    build = next(j for j in job_manager().jobs(kind="build"))  # started by itself
    job_manager().wait(build, timeout=60)
    assert build.status == "done", build.error
    assert Store(root).load_arrays(shipped_runs(Store(root), load_dataset(SYN))["mf"].key, "topk") is not None
    at.run()
    assert not any("failed its checksum" in w.value for w in at.warning)


@pytest.mark.slow
def test_sweeps_page_starts_a_tpe_search_the_user_describes_and_draws_its_points(built_store, monkeypatch, tmp_path):
    import json
    import shutil

    from app_pages._shared import job_manager

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    monkeypatch.setenv("RECSYS_SWEEPS", str(tmp_path / "sweeps"))
    at = run_page("sweeps", root, monkeypatch)
    at.selectbox(key="new_sweep_model").set_value("mf").run()
    at.segmented_control(key="new_sweep_method").set_value("tpe").run()
    at.multiselect(key="new_sweep_params_mf").set_value(["lr", "dim"]).run()
    at.number_input(key="new_sweep:mf:tpe:dim:lo").set_value(4).run()
    at.number_input(key="new_sweep:mf:tpe:dim:hi").set_value(16).run()
    at.number_input(key="new_sweep_epochs").set_value(2).run()
    at.number_input(key="new_sweep_budget").set_value(0).run()
    assert at.number_input(key="new_sweep_budget").value == 0  # kept as typed, never snapped back
    at.button(key="new_sweep_start").click().run()
    assert any("budget 0: give a whole number from 1 to 200" in e.value for e in at.error)
    assert not (tmp_path / "sweeps").exists() and not job_manager().jobs(kind="sweep")  # nothing started
    at.number_input(key="new_sweep_budget").set_value(4).run()
    at.text_input(key="new_sweep_name_mf_tpe").set_value("ncf-lr").run()
    at.button(key="new_sweep_start").click().run()
    assert any("is a shipped sweep" in e.value for e in at.error)  # refused, nothing written or started
    assert not (tmp_path / "sweeps").exists() and not job_manager().jobs(kind="sweep")
    at.number_input(key="new_sweep:mf:tpe:lr:hi").set_value(50.0).run()  # lr's own bound is 10
    at.text_input(key="new_sweep_name_mf_tpe").set_value("mf-tpe").run()
    at.button(key="new_sweep_start").click().run()
    assert any("invalid value 50" in e.value for e in at.error), [e.value for e in at.error]
    at.number_input(key="new_sweep:mf:tpe:lr:hi").set_value(0.05).run()
    at.button(key="new_sweep_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    spec = json.loads((tmp_path / "sweeps" / "mf-tpe.json").read_text())
    assert spec["search"]["method"] == "tpe" and spec["search"]["space"]["dim"] == {"low": 4, "high": 16}
    job = next(iter(job_manager().jobs(kind="sweep")))
    job_manager().wait(job, timeout=120)  # the state that matters: the sweep job's end
    assert job.status == "done", job.error
    at.run()
    assert at.selectbox(key="sweep").value == "mf-tpe"  # the new sweep is the one shown
    table = at.dataframe[0].value
    assert len(table) == 4 and set(table["status"]) == {"done"}
    assert any("a TPE search (Optuna) of 4 points" in c.value for c in at.caption)
    assert "parcoords" in at.get("plotly_chart")[1].proto.spec  # the search's points, after its curves


def test_compare_users_shows_what_a_sequential_model_reads_and_where_sasrec_attends(built_store, monkeypatch, tmp_path):
    import shutil

    from recsys_core.evaluation.splits import loo_split
    from recsys_core.runs import catalog
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    ds = load_dataset(SYN)
    cfg = catalog.config_for("sasrec", {"epochs": 2, "hidden": 16, "max_len": 20, "batch_size": 32})
    run = ensure_run(Store(root), ds, "sasrec", cfg, ["loo-uniform"], sweep="my-runs", label="small").run
    at = run_page("users", root, monkeypatch)
    at.selectbox(key="model_b").set_value(f"run:{run.id}").run()
    assert not at.exception, [e.value for e in at.exception]
    user = at.selectbox(key="user").value
    assert any(m.value.startswith(f"**What run {run.id} · sasrec · small") for m in at.markdown)
    reading = at.dataframe[-1].value
    split = loo_split(ds)
    history = ds.ratings[ds.ratings["user"] == user]
    # newest first: the validation movie (read for the test figures) on top
    assert reading["movie"].str.removeprefix("MOST ATTENDED: ").iloc[0] == ds.title_of(int(split.valid_items[user]))
    assert ds.title_of(int(split.test_items[user])) not in set(reading["movie"])  # never the held-out movie
    assert len(reading) == min(15, len(history) - 1)
    assert reading["movie"].str.startswith("MOST ATTENDED: ").sum() == 1
    assert reading["attention"].max() == pytest.approx(
        reading.loc[reading["movie"].str.startswith("MOST"), "attention"].iloc[0]
    )


def test_the_leaderboard_notes_what_survives_when_the_order_is_shuffled(built_store, monkeypatch, tmp_path):
    import shutil

    from recsys_core.runs.store import Store
    from recsys_core.sweeps.executors import run_sweep
    from recsys_core.sweeps.registry import SHIPPED

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    small = {"epochs": 3, "hidden": 16, "max_len": 20, "batch_size": 32}
    run_sweep(replace(SHIPPED["sasrec-order"], base=small), load_dataset(SYN), Store(root))
    at = run_app(None, root, monkeypatch)
    note = next(c.value for c in at.caption if c.value.startswith("**Is the order real?**"))
    rows = {r.label: r for r in Store(root).runs(sweep="sasrec-order")}
    for label in ("by time", "ties shuffled", "all shuffled"):
        assert f"{label}: {rows[label].metrics['loo-uniform']['NDCG@10']:.3f}" in note


def test_train_page_draws_the_sequential_models_settings(built_store, monkeypatch, tmp_path):
    from recsys_core.runs import zoo

    at, _ = train_page(built_store, monkeypatch, tmp_path, "sasrec")
    assert not at.exception, [e.value for e in at.exception]
    cfg = zoo.config_for("sasrec")
    assert at.select_slider(key="sasrec:max_len").value == cfg.max_len
    assert at.slider(key="sasrec:blocks").value == cfg.blocks
    assert at.select_slider(key="sasrec:heads").value == cfg.heads
    assert at.selectbox(key="sasrec:order").value == "time"
    assert not any(s.key == "sasrec:n_negatives" for s in at.select_slider)  # the full softmax has none
    at.selectbox(key="sasrec:loss").set_value("softmax").run()
    assert at.select_slider(key="sasrec:n_negatives").value == cfg.n_negatives
    # the sequential models' `tied` is their output table, not an autoencoder's decoder
    assert at.toggle(key="sasrec:tied").value is True and at.toggle(key="sasrec:tied").label == "Tied output"
    # a window stride for SASRec, whose attention always trains through the context
    assert at.select_slider(key="sasrec:stride").value == 0
    at.select_slider(key="sasrec:stride").set_value(10).run()
    assert not any(t.key == "sasrec:context_grad" for t in at.toggle)
    at.segmented_control(key="train_model").set_value("gru4rec").run()
    assert at.slider(key="gru4rec:layers").value == zoo.config_for("gru4rec").layers
    # GRU4Rec's context switch shows once a stride makes a context
    assert not any(t.key == "gru4rec:context_grad" for t in at.toggle)
    at.select_slider(key="gru4rec:stride").set_value(5).run()
    assert at.toggle(key="gru4rec:context_grad").value is True


def test_train_page_offers_mixed_precision_only_where_this_machine_has_it(built_store, monkeypatch, tmp_path):
    """On the CPU the setting appears where the CPU has bf16 instructions, and is kept out of the
    way where it would only say "full precision"."""
    from recsys_core.training import devices

    for has, shown in ((False, False), (True, True)):
        monkeypatch.setattr(devices, "cpu_bf16", lambda has=has: has)
        at, _ = train_page(built_store, monkeypatch, tmp_path / str(has), "sasrec")
        assert not at.exception, [e.value for e in at.exception]
        assert any(s.key == "sasrec:amp" for s in at.selectbox) == shown
    assert at.selectbox(key="sasrec:amp").label == "Mixed precision"


def test_train_page_says_a_splits_own_defaults_and_resets_to_them(built_store, monkeypatch, tmp_path):
    """Under the temporal split SASRec ships with torch's start: the page says so without
    changing the person's sliders, and Reset to defaults takes that split's settings and keeps
    the protocol chosen."""
    at, _ = train_page(built_store, monkeypatch, tmp_path, "sasrec")
    assert at.selectbox(key="sasrec:init").value == "normal"
    assert not any("split the shipped" in c.value for c in at.caption)  # leave-one-out: nothing to say
    at.selectbox(key="sasrec:protocol").set_value("temporal").run()
    note = next(c.value for c in at.caption if "Under the temporal split the shipped sasrec" in c.value)
    assert "Starting weights: torch's defaults" in note and "Your settings differ" in note
    assert at.selectbox(key="sasrec:init").value == "normal"  # the person's setting, untouched
    at.button(key="reset").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="sasrec:protocol").value == "temporal"
    assert at.selectbox(key="sasrec:init").value == "torch"
    note = next(c.value for c in at.caption if "Under the temporal split the shipped sasrec" in c.value)
    assert "Your settings differ" not in note


def test_findings_draw_a_sweeps_table_whose_points_are_named_value(built_store, monkeypatch, tmp_path):
    """A sweep's finding table labels its points "value" (the NCF study's layout): the chart
    of its figures must not collide with that name."""
    import shutil

    from recsys_core.runs.store import Store
    from recsys_core.sweeps.executors import run_sweep
    from recsys_core.sweeps.registry import SHIPPED

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    sweep = SHIPPED["ncf-lr"]
    run_sweep(replace(sweep, points=sweep.points[1:3]), load_dataset(SYN), Store(root))  # two of its points
    at = run_page("findings", root, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("The NCF study: learning rate") for s in at.subheader)


def test_the_embedding_map_offers_every_shipped_model_with_embeddings(built_store, monkeypatch):
    at = run_page("embeddings", built_store, monkeypatch)
    assert "sasrec" in at.selectbox(key="map_model").options  # not only the studies' models
    at.selectbox(key="map_model").set_value("sasrec").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("plotly_chart")  # its movie map is drawn


def test_a_gap_cell_says_real_or_noise_and_keeps_a_tiny_p_short():
    from types import SimpleNamespace

    from app_pages._widgets import gap_phrase

    assert gap_phrase({"significant": True, "p_holm": 3.8e-11, "test": SimpleNamespace(diff=0.0531)}) == (
        "✓ +0.053 (p<0.001)"
    )
    assert gap_phrase({"significant": False, "p_holm": 0.62, "test": SimpleNamespace(diff=-0.0021)}) == (
        "≈ -0.002 (p 0.62)"
    )
    assert gap_phrase(None) == "–"


def test_the_order_note_says_how_far_below_a_shuffled_sasrec_falls():
    from app_pages._widgets import lead_phrase

    assert lead_phrase(0.856, 0.058) == " (keeps 86% of its lead over the best order-blind model)"
    assert lead_phrase(-0.91, -0.061) == " (0.061 below the best order-blind model: none of its lead left)"
    assert lead_phrase(float("nan"), float("nan")) == ""


def test_the_server_does_not_collect_garbage_after_every_script_run():
    """Streamlit's gc.collect(2) after each run (and each progress fragment reruns once a
    second) held the interpreter lock most of the time: the app trained 8x slower than the CLI."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_damage_is_found_when_a_page_reads_again_not_only_at_start(built_store, tmp_path):
    import os
    import shutil

    from recsys_core.errors import RecsysError
    from recsys_core.runs.artifacts import load_model
    from recsys_core.runs.results import Results
    from recsys_core.runs.store import Store

    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    ds = load_dataset(SYN)
    res = Results(Store(root), ds)  # what a page keeps between reruns
    assert res.arrays("mf", "topk") is not None and res.broken() == []
    topk = Store(root).artifact_dir(res.shipped["mf"].key) / "topk.npz"
    topk.write_bytes(topk.read_bytes()[:100])  # truncated while the server runs
    assert res.arrays("mf", "topk") is None and res.broken() == ["mf"]
    weights = Store(root).artifact_dir(res.shipped["sasrec"].key) / "weights.pt"
    data = weights.read_bytes()
    weights.write_bytes(data[:-10])
    assert res.broken() == ["mf", "sasrec"]  # a shipped model's weights count too
    with pytest.raises(RecsysError, match="a shipped model: the app's build"):
        load_model(res.store, res.shipped["sasrec"], ds)  # the advice fits a shipped model
    weights.write_bytes(data)  # put back: intact again, as long as the content matches
    os.utime(weights)
    assert res.broken() == ["mf"]


@pytest.mark.slow
def test_a_viewer_sees_results_but_training_is_refused_until_the_editor_token(tmp_path, monkeypatch):
    from app_pages._shared import job_manager
    from recsys_core.runs.store import Store

    monkeypatch.setenv("RECSYS_EDITOR_TOKEN", "team-s3cret")
    at = run_page("train", tmp_path / "store", monkeypatch)
    at.button(key="train").click().run()
    assert any("needs editor access" in w.value for w in at.warning)
    assert Store(tmp_path / "store").runs() == [] and not job_manager().jobs(kind="train")  # nothing created
    at.session_state["editor_token"] = "wrong"
    at.button(key="train").click().run()
    assert Store(tmp_path / "store").runs() == []
    at.session_state["editor_token"] = "team-s3cret"
    at.button(key="train").click().run()
    assert not any("needs editor access" in w.value for w in at.warning)
    job = job_manager().get(at.session_state["train_job"])
    assert job is not None and job.meta["session"]  # counted against this browser session's cap
    jobs = job_manager()
    jobs.cancel(job.id)
    jobs.wait(job, 60)


def test_home_says_plainly_when_the_server_is_open_to_the_network(monkeypatch):
    at = run_app()
    assert not any("every network interface" in w.value for w in at.warning)  # the loopback default
    real = st.get_option
    monkeypatch.setattr(st, "get_option", lambda k: "0.0.0.0" if k == "server.address" else real(k))
    at = run_app()
    assert any("every network interface" in w.value and "RECSYS_EDITOR_TOKEN" in w.value for w in at.warning)
    monkeypatch.setenv("RECSYS_EDITOR_TOKEN", "x")
    at = run_app()
    assert not any("every network interface" in w.value for w in at.warning)  # settings given: no alarm


def test_your_data_page_uploads_previews_maps_and_loads_a_log(monkeypatch):
    from recsys_core.jobs.uploads import own_datasets

    at = run_app("own_data")
    log = b"buyer,sku,when,stars\nann,p1,2024-01-01,5\nann,p2,2024-01-02,3\nbob,p1,2024-01-03,4\nbob,p3,2024-01-04,2\n"
    at.file_uploader(key="log_upload").set_value(("orders.csv", log, "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["buyer", "sku", "when", "stars"] and len(preview) == 4
    # the columns found by name: the time and the rating; the user and the item named by hand
    assert at.selectbox(key="map_time_orders.csv").value == "when"
    assert at.selectbox(key="map_rating_orders.csv").value == "stars"
    at.selectbox(key="map_user_orders.csv").set_value("buyer")
    at.selectbox(key="map_item_orders.csv").set_value("sku")
    at.text_input(key="ds_noun").set_value("product")
    next(b for b in at.button if b.label == "Load this data").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Loaded **orders**: 4 interactions, 2 users, 3 products" in s.value for s in at.success)
    assert own_datasets() and own_datasets()[0].endswith("orders.toml")
    # a malformed upload: one message naming the file and the line; no dataset added
    at.file_uploader(key="log_upload").set_value(("broken.csv", b"user,item\nann,p1\nbob,p2,extra\n", "text/csv"))
    at.run()
    assert any("broken.csv, line 3: expected 2 fields, found 3" in e.value for e in at.error)
    assert len(own_datasets()) == 1


@pytest.mark.slow
def test_a_large_dataset_lists_its_most_active_users_and_takes_any_typed_id(tmp_path, monkeypatch):
    from recsys_core.runs.build import build
    from recsys_core.runs.store import Store

    big = "synthetic:users=20050,items=40,seed=3"
    monkeypatch.setenv("RECSYS_DATASETS", big)
    build(load_dataset(big), ["popularity"], Store(tmp_path))
    at = run_app(None, tmp_path, monkeypatch)
    at.session_state["dataset"] = big
    at.switch_page("app_pages/users.py").run()
    assert not at.exception, [e.value for e in at.exception]
    picker = at.selectbox(key="user")
    assert len(picker.options) == 1 + 2_000  # the new user, then the 2,000 most active
    ds = load_dataset(big)
    quiet = int(np.argsort(-ds.user_activity, kind="stable")[-1])  # the least active: not listed
    at.text_input(key="user_typed").input(ds.users["user_id"].iat[quiet]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="user").value == quiet
    at.text_input(key="user_typed").input("no-such-user").run()
    assert any("no user with id 'no-such-user'" in w.value for w in at.warning)


@pytest.mark.slow
def test_home_says_what_the_blend_mixes_and_that_validation_picked_its_weights(tmp_path_factory, monkeypatch):
    from recsys_core.runs.build import build
    from recsys_core.runs.catalog import shipped_runs
    from recsys_core.runs.store import Store

    root = tmp_path_factory.mktemp("blended")
    with own_folders(tmp_path_factory, root):
        build(load_dataset(SYN), ["ease", "blend"], Store(root))
        build(load_dataset(SYN), ["ease", "blend"], Store(root), protocol="temporal")
    at = run_app(store_root=root, monkeypatch=monkeypatch)
    assert "blend" in set(at.dataframe[0].value.index)
    notes = [c.value for c in at.caption if c.value.startswith("**blend** = ")]
    # the tabs in order: full, temporal (a run of its own), then the sampled protocols (full's blend)
    assert len(notes) == 4 and notes[0] == notes[2] == notes[3] != notes[1]
    for protocol, note, on in zip((None, "temporal"), notes, ("validation item", "validation window")):
        run = shipped_runs(Store(root), load_dataset(SYN), protocol)["blend"]
        row = Store(root).epochs(run.id)[-1]
        mix = " + ".join(f"{row[f'w_{m}']:.2f} × {m}" for m in ("sasrec", "gru4rec", "ease"))
        assert note.startswith(f"**blend** = {mix}") and f"the best of {row['tried']} weightings on the {on}" in note
        assert f"(NDCG@10 {row['NDCG@10']:.3f})" in note and "never chosen on the test" in note

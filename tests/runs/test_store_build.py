"""Run store, artifacts, build idempotence, locks, sweeps and their resume."""

from __future__ import annotations

import functools
import multiprocessing as mp
import os
import socket
import sqlite3

import numpy as np
import pytest
import torch

from recsys_core.data import synthetic
from recsys_core.errors import ConfigError
from recsys_core.runs import zoo
from recsys_core.runs.build import build
from recsys_core.runs.catalog import missing_models, run_key, shipped_runs
from recsys_core.runs.life import ensure_run
from recsys_core.runs.reports import report
from recsys_core.runs.results import Results
from recsys_core.runs.store import SCHEMA_VERSION, Store
from recsys_core.sweeps.executors import run_sweep
from recsys_core.sweeps.spec import Sweep, load_sweep_file
from recsys_core.training.devices import share_cores, thread_count
from tests.helpers import failing_middle_sweep


@functools.cache
def syn():
    """Built at first use, once for this module (never at import)."""
    return synthetic(users=120, items=100, seed=4)


SRC = "synthetic:users=120,items=100,seed=4"
QUICK = {"ncf": {"epochs": 2, "batch_size": 512, "mf_dim": 4, "layers": (8, 4)}}


def test_store_roundtrip_and_schema(tmp_path):
    s = Store(tmp_path)
    assert s.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(s.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rid = s.create_run(
        key="k", dataset="d", fingerprint="f", model="ncf", config={"lr": 0.1}, config_hash="h", sweep="sw"
    )
    s.start_run(rid, "cpu")
    s.add_epoch(rid, {"epoch": 1, "train_loss": 0.5, "valid_loss": 0.6, "HR@10": 0.3, "seconds": 1.0})
    s.finish_run(rid, "done", {"loo-uniform": {"HR@10": 0.4}}, best_epoch=1)
    r = s.run(rid)
    assert r.status == "done" and r.config == {"lr": 0.1} and r.metrics["loo-uniform"]["HR@10"] == 0.4
    assert s.epochs(rid) == [{"epoch": 1, "train_loss": 0.5, "valid_loss": 0.6, "seconds": 1.0, "HR@10": 0.3}]
    assert Store(tmp_path).latest_done("k").id == rid  # reopened: migrations are idempotent


def test_artifacts_roundtrip_and_corruption_detected(tmp_path):
    s = Store(tmp_path)
    s.save_arrays("key", "topk", items=np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(s.load_arrays("key", "topk")["items"], np.arange(6).reshape(2, 3))
    path = s.artifact_dir("key") / "topk.npz"
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    assert s.load_arrays("key", "topk") is None
    s.save_weights("key", {"state_dict": {"w": torch.ones(2)}, "config": {"lr": 1.0}, "model": "mf"})
    assert torch.equal(s.load_weights("key")["state_dict"]["w"], torch.ones(2))
    (s.artifact_dir("key") / "weights.pt").write_bytes(b"not a checkpoint")
    assert s.load_weights("key") is None


def test_interrupted_write_leaves_old_state(tmp_path, monkeypatch):
    s = Store(tmp_path)
    s.save_arrays("key", "topk", items=np.array([1, 2, 3]))

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        s.save_arrays("key", "topk", items=np.array([9, 9, 9]))
    monkeypatch.undo()
    np.testing.assert_array_equal(s.load_arrays("key", "topk")["items"], [1, 2, 3])


def test_build_is_idempotent_and_rebuilds_corrupt_artifacts(tmp_path):
    s = Store(tmp_path)
    outcomes = build(syn(), ["popularity", "ease"], s)
    assert set(outcomes) == {"popularity", "ease"} and not any(o.cached for o in outcomes.values())
    board = Results(s, syn()).leaderboard()
    assert set(board["model"]) == {"popularity", "ease"}
    assert set(board["protocol"]) == {"loo-uniform", "loo-popularity", "full"}
    n_runs = len(s.runs())
    assert all(o.cached for o in build(syn(), ["popularity", "ease"], s).values())
    assert len(s.runs()) == n_runs  # everything cached
    key = shipped_runs(s, syn())["ease"].key
    (s.artifact_dir(key) / "topk.npz").write_bytes(b"garbage")
    assert missing_models(s, syn()) == [m for m in zoo.ZOO if m not in ("popularity",)]  # ease counts as missing
    build(syn(), ["ease"], s)
    assert len(s.runs()) == n_runs + 1 and s.load_arrays(key, "topk") is not None


def test_build_neural_saves_weights_embeddings_and_cold_start(tmp_path):
    s = Store(tmp_path)
    cfg = zoo.config_for("ncf", QUICK["ncf"])
    out = ensure_run(s, syn(), "ncf", cfg)
    key = out.run.key
    assert out.run.status == "done" and len(s.epochs(out.run.id)) == 2
    ck = s.load_weights(key)
    assert ck["model"] == "ncf" and ck["config"]["mf_dim"] == 4
    emb = s.load_arrays(key, "item_embeddings")
    assert emb["vectors"].shape[0] == syn().n_items and emb["pca"].shape[1] == 3
    assert s.load_arrays(key, "cold_start")["scores"].shape == (syn().n_items,)
    top = s.load_arrays(key, "topk")["items"]
    assert top.shape[0] == syn().n_users


def test_a_run_whose_weights_a_later_run_of_its_settings_replaced_says_so_and_one_left_alone_still_loads(
    tmp_path, monkeypatch
):
    """The store keeps one set of weights per settings: a run trained again with the same
    settings and the same figures keeps its earlier run reloadable; one whose weights differ
    (another device, thread count or version of the code) replaces them, and the earlier run
    then says so, naming the later one, where it used to load the later run's weights as its own."""
    from recsys_core.errors import RecsysError
    from recsys_core.runs import life
    from recsys_core.runs.artifacts import load_model, load_ranks

    s, ds = Store(tmp_path), syn()
    cfg = zoo.config_for("ncf", QUICK["ncf"])
    first = ensure_run(s, ds, "ncf", cfg).run
    same = ensure_run(s, ds, "ncf", cfg, reuse=False).run  # the same seed: the same weights
    assert same.id != first.id and same.key == first.key
    assert s.run(first.id).meta["weights"] == s.run(same.id).meta["weights"]
    assert load_model(s, s.run(first.id), ds) is not None and load_ranks(s, s.run(first.id), ds)
    assert {f"run:{first.id}", f"run:{same.id}"} <= set(Results(s, ds).trained)
    queued = life.RunLife.create(s, ds, "ncf", cfg, first.meta["protocols"])  # a job that finds it done
    copied = ensure_run(s, ds, "ncf", cfg, run_id=queued.id)
    assert copied.cached and s.run(queued.id).meta["weights"] == s.run(first.id).meta["weights"]

    fit = life.fit_and_evaluate

    def elsewhere(*args, **kwargs):  # the same settings trained where the floats come out otherwise
        res = fit(*args, **kwargs)
        with torch.no_grad():
            for p in res.recommender.parameters():
                p.add_(1e-3)
        return res

    monkeypatch.setattr(life, "fit_and_evaluate", elsewhere)
    later = ensure_run(s, ds, "ncf", cfg, reuse=False).run
    assert s.run(later.id).meta["weights"] != s.run(first.id).meta["weights"]
    for old in (first.id, same.id, queued.id):
        with pytest.raises(RecsysError, match=f"run {old} .*replaced by run {later.id}'s"):
            load_model(s, s.run(old), ds)
        with pytest.raises(RecsysError, match=f"use run {later.id}"):
            life.ranks_of(s, ds, f"run:{old}", "full")
    assert load_model(s, s.run(later.id), ds) is not None and "full" in load_ranks(s, s.run(later.id), ds)
    offered = Results(s, ds).trained  # the pages' pickers: the later run, not those it replaced
    assert f"run:{later.id}" in offered and not {f"run:{first.id}", f"run:{same.id}"} & set(offered)
    assert s.replaced(s.run(first.id)) and not s.replaced(s.run(later.id))


def _train_same(root):
    s = Store(root)
    out = ensure_run(s, syn(), "ncf", zoo.config_for("ncf", QUICK["ncf"]))
    return out.cached


@pytest.mark.slow
def test_two_processes_do_not_both_train(tmp_path):
    ctx = mp.get_context("spawn")  # fork after torch has started its threads can deadlock
    with ctx.Pool(2) as pool:
        cached = pool.map(_train_same, [str(tmp_path), str(tmp_path)])
    assert sorted(cached) == [False, True]
    assert len(Store(tmp_path).runs()) == 1


@pytest.mark.slow
def test_a_build_in_two_processes_trains_each_model_once_and_the_blend_after_its_components(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_THREADS", "2")  # the whole budget: two workers of one thread
    s = Store(tmp_path)
    names = ["sasrec", "gru4rec", "ease", "blend"]  # the blend's components, trained by other workers
    seen = []
    outcomes = build(syn(), names, s, progress=lambda j, n, name, out: seen.append((j, n, name)), workers=2)
    assert list(outcomes) == names and sorted(name for _, _, name in seen) == sorted(names)
    assert [j for j, _, _ in seen] == [1, 2, 3, 4] and {n for _, n, _ in seen} == {4} and seen[-1][2] == "blend"
    assert all(o.run.status == "done" for o in outcomes.values()) and not outcomes["blend"].cached
    assert len(s.runs()) == len(names)  # no component trained twice: the blend's worker loaded them
    assert outcomes["blend"].run.started >= max(outcomes[n].run.finished for n in names[:3])
    assert share_cores(2, thread_count()) == (2, 1)
    assert all(o.run.pid != os.getpid() for o in outcomes.values())  # each trained in a worker
    for name in ("sasrec", "gru4rec"):  # the networks, on their share of the cores
        assert outcomes[name].run.device.startswith("CPU, 1 torch thread"), outcomes[name].run.device
    assert outcomes["blend"].run.device == "CPU, 2 torch threads"  # alone at the end: every core
    blend = Results(s, syn()).leaderboard()
    assert "blend" in set(blend["model"])
    assert all(o.cached for o in build(syn(), names, s, workers=2).values())  # a second build finds them all
    alone = Store(tmp_path / "alone")  # the blend asked for alone: its components first, side by side
    seen.clear()
    out = build(syn(), ["blend"], alone, progress=lambda j, n, name, out: seen.append((j, n, name)), workers=2)
    assert list(out) == ["blend"] and out["blend"].run.status == "done"
    assert sorted(name for _, _, name in seen[:3]) == ["ease", "gru4rec", "sasrec"] and seen[3] == (4, 4, "blend")
    parts = [r for r in alone.runs() if r.model != "blend"]
    assert len(parts) == 3 and out["blend"].run.started >= max(r.finished for r in parts)  # not inside its fit


@pytest.mark.slow
def test_the_cli_builds_in_two_processes_and_says_how_the_cores_are_shared(monkeypatch, capsys):
    from recsys_core.cli import main

    monkeypatch.setenv("RECSYS_THREADS", "2")
    assert main(["build", "--dataset", SRC, "--models", "popularity,ease", "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "2 models at once, 1 torch thread(s) each" in err and "popularity" in err and "ease" in err
    assert {r.model for r in Store().runs()} == {"popularity", "ease"}
    assert main(["build", "--dataset", SRC, "--models", "popularity,ease", "--workers", "3"]) == 0  # cached now
    err = capsys.readouterr().err  # more workers than the budget: one a core at most
    assert "2 models at once (of 3 asked: one a core at most)" in err and "all 2 models cached" in err


def test_a_build_with_no_worker_is_refused_before_anything_loads(capsys):
    from recsys_core.cli import main

    assert main(["build", "--dataset", "ml-nonexistent", "--workers", "0"]) == 2
    assert "--workers 0: at least one" in capsys.readouterr().err
    assert Store().runs() == []


def test_workers_share_the_cores_out():
    assert share_cores(1, 16) == (1, 16) and share_cores(4, 16) == (4, 4) and share_cores(3, 16) == (3, 5)
    assert share_cores(3, 2) == (2, 1)  # one worker a core at most
    assert share_cores(0, 2) == (1, 2)


def _sweep():
    return Sweep(
        "t-emb",
        "ncf",
        "mf_dim",
        (("2", {"mf_dim": 2}), ("4", {"mf_dim": 4}), ("6", {"mf_dim": 6})),
        {"epochs": 1, "batch_size": 512, "layers": (8, 4)},
    )


def test_sweep_resume_after_a_kill(tmp_path):
    s = Store(tmp_path)
    sw = _sweep()
    # simulate a killed process: point "2" done, point "4" left running by a dead pid
    cfgs = dict(sw.configs())
    ensure_run(s, syn(), "ncf", cfgs["2"], ["loo-uniform"], sweep=sw.name, label="2", artifacts=False)
    key4 = run_key(syn(), "ncf", cfgs["4"], ["loo-uniform"])
    rid = s.create_run(
        key=key4,
        dataset=syn().name,
        fingerprint=syn().fingerprint,
        model="ncf",
        config={},
        config_hash="x",
        sweep=sw.name,
        label="4",
    )
    s.start_run(rid, "cpu")
    with sqlite3.connect(s.path) as con:
        con.execute("UPDATE runs SET pid=999999, owner=? WHERE id=?", (f"{socket.gethostname()}:999999:1", rid))
    runs = run_sweep(sw, syn(), s)
    assert [r.label for r in runs] == ["2", "4", "6"] and all(r.status == "done" for r in runs)
    assert s.run(rid).status == "interrupted"
    done = [r for r in s.runs(sweep=sw.name) if r.status == "done"]
    assert len(done) == 3  # nothing duplicated: point 2 was not retrained
    rows = report(sw, syn(), s)
    assert sum(bool(r.get("best")) for r in rows) == 1 and all(r["status"] == "done" for r in rows)


def test_custom_sweep_file_and_bad_files(tmp_path):
    good = tmp_path / "neg.toml"
    good.write_text('name = "ncf-neg"\nmodel = "ncf"\nparam = "n_negatives"\nvalues = [1, 2]\n[base]\nepochs = 1\n')
    sw = load_sweep_file(good)
    assert [label for label, _ in sw.points] == ["1", "2"] and sw.protocol == "loo-uniform"
    js = tmp_path / "a.json"
    js.write_text('{"name": "ar", "model": "autorec", "points": [{"label": "tied", "set": {"tied": true}}]}')
    assert load_sweep_file(js).protocol == "ratings"
    for text, msg in [
        ('model = "ncf"\nvalues=[1]\nparam="lr"', "missing 'name'"),
        ('name = "x"\nmodel = "nope"\nparam="lr"\nvalues=[1]', "unknown model"),
        ('name = "x"\nmodel = "ncf"', "give 'param' with 'values'"),
        ('name = "x"\nmodel = "ncf"\nparam = "lr"\nvalues = [-1]', "invalid value"),
        ("name = [", "cannot read"),
    ]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=msg):
            load_sweep_file(bad)


def test_migration_from_schema_1_keeps_runs(tmp_path):
    from recsys_core.runs.store import MIGRATIONS

    with sqlite3.connect(tmp_path / "runs.sqlite") as con:
        for stmt in MIGRATIONS[1]:
            con.execute(stmt)
        con.execute(
            "INSERT INTO runs (key, dataset, fingerprint, model, config, config_hash, status, created)"
            " VALUES ('k', 'd', 'f', 'mf', '{}', 'h', 'done', 1.0)"
        )
        con.execute("PRAGMA user_version=1")
    s = Store(tmp_path)
    assert s.schema_version() == SCHEMA_VERSION == 2
    assert s.latest_done("k").model == "mf" and s.latest_done("k").meta == {}


def test_a_reused_pid_is_not_a_live_owner(tmp_path):
    """A restarted server can get the dead one's pid back: the process start time tells them apart."""
    s = Store(tmp_path)
    rid = s.create_run(key="k", dataset="d", fingerprint="f", model="mf", config={}, config_hash="h")
    mine = s.create_run(key="k", dataset="d", fingerprint="f", model="mf", config={}, config_hash="h")
    with sqlite3.connect(s.path) as con:
        con.execute("UPDATE runs SET owner=? WHERE id=?", (f"{socket.gethostname()}:{os.getpid()}:1", rid))
    assert s.mark_interrupted() == 1
    assert s.run(rid).status == "interrupted" and s.run(mine).status == "queued"


def test_pca_of_embeddings_by_hand():
    from recsys_core.runs.artifacts import pca

    # points on the line y = 2x (plus one off it): the first component is that line's direction
    x = np.array([[-2.0, -4.0], [-1.0, -2.0], [0.0, 0.0], [1.0, 2.0], [2.0, 4.5]])
    coords, explained = pca(x, 2)
    direction = np.array([1.0, 2.0]) / np.sqrt(5)
    centred = x - x.mean(0)
    np.testing.assert_allclose(np.abs(coords[:, 0]), np.abs(centred @ direction), atol=0.05)
    assert explained[0] > 0.99 and explained.sum() == pytest.approx(1.0)
    assert coords[-1, 0] > 0  # the sign is fixed (largest loading positive): ends never swap between runs
    np.testing.assert_allclose(coords.mean(0), 0, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["sequential", "pool"])
def test_every_executor_reports_progress_goes_on_past_a_failing_point_and_cancels(tmp_path, executor):
    import threading

    from recsys_core.sweeps.executors import PoolExecutor, SequentialExecutor

    s = Store(tmp_path)
    sweep = failing_middle_sweep("t-mixed", {"epochs": 1, "batch_size": 512, "layers": (8, 4)})
    ex = SequentialExecutor() if executor == "sequential" else PoolExecutor(2)
    seen = []
    runs = run_sweep(sweep, syn(), s, ex, src=SRC, progress=lambda j, n, label, out: seen.append((j, n, label)))
    assert sorted(label for _, _, label in seen) == ["a", "bad", "c"] and {n for _, n, _ in seen} == {3}
    status = {r.label: r.status for r in runs}
    assert status == {"a": "done", "bad": "failed", "c": "done"}
    assert "negatives_per_user" in next(r for r in runs if r.label == "bad").error
    # cancel after the first point lands: nothing new starts, what runs stops as `cancelled`
    stop = threading.Event()
    again = Sweep(
        "t-cancel",
        "ncf",
        "mf_dim",
        tuple((str(d), {"mf_dim": d}) for d in (3, 5, 7, 9)),
        {"epochs": 3, "batch_size": 256, "layers": (8, 4)},
    )
    run_sweep(again, syn(), s, ex, src=SRC, progress=lambda *a: stop.set(), cancel=stop)
    statuses = [r.status for r in s.runs(sweep="t-cancel")]
    assert statuses.count("done") < 4 and "running" not in statuses and "queued" not in statuses
    assert set(statuses) <= {"done", "cancelled"}
    assert run_sweep(again, syn(), s, ex, src=SRC, cancel=stop) == []  # cancelled before it starts: nothing runs


def test_sweep_files_with_a_grid_of_several_parameters_or_a_random_search(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('name = "g"\nmodel = "mf"\n[grid]\ndim = [8, 16]\nlr = [0.001, 0.01]\n[base]\nepochs = 1\n')
    sweep = load_sweep_file(grid)
    assert [ov for _, ov in sweep.points] == [
        {"dim": 8, "lr": 0.001},
        {"dim": 8, "lr": 0.01},
        {"dim": 16, "lr": 0.001},
        {"dim": 16, "lr": 0.01},
    ]
    assert sweep.param == "dim x lr" and sweep.base == {"epochs": 1}
    search = tmp_path / "search.toml"
    search.write_text(
        'name = "s"\nmodel = "mf"\n[search]\nbudget = 5\nseed = 3\n[search.space]\n'
        "lr = {low = 0.0001, high = 0.01, log = true}\ndim = {choices = [8, 16, 32]}\nn_negatives = {low = 1, high = 8}\n"
    )
    first, again = load_sweep_file(search), load_sweep_file(search)
    assert first.points == again.points and len(first.points) == 5  # seeded: a rerun resumes the same points
    for _, ov in first.points:
        assert 1e-4 <= ov["lr"] <= 1e-2 and ov["dim"] in (8, 16, 32) and isinstance(ov["n_negatives"], int)
    lrs = np.log10([ov["lr"] for _, ov in load_sweep_file(_with_budget(search, 200)).points])
    assert (lrs < -3).mean() == pytest.approx(0.5, abs=0.15)  # even on a log scale: half below 1e-3
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "b"\nmodel = "mf"\n[search]\nbudget = 3\n[search.space]\nlr = {low = 0, high = 1, log = true}\n'
    )
    with pytest.raises(ConfigError, match="log scale needs low > 0"):
        load_sweep_file(bad)


def _with_budget(path, budget: int):
    text = path.read_text().replace("budget = 5", f"budget = {budget}")
    out = path.with_name(f"b{budget}.toml")
    out.write_text(text)
    return out


def test_median_pruning_stops_a_point_below_the_others_and_a_rerun_does_not_redo_it(tmp_path):
    s = Store(tmp_path)
    base = {"epochs": 4, "patience": 4, "batch_size": 256, "dim": 8, "loss": "bce", "n_negatives": 2}
    # two good learning rates, then one far too small: its curve stays below their median
    sweep = Sweep(
        "t-prune", "mf", "lr", (("a", {"lr": 0.01}), ("b", {"lr": 0.02}), ("slow", {"lr": 1e-5})), base, prune="median"
    )
    runs = {r.label: r for r in run_sweep(sweep, syn(), s)}
    assert runs["a"].status == runs["b"].status == "done"
    assert runs["slow"].status == "pruned" and runs["slow"].error.startswith("pruned at epoch 2")
    assert len(s.epochs(runs["slow"].id)) < 4  # stopped early, its curve kept
    rows = {r["value"]: r for r in report(sweep, syn(), s)}
    assert rows["slow"]["note"].startswith("pruned at epoch") and not rows["slow"].get("best")
    n = len(s.runs())
    run_sweep(sweep, syn(), s)
    assert len(s.runs()) == n  # done and pruned points are both final: nothing reruns


def test_a_dataset_tuned_default_keys_its_own_shipped_runs_and_labels_them_defaults(monkeypatch):
    from recsys_core.runs import catalog

    ds = synthetic(users=30, items=20, seed=1)
    before = catalog.shipped_key(ds, "sasrec")
    monkeypatch.setitem(catalog.TUNED, ds.name, {"sasrec": {"max_len": 200}})
    assert catalog.config_for("sasrec", dataset=ds.name).max_len == 200
    assert catalog.config_for("sasrec", {"max_len": 20}, ds.name).max_len == 20  # what a person sets wins
    assert catalog.config_for("sasrec").max_len == zoo.entry("sasrec").config.max_len  # other datasets keep theirs
    assert catalog.shipped_key(ds, "sasrec") != before  # a new default is a new shipped run
    assert catalog.describe_changes("sasrec", {"max_len": 200}, ds.name) == "defaults"
    assert catalog.describe_changes("sasrec", {"max_len": 50}, ds.name) == "max_len=50"


def test_a_dataset_tuned_default_reaches_the_blends_components_on_leave_one_out_only(monkeypatch):
    from recsys_core.evaluation.protocols import TEMPORAL
    from recsys_core.runs import catalog

    ds = synthetic(users=30, items=20, seed=1)
    blend_before, temporal_before = catalog.shipped_key(ds, "blend"), catalog.temporal_key(ds, "blend")
    monkeypatch.setitem(catalog.TUNED, ds.name, {"sasrec": {"hidden": 24, "lr": 0.002}})
    blend = zoo.make("blend", ds.n_users, ds.n_items, dataset=ds.name)
    sasrec = blend.parts[blend.part_names.index("sasrec")]
    assert (sasrec.cfg.hidden, sasrec.cfg.lr) == (24, 0.002)  # the blend mixes the SASRec shipped on ds
    elsewhere = zoo.make("blend", ds.n_users, ds.n_items)  # another dataset: the model's own defaults
    assert elsewhere.parts[elsewhere.part_names.index("sasrec")].cfg.hidden == zoo.entry("sasrec").config.hidden
    assert catalog.shipped_key(ds, "blend") != blend_before  # its components changed: a new shipped blend
    # picked on leave-one-out validation: the temporal split keeps its own settings
    temporal = catalog.config_for("sasrec", dataset=ds.name, split=TEMPORAL)
    assert temporal.hidden == zoo.entry("sasrec").config.hidden and temporal.init == "torch"
    assert catalog.temporal_key(ds, "blend") == temporal_before

"""A blend: components standardised per user, weights picked on validation only, kept and
reloaded without training again, and bad settings refused with a clear message."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recsys_core.errors import ConfigError, RecsysError
from recsys_core.evaluation.scoring import (
    _counts_against_unseen,
    _finite_counts_against_unseen,
    evaluate_full_valid,
    evaluate_full_valid_blends,
)
from recsys_core.models.blend import FLOOR, Blend, ensemble, standardise
from recsys_core.models.blend_config import BLEND_NETWORKS, BLENDABLE
from recsys_core.runs import catalog, zoo
from recsys_core.training.fitting import fit_model, weight_grid
from tests.helpers import planted, planted_split


def _blend(components=("popularity", "ease"), **overrides) -> Blend:
    return zoo.make("blend", planted().n_users, planted().n_items, {"components": components, **overrides})


def test_every_catalog_model_but_the_blend_can_be_blended():
    assert set(BLENDABLE) == set(catalog.ZOO) - {"blend"}
    assert set(BLEND_NETWORKS) == {m for m in BLENDABLE if catalog.is_neural(m)}


@pytest.mark.parametrize("k,step", [(2, 0.05), (3, 0.1), (2, 0.5)])
def test_the_weight_grid_holds_every_weighting_that_adds_up_to_one(k, step):
    grid = weight_grid(k, step)
    n = round(1 / step)
    assert len(grid) == math.comb(n + k - 1, k - 1) == len({tuple(r) for r in grid})
    assert np.allclose(grid.sum(1), 1) and (grid >= 0).all()
    assert np.allclose(grid * n, np.round(grid * n))  # multiples of the step
    assert grid[0][0] == 1  # everything on the first component first: a tie keeps it


def test_standardise_puts_each_row_on_one_scale_and_unscored_items_below():
    s = torch.tensor([[1.0, 2.0, 3.0, -1e9], [5.0, 5.0, 5.0, 5.0], [0.0, 10.0, 20.0, 30.0]])
    z = standardise(s)
    assert z[0, 3] == FLOOR and z[0, :3].mean().abs() < 1e-6 and (z[0, :3].std(unbiased=False) - 1).abs() < 1e-5
    assert torch.equal(z[1], torch.zeros(4))  # no spread: nothing to order
    assert torch.allclose(z[2], standardise(s[2:] * 7 + 3)[0], atol=1e-5)  # scale and shift do not matter
    assert torch.equal(torch.argsort(z[2]), torch.argsort(s[2]))  # the order within a row is kept


def test_weights_are_picked_on_validation_by_trying_every_weighting():
    split = planted_split()
    m = _blend(step=0.25)
    h = fit_model(m, split.train, split)
    assert h.status == "done", h.message
    picked = m.weights.copy()
    found = {}
    for w in weight_grid(2, 0.25):  # brute force: the blend's own validation figure at each weighting
        m.weights = w
        found[tuple(w)] = evaluate_full_valid(m, split)["NDCG@10"]
    best = max(found.values())
    assert found[tuple(picked)] == pytest.approx(best)
    assert h.best_row()["NDCG@10"] == pytest.approx(best)
    assert h.best_row()["w_popularity"] == picked[0] and h.best_row()["tried"] == 5
    # the picked weighting is at least as good as either component alone, on validation
    assert best >= max(found[(1.0, 0.0)], found[(0.0, 1.0)])


@pytest.mark.parametrize("first", [True, False])
def test_fixed_weights_give_one_components_ranking_either_way(first):
    split = planted_split()
    w = (1.0, 0.0) if first else (0.0, 1.0)
    m = _blend(weights=w)
    assert fit_model(m, split.train, split).status == "done"
    alone = m.parts[0 if first else 1]
    users = np.arange(50)
    assert np.array_equal(m.recommend(users, k=10)[0], alone.recommend(users, k=10)[0])
    cand = torch.as_tensor(np.tile(np.arange(9), (len(users), 1)))
    assert tuple(m.score(torch.as_tensor(users), cand).shape) == (len(users), 9)


def test_a_blend_reads_what_its_components_read():
    split = planted_split()
    m = _blend(("popularity", "ease"), weights=(0.5, 0.5))
    fit_model(m, split.train, split)
    assert m.reads_history  # EASE reads the validation item (its shipped config says so)
    m.read(split.valid_rows)
    users = np.flatnonzero(split.valid_items >= 0)
    items, _ = m.recommend(users, k=20)
    assert not (items == split.valid_items[users][:, None]).any()  # what it read is never recommended


@pytest.mark.parametrize(
    "overrides,says",
    [
        ({"components": ("ease",)}, "two or more different models"),
        ({"components": ("ease", "ease")}, "different models, each once"),
        ({"components": ("mf", "ease"), "seeds": (1, 1)}, "two to 5 different seeds"),
        ({"components": ("mf", "ease"), "seeds": (1,)}, "two to 5 different seeds"),
        ({"components": ("mf", "ease"), "seeds": (0, 1, 2, 3, 4, 5)}, "two to 5 different seeds"),
        ({"components": ("popularity", "ease"), "seeds": (0, 1)}, "has no network"),
        ({"components": ("mf", "ease"), "seed": 2, "seeds": (0, 1)}, "give one of them"),
        ({"components": ("ease", "blend")}, "invalid value"),
        ({"weights": (0.5, 0.6)}, "adding up to 1"),
        ({"weights": (1.0,)}, "one a model"),
        ({"components": ("ease", "mf", "cdae", "sasrec"), "step": 0.01}, "too many"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(overrides, says):
    with pytest.raises(ConfigError, match=says):
        catalog.config_for("blend", overrides)


def test_without_validation_a_blend_needs_fixed_weights():
    split = planted_split()
    h = fit_model(_blend(), split.train, None)
    assert h.status == "failed" and "picks its weights on validation" in h.message
    assert fit_model(_blend(weights=(0.3, 0.7)), split.train, None).status == "done"


def test_a_stored_blend_reloads_without_training_and_says_so_when_its_state_is_gone(tmp_path, monkeypatch):
    from recsys_core.runs import artifacts
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store
    from recsys_core.training import fitting

    store, ds = Store(tmp_path), planted()
    cfg = catalog.config_for("blend", {"components": ("popularity", "ease"), "step": 0.25})
    out = ensure_run(store, ds, "blend", cfg)
    assert out.run.status == "done", out.run.error
    monkeypatch.setattr(fitting, "_fit_blend", lambda *a, **k: pytest.fail("trained again"))
    again = artifacts.load_model(store, out.run, ds)
    assert np.array_equal(again.weights, out.result.recommender.weights)
    users = np.arange(ds.n_users)
    assert np.array_equal(again.recommend(users, k=10)[0], out.result.recommender.recommend(users, k=10)[0])
    (store.artifact_dir(out.run.key) / "state.npz").unlink()
    with pytest.raises(RecsysError, match="fitted state is missing"):
        artifacts.load_model(store, out.run, ds)


@pytest.mark.slow
def test_a_blend_loads_a_network_the_store_already_trained_instead_of_training_it_again(tmp_path):
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store

    store, ds = Store(tmp_path), planted()
    mf = ensure_run(store, ds, "mf")  # the shipped MF: the same settings and rows a blend's MF would have
    assert mf.run.status == "done", mf.run.error
    cfg = catalog.config_for("blend", {"components": ("mf", "ease"), "step": 0.5})
    out = ensure_run(store, ds, "blend", cfg)
    row = out.result.history.best_row()
    assert row["mf_run"] == mf.run.id and "mf_seconds" not in row  # loaded, not trained
    assert "ease_seconds" in row  # a closed form is fitted: seconds
    assert torch.equal(out.result.recommender.parts[0].item.weight, mf.result.recommender.item.weight)
    # another seed is another MF: trained
    other = ensure_run(store, ds, "blend", catalog.config_for("blend", {"components": ("mf", "ease"), "seed": 1}))
    assert "mf_run" not in other.result.history.best_row() and "mf_seconds" in other.result.history.best_row()


def test_the_cli_says_what_a_blend_mixes_and_what_it_loaded(capsys):
    from recsys_core.cli import main

    src = "synthetic:users=70,items=50,seed=3"
    assert main(["train", "mf", "--dataset", src, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["train", "blend", "--dataset", src, "--set", "components=mf,ease", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "weights (the best of 21 on validation): " in out and " x mf + " in out and " x ease" in out
    assert "loaded from the store, not trained again: mf (run 1)" in out
    # a blend stored by `train` reloads, as every stored run does
    assert main(["recommend", "--run", "2", "--user", "1", "--dataset", src]) == 0
    assert "blend" in capsys.readouterr().out
    assert main(["train", "blend", "--dataset", src, "--set", "components=ease"]) == 2
    assert "two or more different models" in capsys.readouterr().err


def test_under_the_temporal_split_the_weights_are_picked_on_its_validation_window():
    from recsys_core.evaluation.scoring import evaluate_temporal
    from recsys_core.evaluation.temporal import temporal_split
    from recsys_core.runs.experiment import fit_and_evaluate

    overrides = {"components": ("popularity", "ease"), "step": 0.5}
    res = fit_and_evaluate("blend", planted(), ["temporal"], cfg=catalog.config_for("blend", overrides))
    assert res.history.status == "done" and "temporal" in res.metrics
    ts = temporal_split(planted())
    m = _blend(**overrides)
    row = fit_model(m, ts.train, ts).best_row()
    same = {k: v for k, v in row.items() if not k.endswith("seconds")}
    assert same == {k: v for k, v in res.history.best_row().items() if not k.endswith("seconds")}
    # the figure it kept is the validation window's at the weights it picked, the best of the three
    by_weights = {}
    for w in weight_grid(2, 0.5):
        m.weights = w
        by_weights[tuple(w)] = evaluate_temporal(m, ts, stage="valid", list_k=0)[0]["NDCG@10"]
    assert row["NDCG@10"] == pytest.approx(max(by_weights.values()))
    assert by_weights[(row["w_popularity"], row["w_ease"])] == pytest.approx(row["NDCG@10"])


def test_an_ensemble_of_seeds_is_their_mean_standardised_and_keeps_unscored_items_below():
    a = torch.tensor([[1.0, 2.0, 3.0, -1e9], [0.0, 1.0, 0.0, 1.0]])
    b = torch.tensor([[3.0, 2.0, 1.5, -1e9], [1.0, 1.0, 0.0, 0.0]])
    out = ensemble([standardise(a), standardise(b)])
    assert torch.allclose(out[:, :3][0], standardise((standardise(a) + standardise(b))[:, :3] / 2)[0], atol=1e-5)
    assert out[0, 3] == FLOOR  # neither scores it: still below every scored item
    assert out[1].mean().abs() < 1e-6 and (out[1].std(unbiased=False) - 1).abs() < 1e-5


def test_a_seed_ensemble_trains_a_network_at_each_seed_and_ranks_by_their_mean():
    split = planted_split()
    m = _blend(("mf",), seeds=(0, 1))
    assert [p.cfg.seed for p in m.parts] == [0, 1] and m.labels == ["mf seed 0", "mf seed 1"]
    h = fit_model(m, split.train, split)
    assert h.status == "done", h.message
    row = h.best_row()
    assert row["w_mf"] == 1.0 and row["tried"] == 1 and "mf seed 0_seconds" in row and "mf seed 1_seconds" in row
    a, b = m.parts
    assert not torch.equal(a.item.weight, b.item.weight)  # two networks, not one twice
    users = torch.arange(40)
    expected = ensemble([standardise(a.score(users)), standardise(b.score(users))])
    assert torch.allclose(m.score(users), expected, atol=1e-5)
    # validation scores what the test will: the ensemble's own figure
    assert row["NDCG@10"] == pytest.approx(evaluate_full_valid(m, split)["NDCG@10"])


@pytest.mark.slow
def test_a_blend_of_seed_ensembles_loads_each_seeds_stored_network_and_reloads_whole(tmp_path):
    from recsys_core.runs import artifacts
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store

    store, ds = Store(tmp_path), planted()
    mf0 = ensure_run(store, ds, "mf")
    mf1 = ensure_run(store, ds, "mf", catalog.config_for("mf", {"seed": 1}))
    assert mf0.run.status == mf1.run.status == "done"
    cfg = catalog.config_for("blend", {"components": ("mf", "ease"), "seeds": (0, 1, 2), "step": 0.25})
    out = ensure_run(store, ds, "blend", cfg)
    assert out.run.status == "done", out.run.error
    row = out.result.history.best_row()
    assert row["mf seed 0_run"] == mf0.run.id and row["mf seed 1_run"] == mf1.run.id  # loaded, not trained
    assert "mf seed 2_seconds" in row and "ease_seconds" in row  # the seed the store lacks is trained
    assert set(row) >= {"w_mf", "w_ease"} and len(out.result.recommender.weights) == 2
    again = artifacts.load_model(store, out.run, ds)
    assert [p.cfg.seed for p in again.parts[:3]] == [0, 1, 2]
    users = np.arange(ds.n_users)
    assert np.array_equal(again.recommend(users, k=10)[0], out.result.recommender.recommend(users, k=10)[0])


def test_a_blends_key_follows_its_components_shipped_settings(monkeypatch):
    """A blend is made of its components at their shipped settings: when one's default changes
    (SASRec's start did), the blend stored before is not found as today's, and a blend
    without that component keeps its key."""
    import dataclasses

    from recsys_core.models.blend_config import BlendConfig

    ds = planted()
    with_sasrec, without = BlendConfig(), BlendConfig(components=("gru4rec", "ease"))
    before = [catalog.run_key(ds, "blend", c, ["full"]) for c in (with_sasrec, without)]
    sasrec = catalog.ZOO["sasrec"]
    changed = dataclasses.replace(sasrec, config=dataclasses.replace(sasrec.config, init="torch"))
    monkeypatch.setitem(catalog.ZOO, "sasrec", changed)
    after = [catalog.run_key(ds, "blend", c, ["full"]) for c in (with_sasrec, without)]
    assert after[0] != before[0] and after[1] == before[1]
    # a component's own key is its config's alone
    assert catalog.run_key(ds, "sasrec", sasrec.config, ["full"]).split("-")[2] == "b1e559152a3d"


def test_fields_added_at_their_defaults_leave_stored_keys_as_they_were():
    """`seeds` (a tuple, written as a list in a stored config) and SASRec's `block` and
    `ffn_factor` came after runs were stored: at their defaults the configs hash as before,
    so the shipped runs keep their keys and are found, not trained again."""
    from recsys_core.config import config_hash
    from recsys_core.models.blend_config import BlendConfig
    from recsys_core.models.configs import SASRecConfig

    assert config_hash(BlendConfig()) == "ac4c7282e94f"  # as before `seeds` existed
    # SASRec's defaults of before `block`, `ffn_factor`, `windows`, `init` and `stride`: the stored runs' key
    before = {"max_len": 50, "loss": "full", "batch_size": 128, "lr": 0.005, "epochs": 200, "patience": 5}
    assert config_hash(SASRecConfig(**before)) == "b8f0424be637"
    assert config_hash(BlendConfig(seeds=(0, 1, 2))) != config_hash(BlendConfig())


def test_the_temporal_split_trains_with_its_own_shipped_settings_and_keys_them(monkeypatch, tmp_path):
    """SASRec's start is picked per split (`SPLIT_TUNED`): a run of the temporal split, alone or
    as a blend's component there, takes that split's settings; a leave-one-out run keeps the
    shipped default; what a person sets wins; the run keys follow."""
    from dataclasses import replace

    from recsys_core.evaluation.protocols import TEMPORAL
    from recsys_core.runs import artifacts
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store
    from recsys_core.sweeps.spec import Sweep

    assert catalog.config_for("sasrec").init == "normal"
    assert catalog.config_for("sasrec", split=TEMPORAL).init == "torch"
    assert catalog.config_for("sasrec", {"init": "normal"}, split=TEMPORAL).init == "normal"  # a person's setting
    assert catalog.config_for("gru4rec", split=TEMPORAL) == catalog.config_for("gru4rec")
    assert catalog.split_of([TEMPORAL]) == TEMPORAL
    assert catalog.split_of(["full"]) is None and catalog.split_of(["full", TEMPORAL]) is None  # one config for both
    assert catalog.describe_changes("sasrec", {"init": "torch"}, split=TEMPORAL) == "defaults"
    assert catalog.describe_changes("sasrec", {"init": "normal"}, split=TEMPORAL) == "init=normal"
    sweep = Sweep("t-split", "sasrec", "lr", (("a", {"lr": 0.01}),), {}, protocol=TEMPORAL)
    assert sweep.config({"lr": 0.01}).init == "torch" and replace(sweep, protocol="full").config({}).init == "normal"
    ds = planted()
    blend = catalog.config_for("blend")
    hashes = {p: catalog.run_key(ds, "blend", blend, [p]).split("-")[2] for p in ("full", TEMPORAL)}
    assert hashes["full"] != hashes[TEMPORAL]  # its SASRec differs there
    assert catalog.temporal_key(ds, "sasrec").split("-")[2] != catalog.shipped_key(ds, "sasrec").split("-")[2]

    # trained, with cheap settings put through the same table
    monkeypatch.setitem(catalog.SPLIT_TUNED, TEMPORAL, {"sasrec": {"init": "torch", "epochs": 2, "patience": 1}})
    store = Store(tmp_path)
    run = ensure_run(store, ds, "sasrec", protocols=[TEMPORAL]).run
    assert run.status == "done" and run.key == catalog.temporal_key(ds, "sasrec")
    assert (run.config["init"], run.config["epochs"]) == ("torch", 2)
    cfg = catalog.config_for("blend", {"components": ("sasrec", "ease"), "step": 0.5})
    out = ensure_run(store, ds, "blend", cfg, [TEMPORAL])
    assert out.run.status == "done", out.run.error
    assert out.result.history.best_row()["sasrec_run"] == run.id  # the temporal SASRec, loaded, not trained
    assert artifacts.load_model(store, out.run, ds).parts[0].cfg.init == "torch"  # reloaded as it was made
    assert zoo.make("blend", ds.n_users, ds.n_items, cfg=cfg).parts[0].cfg.init == "normal"  # leave-one-out


@pytest.mark.slow
def test_a_blend_stored_before_its_datasets_own_settings_reloads_as_it_was_made(monkeypatch, tmp_path):
    """A dataset's tuned settings (`TUNED`) reach a blend's components on leave-one-out; a
    blend stored before them mixed the defaults and still reloads with them (its key says
    so), while one stored after reloads with the tuned components."""
    from recsys_core.runs import artifacts
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store

    ds = planted()
    store = Store(tmp_path)
    cfg = catalog.config_for("blend", {"components": ("sasrec", "ease"), "step": 0.5})
    cheap = {"epochs": 2, "patience": 1, "hidden": 16}
    monkeypatch.setattr(catalog, "TUNED", {})  # before: no settings of its own for this dataset
    before = ensure_run(store, ds, "blend", cfg, ["full"])
    assert before.run.status == "done", before.run.error
    monkeypatch.setattr(catalog, "TUNED", {ds.name: {"sasrec": cheap}})  # then ds's own, hidden 16
    after = ensure_run(store, ds, "blend", cfg, ["full"])
    assert after.run.status == "done" and after.run.id != before.run.id  # a new shipped blend
    default = zoo.entry("sasrec").config.hidden
    assert artifacts.load_model(store, before.run, ds).parts[0].cfg.hidden == default  # as it was made
    assert artifacts.load_model(store, after.run, ds).parts[0].cfg.hidden == 16


@pytest.mark.parametrize("holes", [False, True])
def test_the_weight_search_counts_as_the_blend_scores_at_each_weighting(holes):
    """The search's counts (one scoring pass, finite scores counted in fewer passes; with
    `holes`, items no component scores, -inf, counted the general way) give each weighting
    exactly the figures of the blend scored at that weighting alone."""
    split = planted_split()
    m = _blend(components=("popularity", "genre", "ease"), step=0.25)
    assert fit_model(m, split.train, split).status == "done"
    if holes:
        scores = m.part_scores

        def with_holes(users, which=None):
            return [p.index_fill(1, torch.tensor([0, 3, 7]), float("-inf")) for p in scores(users, which)]

        m.part_scores = with_holes
    grid = weight_grid(3, 0.25)
    threads = torch.get_num_threads()
    with m.frozen():
        found = evaluate_full_valid_blends(m, split, grid)
    assert torch.get_num_threads() == threads  # the mixes' one thread is given back
    for w, got in zip(grid, found):
        m.weights = w
        assert got == evaluate_full_valid(m, split), w  # every metric, to the bit


@pytest.mark.parametrize("seed", [0, 1])
def test_finite_counts_match_the_cell_by_cell_count_ties_included(seed):
    gen = np.random.default_rng(seed)
    scores = gen.integers(0, 4, size=(40, 30)).astype(np.float32)  # few values: many ties
    targets = gen.integers(0, 30, size=40)
    seen = gen.random((40, 30)) < 0.3
    seen[np.arange(40), targets] = True  # the target is among a user's interactions
    seen = sp.csr_matrix(seen)
    want = _counts_against_unseen(scores.copy(), targets, seen)
    got = _finite_counts_against_unseen(scores.copy(), targets, *seen.nonzero())
    assert all(np.array_equal(a, b) for a, b in zip(want, got))
    assert want[1].sum() > 0  # ties were there to count

"""The first models: the shared interface, and learning the planted structure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys_core.cli import main
from recsys_core.evaluation.scoring import evaluate
from recsys_core.runs import zoo
from recsys_core.training.fitting import fit_model
from tests.helpers import planted, planted_split

syn, syn_split = planted, planted_split  # built at first use, once (tests.helpers)


@pytest.fixture(scope="module")
def fitted():
    out = {}
    for name in ("popularity", "genre", "ease"):
        m = zoo.make(name, syn().n_users, syn().n_items)
        fit_model(m, syn_split().train)
        out[name] = m
    return out


@pytest.mark.parametrize("name", ["popularity", "genre", "ease"])
def test_interface_shapes_and_seen_items_excluded(fitted, name):
    m = fitted[name]
    users = np.arange(20)
    import torch

    assert tuple(m.score(torch.as_tensor(users)).shape) == (20, syn().n_items)
    cand = np.tile(np.arange(7), (20, 1))
    assert tuple(m.score(torch.as_tensor(users), torch.as_tensor(cand)).shape) == (20, 7)
    items, scores = m.recommend(users, k=10)
    assert items.shape == (20, 10) and (np.diff(scores, axis=1) <= 1e-6).all()
    seen = syn_split().train.binary.toarray().astype(bool)
    assert not seen[users[:, None], items].any()
    one, _ = m.recommend(3, k=5)
    np.testing.assert_array_equal(one, items[3, :5])


def test_models_learn_planted_taste_better_than_popularity(fitted):
    hr = {name: evaluate(m, syn_split(), "loo-uniform")["HR@10"] for name, m in fitted.items()}
    assert hr["ease"] > hr["popularity"] + 0.1
    assert hr["genre"] > hr["popularity"] + 0.05


def test_genre_similar_and_shared_genres():
    m = zoo.make("genre", syn().n_users, syn().n_items)
    fit_model(m, syn_split().train)
    items, sims = m.similar(0, k=5)
    assert 0 not in items and (np.diff(sims) <= 1e-6).all()
    top = items[0]
    assert m.shared_genres(0, top).any()


def test_tfidf_changes_weights():
    a = zoo.make("genre", syn().n_users, syn().n_items, {"tfidf": "true"})
    fit_model(a, syn_split().train)
    b = zoo.make("genre", syn().n_users, syn().n_items)
    fit_model(b, syn_split().train)
    assert not np.allclose(a.item_embeddings(), b.item_embeddings())


def test_bad_config_lists_valid_keys():
    from recsys_core.errors import ConfigError

    with pytest.raises(ConfigError, match="valid keys"):
        zoo.config_for("ease", {"lambda": "3"})
    with pytest.raises(ConfigError, match=r"lam"):
        zoo.config_for("ease", {"lam": "-1"})


def test_cli_evaluate_json_shape(capsys):
    assert main(["evaluate", "ease", "--dataset", "synthetic:users=120,items=150,seed=1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"model", "dataset", "protocol", "k", "metrics", "seconds"}
    assert out["protocol"] == "full"  # full ranking is the default
    want = {"HR@10", "NDCG@10", "Recall@10", "MRR@10", "coverage", "diversity", "novelty", "genre_calibration"}
    assert want <= set(out["metrics"]) and "AUC" not in out["metrics"]  # AUC is a sampled protocol's


def test_cli_similar_and_recommend(capsys):
    src = "synthetic:users=120,items=150,seed=1"
    assert main(["similar", "--movie", "movie 1", "--dataset", src, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["movie"] == "Movie 1 (1950)" and len(out["similar"]) == 10
    assert main(["recommend", "popularity", "--user", "5", "--dataset", src, "--json", "--k", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and set(rows[0]) >= {"movie_id", "title", "score"}
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert main(["recommend", "popularity", "--user", "99999", "--dataset", src]) == 2
    assert "no user with id" in capsys.readouterr().err
    assert main(["similar", "--movie", "Movei 1 (1950)", "--dataset", src]) == 2
    assert "Closest" in capsys.readouterr().err


def test_ease_bounded_to_its_most_popular_items_on_a_large_catalogue():
    from recsys_core.config import config_hash
    from recsys_core.models.configs import EASEConfig

    full = zoo.make("ease", syn().n_users, syn().n_items)
    fit_model(full, syn_split().train)
    assert not full.bounded
    small = zoo.make("ease", syn().n_users, syn().n_items, {"max_items": 50, "recency_half_life": 0})
    fit_model(small, syn_split().train)
    assert small.bounded and len(small.kept_) == 50
    counts = np.bincount(syn_split().train.items, minlength=syn().n_items)
    assert set(small.kept_) == set(np.argsort(-counts, kind="stable")[:50])  # the most popular
    items, _ = small.recommend(np.arange(syn().n_users), k=10)
    assert np.isin(items[items >= 0], small.kept_).all()  # an item outside is never recommended
    # inside, it is EASE on the kept columns: the same weights as a model fitted on them alone
    inner = small.item_item(small.kept_, small.kept_)
    X = syn_split().train.binary.toarray()[:, small.kept_].astype(np.float64)
    P = np.linalg.inv(X.T @ X + 250.0 * np.eye(50))
    B = -P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    assert inner == pytest.approx(B, abs=1e-5)
    outside = np.setdiff1d(np.arange(syn().n_items), small.kept_)
    assert not small.item_item(outside[:3], small.kept_).any()
    top = small.strongest(5)
    assert (top["items"][outside] == -1).all() and np.isin(top["items"][small.kept_], small.kept_).all()
    # the field was added after runs were stored: at its default the config hash is unchanged
    assert config_hash(EASEConfig()) == "f221ef08000f"  # as before max_items existed


def test_ease_on_a_large_catalogue_reloads_its_weights_instead_of_refitting(tmp_path, monkeypatch):
    from recsys_core.models.baselines import EASE
    from recsys_core.runs import artifacts
    from recsys_core.runs.life import ensure_run
    from recsys_core.runs.store import Store

    monkeypatch.setattr(artifacts, "STATE_ABOVE", 100)  # this dataset's 200 items count as large
    store = Store(tmp_path)
    cfg = zoo.config_for("ease", {"max_items": 150})
    out = ensure_run(store, syn(), "ease", cfg)
    assert store.load_arrays(out.run.key, "state") is not None
    monkeypatch.setattr(EASE, "fit", lambda *a, **k: pytest.fail("refitted"))
    again = artifacts.load_model(store, out.run, syn())
    assert again.bounded and len(again.kept_) == 150
    fitted = out.result.recommender
    users = np.arange(syn().n_users)
    assert np.array_equal(again.recommend(users, k=10)[0], fitted.recommend(users, k=10)[0])


def test_ease_reads_the_validation_item_before_the_test_without_refitting():
    split = syn_split()
    plain = zoo.make("ease", syn().n_users, syn().n_items, {"reads_latest": False})
    reader = zoo.make("ease", syn().n_users, syn().n_items, {"reads_latest": True})
    assert not plain.reads_history and reader.reads_history  # declared by the config
    for m in (plain, reader):
        fit_model(m, split.train)
    B = reader.B_.clone()
    import torch

    users = np.flatnonzero(split.valid_items >= 0)[:30]
    before = reader.score(torch.as_tensor(users)).numpy()
    assert np.allclose(before, plain.score(torch.as_tensor(users)).numpy())  # the same until it reads
    reader.read(split.valid_rows)
    assert torch.equal(reader.B_, B)  # the item-item weights are not refit
    both = split.train.concat(split.valid_rows)
    X = both.weighted_matrix(reader.cfg.recency_half_life).toarray()[users]
    assert reader.score(torch.as_tensor(users)).numpy() == pytest.approx(X @ B.numpy(), abs=1e-4)
    items, _ = reader.recommend(users, k=20)
    assert not (items == split.valid_items[users][:, None]).any()  # what it read is seen

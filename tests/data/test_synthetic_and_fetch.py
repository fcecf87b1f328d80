"""The synthetic generator's planted structure, and the wheel fetch (without a network)."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest

from recsys_core.data import load_dataset, synthetic
from recsys_core.data import wheels as fetch_mod
from recsys_core.errors import DataError


def test_synthetic_is_deterministic_and_sized():
    a = synthetic(users=120, items=80, seed=3)
    b = load_dataset("synthetic:users=120,items=80,seed=3")
    assert a.fingerprint == b.fingerprint
    assert a.n_users == 120 and a.n_items <= 80 and a.has_genres
    assert synthetic(users=120, items=80, seed=4).fingerprint != a.fingerprint


def test_synthetic_planted_taste_and_popularity_skew():
    ds = synthetic(users=300, items=150, seed=0)
    fav = ds.extra["planted_favourite_genre"]
    g = ds.genre_matrix
    # share of a user's interactions in the favourite genre, against the catalogue share
    user_share, base_share = [], []
    for u in range(0, 300, 7):
        items = ds.ratings.loc[ds.ratings["user"] == u, "item"].to_numpy()
        j = ds.genres.index(fav[u])
        user_share.append(g[items, j].mean())
        base_share.append(g[:, j].mean())
    assert np.mean(user_share) > 2 * np.mean(base_share)
    pop = np.sort(ds.item_popularity)[::-1]
    assert pop[: len(pop) // 10].sum() > 2 * pop[-len(pop) // 10 :].sum()  # skewed popularity
    # timestamps increase within a user (ratings are stored in time order)
    r = ds.ratings
    assert (np.diff(r["timestamp"].to_numpy())[np.diff(r["user"].to_numpy()) == 0] >= 0).all()
    assert set(np.unique(r["rating"])) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_synthetic_spec_errors():
    with pytest.raises(DataError, match="bad synthetic option"):
        load_dataset("synthetic:users=abc")
    with pytest.raises(DataError, match="bad synthetic option"):
        load_dataset("synthetic:colour=3")


def fake_wheel(path, spec, payload=b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t5\t1\n"):
    with zipfile.ZipFile(path, "w") as zf:
        for f in spec.files:
            other = b"item_id:token\n1\n" if f.endswith(".item") else b"user_id:token\n1\n"
            zf.writestr(spec.folder + f, payload if f.endswith(".inter") else other)
        zf.writestr("recbole/__init__.py", b"raise SystemExit('never imported')\n")
    return path


def test_fetch_checks_sha_and_extracts_only_data(monkeypatch, tmp_path):
    spec = fetch_mod.KNOWN["ml-100k"]

    def download(s, progress):
        d = fetch_mod._wheel_dir()
        d.mkdir(parents=True, exist_ok=True)
        return fake_wheel(d / "recbole-1.2.1-py3-none-any.whl", s)

    monkeypatch.setattr(fetch_mod, "_download_wheel", download)
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        fetch_mod.fetch("ml-100k", progress=lambda m: None)
    assert not fetch_mod.is_fetched("ml-100k")
    wheel = download(spec, None)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setitem(
        fetch_mod.KNOWN, "ml-100k", fetch_mod.WheelData(spec.requirement, digest, spec.folder, spec.files)
    )
    dest = fetch_mod.fetch("ml-100k", progress=lambda m: None)
    assert sorted(p.name for p in dest.iterdir()) == sorted([*spec.files, "FETCHED.json"])
    assert load_dataset("ml-100k").n_ratings == 1


def test_fetch_without_registry_says_what_to_do(monkeypatch):
    monkeypatch.setattr(fetch_mod.sys, "executable", "/nonexistent/python")
    with pytest.raises(DataError, match="point the app or CLI at a GroupLens download"):
        fetch_mod.fetch("ml-1m", progress=lambda m: None)

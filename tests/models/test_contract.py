"""The shared contract every zoo model keeps (in the manner of implicit's shared test mixin):
a new model gets every check by being in the catalog.

Fit on synthetic data through the run store, then reload the stored run in a fresh process:
equal scores (to 1e-6), equal `recommend` lists and embeddings; `recommend` never returns a
seen item; score shapes for one user, many users and given items.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from recsys_core.data import load_dataset
from recsys_core.errors import RecsysError
from recsys_core.evaluation.splits import loo_split
from recsys_core.runs import catalog
from recsys_core.runs.artifacts import load_model
from recsys_core.runs.life import ensure_run
from recsys_core.runs.store import Store
from tests.conftest import ROOT

SRC = "synthetic:users=70,items=50,seed=3"
QUICK = {  # small and short: the contract is about shapes and reloading, not accuracy
    "mf": {"epochs": 2, "dim": 8},
    "ncf": {"epochs": 2, "mf_dim": 4, "layers": (8, 4), "batch_size": 256, "pretrain_epochs": (1,)},
    "autorec": {"epochs": 2, "layers": (16,), "batch_size": 16},
    "cdae": {"epochs": 2, "hidden": 16, "batch_size": 16},
    "embnet": {"epochs": 2, "dim": 8, "hidden": (16,), "dropouts": (0.2,)},
    "sasrec": {"epochs": 2, "hidden": 16, "max_len": 20, "batch_size": 32},
    "gru4rec": {"epochs": 2, "hidden": 16, "max_len": 20, "batch_size": 32},
    "bert4rec": {"epochs": 2, "hidden": 16, "max_len": 20, "batch_size": 32},
}
RELOAD = """
import json, sys
import numpy as np
from recsys_core.data import load_dataset
from recsys_core.runs.artifacts import load_model
from recsys_core.runs.store import Store
store, ds = Store(sys.argv[1]), load_dataset(sys.argv[2])
out = {}
for rid in json.loads(sys.argv[3]):
    run = store.run(rid)
    m = load_model(store, run, ds)
    users = np.arange(ds.n_users)
    out[f"{rid}/scores"] = m.score(users).float().cpu().numpy()
    out[f"{rid}/items"], out[f"{rid}/top_scores"] = m.recommend(users, k=10)
    for side in ("item", "user"):
        emb = getattr(m, f"{side}_embeddings")()
        if emb is not None:
            out[f"{rid}/{side}"] = emb
np.savez(sys.argv[4], **out)
"""


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """name -> (in-process model, stored run) for every zoo entry, and the reloaded arrays."""
    root = tmp_path_factory.mktemp("contract")
    store, ds = Store(root), load_dataset(SRC)
    models = {}
    for name in catalog.ZOO:
        cfg = catalog.config_for(name, QUICK.get(name, {}))
        out = ensure_run(store, ds, name, cfg)
        assert out.run.status == "done", out.run.error
        models[name] = (out.result.recommender, out.run)
    ids = [run.id for _, run in models.values()]
    dump = root / "reloaded.npz"
    subprocess.run(
        [sys.executable, "-c", RELOAD, str(root), SRC, json.dumps(ids), str(dump)], cwd=ROOT, check=True, timeout=300
    )
    with np.load(dump) as z:
        reloaded = {k: z[k] for k in z.files}
    return store, ds, models, reloaded


@pytest.mark.parametrize("name", list(catalog.ZOO))
def test_a_stored_run_reloads_in_a_fresh_process(fitted, name):
    _, ds, models, reloaded = fitted
    model, run = models[name]
    users = np.arange(ds.n_users)
    rid = run.id
    np.testing.assert_allclose(reloaded[f"{rid}/scores"], model.score(users).float().cpu().numpy(), atol=1e-6)
    items, scores = model.recommend(users, k=10)
    np.testing.assert_array_equal(reloaded[f"{rid}/items"], items)
    np.testing.assert_allclose(reloaded[f"{rid}/top_scores"], scores, atol=1e-6)
    for side in ("item", "user"):
        emb = getattr(model, f"{side}_embeddings")()
        if emb is not None:
            np.testing.assert_allclose(reloaded[f"{rid}/{side}"], emb, atol=1e-6)


@pytest.mark.parametrize("name", list(catalog.ZOO))
def test_recommend_never_returns_a_seen_item_and_scores_have_their_shapes(fitted, name):
    _, ds, models, _ = fitted
    model, _ = models[name]
    seen = loo_split(ds).train.binary
    items, _ = model.recommend(np.arange(ds.n_users), k=15)
    rows = np.repeat(np.arange(ds.n_users), items.shape[1])
    flat = items.reshape(-1)
    real = flat >= 0
    assert not np.asarray(seen[rows[real], flat[real]]).any()
    one, _ = model.recommend(3, k=5)
    assert one.shape == (5,)
    assert tuple(model.score(torch.tensor([3])).shape) == (1, ds.n_items)
    assert tuple(model.score(torch.arange(6)).shape) == (6, ds.n_items)
    given = torch.tensor([[0, 1, 2], [4, 5, 6]])
    s = model.score(torch.tensor([1, 2]), given).float().cpu()
    assert tuple(s.shape) == (2, 3)
    full = model.score(torch.tensor([1, 2])).float().cpu()
    np.testing.assert_allclose(s.numpy(), torch.gather(full, 1, given).numpy(), rtol=1e-5, atol=1e-5)


def test_a_run_whose_weights_are_corrupt_says_so(fitted):
    store, ds, models, _ = fitted
    _, run = models["mf"]
    (store.artifact_dir(run.key) / "weights.pt").write_bytes(b"truncated")
    with pytest.raises(RecsysError, match="missing or fail their checksum; train it again"):
        load_model(store, run, ds)
    other = load_dataset("synthetic:users=30,items=20,seed=9")
    with pytest.raises(RecsysError, match="was trained on"):
        load_model(store, models["ease"][1], other)

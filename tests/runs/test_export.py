"""Export to MLflow and TensorBoard, read back with MLflow's client and TensorBoard's event
reader: a sweep as a parent run with its points as children, epoch metrics with step =
epoch, test metrics named by protocol without '@', and a second export that adds nothing."""

from __future__ import annotations

import functools

import pytest

from recsys_core.cli import main
from recsys_core.data import synthetic
from recsys_core.runs.export import export_mlflow, export_tensorboard, metric_name
from recsys_core.runs.store import Store
from recsys_core.sweeps.executors import run_sweep
from recsys_core.sweeps.spec import Sweep


@functools.cache
def syn():
    """Built at first use, once for this module (never at import)."""
    return synthetic(users=80, items=60, seed=5)


mlflow = pytest.importorskip("mlflow", reason="mlflow-skinny not installed (requirements-export.txt)")
pytest.importorskip("tensorboard", reason="tensorboard not installed (requirements-export.txt)")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store")
    sweep = Sweep(
        "t-export",
        "mf",
        "dim",
        (("4", {"dim": 4}), ("8", {"dim": 8})),
        {"epochs": 2, "patience": 2, "batch_size": 256, "loss": "bce", "n_negatives": 2},
    )
    run_sweep(sweep, syn(), s)
    return s


@pytest.mark.parametrize("kind", ["sqlite", "folder"])
def test_mlflow_export_is_a_parent_with_children_and_idempotent(store, tmp_path, kind, monkeypatch):
    from mlflow.tracking import MlflowClient

    # a SQLite URI opens in MLflow's own client with no setting (the README's advice); a folder
    # needs MLFLOW_ALLOW_FILE_STORE, which the export sets for itself
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}" if kind == "sqlite" else (tmp_path / "mlruns").as_uri()
    assert export_mlflow(store, uri) == {"runs": 2, "skipped": 0}
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("recsys-explorer")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("recsys.parent")]
    children = [r for r in runs if "recsys.run_id" in r.data.tags]
    assert [p.data.tags["recsys.sweep"] for p in parents] == ["t-export"] and len(children) == 2
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    child = next(c for c in children if c.data.params["dim"] == "8")
    history = client.get_metric_history(child.info.run_id, "NDCG_at_10")
    stored = store.epochs(int(child.data.tags["recsys.run_id"]))
    assert [(m.step, round(m.value, 6)) for m in history] == [(e["epoch"], round(e["NDCG@10"], 6)) for e in stored]
    assert "test/loo-uniform/HR_at_10" in child.data.metrics
    assert export_mlflow(store, uri) == {"runs": 0, "skipped": 2}  # a second export adds nothing
    assert len(client.search_runs([exp.experiment_id])) == len(runs)


def test_tensorboard_export_reads_back_and_is_idempotent(store, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    assert export_tensorboard(store, out) == {"runs": 2, "skipped": 0}
    folders = sorted((out / "t-export").iterdir())
    assert [f.name.split("-run")[0] for f in folders] == ["mf", "mf"]
    acc = EventAccumulator(str(folders[0]))
    acc.Reload()
    run_id = int(folders[0].name.split("-run")[1])
    stored = store.epochs(run_id)
    got = [(e.step, round(e.value, 5)) for e in acc.Scalars("epoch/train_loss")]
    assert got == [(e["epoch"], round(e["train_loss"], 5)) for e in stored]
    assert "test/loo-uniform/HR_at_10" in acc.Tags()["scalars"]
    assert export_tensorboard(store, out) == {"runs": 0, "skipped": 2}


def test_metric_names_mlflow_accepts_and_the_cli(store, tmp_path, monkeypatch, capsys):
    assert metric_name("HR@10") == "HR_at_10" and metric_name("test/full/NDCG@10") == "test/full/NDCG_at_10"
    monkeypatch.setenv("RECSYS_ARTIFACTS", str(store.root))
    assert main(["export", "--tensorboard", str(tmp_path / "tb2")]) == 0
    assert "2 runs added" in capsys.readouterr().out
    assert main(["export"]) == 2

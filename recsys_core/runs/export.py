"""Export the run store, one way, to MLflow and TensorBoard (`python -m recsys_core export`).

Every finished run (done, diverged, pruned) goes over once: a second export adds nothing.
MLflow: one parent run per sweep (the shipped models, "my runs" and each sweep), its points
as child runs with their config as parameters, each epoch's figures as metrics with step =
epoch, and the test figures named by protocol; MLflow refuses "@" in a metric name, so
"HR@10" is written "HR_at_10". TensorBoard: one event folder per run under
`<sweep>/<model>-run<id>`, the same epoch scalars and test figures. Both writers are
optional dependencies (`requirements-export.txt`: mlflow-skinny and tensorboard), imported
when an export runs; the store itself is only read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from recsys_core.runs.record import Run
from recsys_core.runs.store import Store

FINISHED = ("done", "diverged", "pruned")
EPOCH_KEYS = ("train_loss", "valid_loss", "HR@10", "NDCG@10", "RMSE", "lr", "seconds")


def metric_name(name: str) -> str:
    """A metric name MLflow accepts: '@' spelled out, anything else odd as '_'."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", name.replace("@", "_at_"))


def _group(run: Run) -> str:
    return run.sweep or "shipped"


def _test_metrics(run: Run) -> dict[str, float]:
    out = {}
    for protocol, figures in run.metrics.items():
        if isinstance(figures, dict) and protocol != "seconds":
            for k, v in figures.items():
                if isinstance(v, (int, float)):
                    out[metric_name(f"test/{protocol}/{k}")] = float(v)
    return out


def export_mlflow(store: Store, uri: str, experiment: str = "recsys-explorer") -> dict:
    """Send the store's finished runs to MLflow at `uri`; returns {"runs": added, "skipped": n}."""
    import mlflow  # optional: requirements-export.txt
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    if uri.startswith("file:") or "://" not in uri:
        # a folder asked for by name: MLflow 3 keeps its file store for those who opt in
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    exp_id = found.experiment_id if found else client.create_experiment(experiment)
    existing = client.search_runs([exp_id], max_results=50_000)
    done_ids = {r.data.tags.get("recsys.run_id") for r in existing}
    parents = {r.data.tags["recsys.sweep"]: r.info.run_id for r in existing if "recsys.parent" in r.data.tags}
    added = skipped = 0
    for run in store.runs():
        if run.status not in FINISHED:
            continue
        if str(run.id) in done_ids:
            skipped += 1
            continue
        group = _group(run)
        if group not in parents:
            parent = client.create_run(exp_id, run_name=group, tags={"recsys.parent": "1", "recsys.sweep": group})
            client.set_terminated(parent.info.run_id)
            parents[group] = parent.info.run_id
        child = client.create_run(
            exp_id,
            run_name=f"{run.model}: {run.label or 'defaults'} (run {run.id})",
            tags={
                mlflow.utils.mlflow_tags.MLFLOW_PARENT_RUN_ID: parents[group],
                "recsys.run_id": str(run.id),
                "recsys.sweep": group,
                "recsys.model": run.model,
                "recsys.dataset": run.dataset,
                "recsys.status": run.status,
                "recsys.device": run.device or "",
            },
        )
        ts = int((run.finished or run.created) * 1000)
        metrics = [
            Metric(metric_name(k), float(v), ts, int(row["epoch"]))
            for row in store.epochs(run.id)
            for k, v in row.items()
            if k in EPOCH_KEYS and isinstance(v, (int, float))
        ]
        metrics += [Metric(k, v, ts, int(run.best_epoch or 0)) for k, v in _test_metrics(run).items()]
        params = [Param(k, str(v)[:500]) for k, v in run.config.items()]
        for start in range(0, max(len(metrics), 1), 900):  # MLflow takes at most 1,000 entities a batch
            client.log_batch(
                child.info.run_id,
                metrics=metrics[start : start + 900],
                params=params if start == 0 else [],
                tags=[RunTag("recsys.exported", "1")],
            )
        client.set_terminated(child.info.run_id, "FINISHED" if run.status == "done" else "KILLED")
        added += 1
    return {"runs": added, "skipped": skipped}


def export_tensorboard(store: Store, folder) -> dict:
    """Write each finished run's epochs and test figures as TensorBoard events under
    `folder/<sweep>/<model>-run<id>/`; returns {"runs": added, "skipped": n}."""
    from torch.utils.tensorboard import SummaryWriter  # optional: needs tensorboard

    folder = Path(folder)
    added = skipped = 0
    for run in store.runs():
        if run.status not in FINISHED:
            continue
        out = folder / _group(run) / f"{run.model}-run{run.id}"
        if (out / ".exported").exists():
            skipped += 1
            continue
        with SummaryWriter(str(out)) as w:
            for row in store.epochs(run.id):
                for k, v in row.items():
                    if k in EPOCH_KEYS and isinstance(v, (int, float)):
                        w.add_scalar(f"epoch/{k}", float(v), int(row["epoch"]))
            for k, v in _test_metrics(run).items():
                w.add_scalar(k, v, int(run.best_epoch or 0))
            w.add_text("config", ", ".join(f"{k}={v}" for k, v in run.config.items()))
        (out / ".exported").write_text(str(run.id))
        added += 1
    return {"runs": added, "skipped": skipped}

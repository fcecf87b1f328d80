"""Sweep and run reports, read from the store: a sweep's table (one row a point, its figures
at the best epoch, the best point marked, unstable curves said), its curves, the order
ablation, the user's own runs. Torch-free; `Results` offers them to the pages.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from recsys_core.data import Dataset
from recsys_core.evaluation.protocols import Protocol as ProtocolRecord
from recsys_core.evaluation.protocols import protocol
from recsys_core.models.history import best_row
from recsys_core.runs.catalog import MY_RUNS, ZOO, changed, run_key
from recsys_core.runs.record import Run
from recsys_core.runs.store import Store


class Sweep(Protocol):
    """What a report reads of a sweep. The record itself is `sweeps.spec.Sweep`, a layer
    above this one: the reports know its shape, not its module."""

    name: str
    model: str
    param: str
    protocol: str
    description: str
    claim: str

    def config(self, overrides: dict): ...

    def configs(self, points=None) -> list[tuple[str, object]]: ...

    @property
    def varied(self) -> set[str]: ...

    def points_in(self, store: Store, fingerprint: str) -> tuple[tuple[str, dict], ...]: ...


def sweep_point_run(store, ds: Dataset, sweep, cfg) -> Run | None:
    """The latest run of one sweep point: one the sweep made, else any run of that config."""
    runs = store.runs(key=run_key(ds, sweep.model, cfg, [sweep.protocol]))
    own = [r for r in runs if r.sweep == sweep.name]
    return (own or runs or [None])[-1]


def report(sweep: Sweep, ds: Dataset, store: Store) -> list[dict]:
    """The NCF study's table: value, train loss, validation loss, metric, epochs, status; best marked.

    Each row is the point's latest run; losses are at the best epoch (the restored weights)."""
    rows = []
    metric = "RMSE" if sweep.protocol.startswith("ratings") else "HR@10"
    watched = protocol(sweep.protocol)
    monitor = watched.monitor  # what early stopping watches
    for label, cfg in sweep.configs(sweep.points_in(store, ds.fingerprint)):
        run = sweep_point_run(store, ds, sweep, cfg)
        if run is None:
            rows.append({"value": label, "status": "not run"})
            continue
        epochs = store.epochs(run.id)
        best = best_row(epochs, run.best_epoch) or {}
        test = run.metrics.get(sweep.protocol, {})
        # beside HR@10: NDCG@10 and diversity (1 - mean genre cosine in the top-10 lists)
        ranking = {"NDCG@10": test.get("NDCG@10"), "diversity": test.get("diversity")} if metric == "HR@10" else {}
        rows.append(
            {
                "value": label,
                "train_loss": best.get("train_loss"),
                "valid_loss": best.get("valid_loss"),
                f"valid {monitor}": best.get(monitor),
                metric: test.get(metric),
                **ranking,
                "epochs": len(epochs),
                "best_epoch": run.best_epoch,
                "status": run.status,
                "note": run.error if run.status != "done" else unstable(epochs, watched),
                "run": run.id,
            }
        )
    # the best value is picked on validation (the best epoch's metric), never on test
    scored = [r for r in rows if r.get(f"valid {monitor}") is not None and r["status"] == "done"]
    if scored:
        pick = max if watched.mode == "max" else min
        pick(scored, key=lambda r: r[f"valid {monitor}"])["best"] = True
    return rows


def unstable(epochs: list[dict], watched: ProtocolRecord) -> str:
    """Why a finished run is not to be trusted, '' when nothing stands out: its train loss rose
    far above its best, or it ended worse on validation than it started."""
    losses = [e["train_loss"] for e in epochs if e.get("train_loss") is not None]
    if len(losses) >= 2 and losses[-1] > 1.5 * min(losses) + 1e-9:
        return f"unstable: train loss rose to {losses[-1]:.3g} from its best {min(losses):.3g}"
    monitor = watched.monitor
    values = [e[monitor] for e in epochs if e.get(monitor) is not None]
    if len(values) >= 2 and watched.better(values[0], values[-1]):
        return f"unstable: validation {monitor} ended worse ({values[-1]:.3g}) than it started ({values[0]:.3g})"
    return ""


def closest_sweep(model: str, overrides: dict, sweeps: dict) -> Sweep | None:
    """The sweep to draw a run beside: of the same model, varying a parameter the run changed
    (else the model's first sweep); None when the model has no sweep."""
    mine = [s for s in sweeps.values() if s.model == model]
    if not mine:
        return None
    diff = set(changed(model, overrides))
    for s in mine:
        if s.varied & diff:
            return s
    return mine[0]


class RunReports:
    """The reports half of `Results` (which mixes it in): sweeps, runs and their curves.
    Needs `self.store` and `self.ds`."""

    store: Store
    ds: Dataset

    def sweep_curves(self, sweep: Sweep) -> pd.DataFrame:
        """Per-epoch rows of every point of a sweep (its latest run), long format."""
        frames = []
        for label, cfg in sweep.configs(sweep.points_in(self.store, self.ds.fingerprint)):
            run = sweep_point_run(self.store, self.ds, sweep, cfg)
            if run is None:
                continue
            ep = pd.DataFrame(self.store.epochs(run.id))
            if ep.empty:
                continue
            ep["value"] = label
            ep["status"] = run.status
            frames.append(ep)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def sweep_report(self, sweep: Sweep) -> list[dict]:
        return report(sweep, self.ds, self.store)

    def order_ablation(self, sweep: str = "sasrec-order") -> pd.DataFrame:
        """The order ablation's finished points (SASRec trained by time, ties shuffled, all
        shuffled): test HR@10 / NDCG@10 under loo-uniform, its NDCG@10 less the best
        order-blind shipped model's, and the share of the lead (by time) that it keeps.
        Empty until that sweep has run."""
        rows = {}
        for r in self.store.runs(sweep=sweep, fingerprint=self.ds.fingerprint):
            m = r.metrics.get("loo-uniform")
            if r.status == "done" and isinstance(m, dict):
                rows[r.label] = {"training order": r.label, "HR@10": m["HR@10"], "NDCG@10": m["NDCG@10"]}
        if "by time" not in rows:
            return pd.DataFrame()
        blind = [
            r.metrics["loo-uniform"]["NDCG@10"]
            for name, r in self.shipped.items()
            if ZOO[name].family != "sequential" and isinstance(r.metrics.get("loo-uniform"), dict)
        ]
        df = pd.DataFrame(rows.values())
        if blind:
            lead = rows["by time"]["NDCG@10"] - max(blind)
            df["vs best order-blind"] = df["NDCG@10"] - max(blind)
            df["lead kept"] = df["vs best order-blind"] / lead if lead > 0 else float("nan")
        return df

    def run_curves(self, run_ids: list[int], names: dict[int, str] | None = None) -> pd.DataFrame:
        """Per-epoch rows of several runs, long format, `run` naming each line."""
        frames = []
        for rid in run_ids:
            ep = pd.DataFrame(self.store.epochs(rid))
            if not ep.empty:
                ep["run"] = (names or {}).get(rid, f"run {rid}")
                frames.append(ep)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def my_runs(self) -> pd.DataFrame:
        """The runs started from the Train page on this dataset, newest first."""
        rows = []
        for r in reversed(self.store.runs(sweep=MY_RUNS, fingerprint=self.ds.fingerprint)):
            protocol = (r.meta.get("protocols") or ["?"])[0]
            m = r.metrics.get(protocol, {}) if isinstance(r.metrics.get(protocol), dict) else {}
            epochs = self.store.epochs(r.id)
            rows.append(
                {
                    "run": r.id,
                    "model": r.model,
                    "changes": r.label,
                    "protocol": protocol,
                    "status": r.status,
                    "HR@10": m.get("HR@10"),
                    "NDCG@10": m.get("NDCG@10"),
                    "RMSE": m.get("RMSE"),
                    "epochs": len(epochs),
                    "best_epoch": r.best_epoch,
                    "s/epoch": float(np.mean([e["seconds"] for e in epochs])) if epochs else None,
                    "device": r.device,
                    "started": pd.to_datetime(r.created, unit="s"),
                    "message": r.error or "",
                }
            )
        return pd.DataFrame(rows)

    def model_runs(self, model: str) -> pd.DataFrame:
        """Every finished run of a model on this dataset (shipped, sweeps, my runs): the
        numeric config values that vary between them, and the validation metric at the best
        and at the last epoch, plus the test figure. The parallel-coordinates view."""
        rows = []
        for r in self.store.runs(model=model, fingerprint=self.ds.fingerprint):
            if r.status not in ("done", "diverged"):
                continue
            epochs = self.store.epochs(r.id)
            if not epochs:
                continue
            best = best_row(epochs, r.best_epoch)
            name, test = run_metric(r)
            monitor = "RMSE" if "RMSE" in best else "NDCG@10"  # what its early stopping watched: its rows say
            row = {"run": r.id, "source": r.sweep or "shipped", "status": r.status}
            for k, v in r.config.items():
                if k in ("seed", "device", "amp"):
                    continue
                if isinstance(v, (bool, str)):
                    row[k] = str(v).lower()
                elif isinstance(v, (int, float)):
                    row[k] = float(v)
                elif isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
                    row[f"{k} (first)"] = float(v[0])
                    row[f"{k} (depth)"] = float(len(v))
            row[f"best-epoch valid {monitor}"] = best.get(monitor)
            row[f"last-epoch valid {monitor}"] = epochs[-1].get(monitor)
            row["epochs run"] = float(len(epochs))
            row[f"test {name}"] = test
            rows.append(row)
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        outcome = ("best-epoch", "last-epoch", "test", "epochs")
        fixed = [c for c in df.columns[3:] if c.split(" ")[0] not in outcome and df[c].nunique(dropna=False) <= 1]
        return df.drop(columns=fixed)


def run_metric(run: Run, protocol: str | None = None) -> tuple[str, float | None]:
    """(name, value) of a run's headline test figure: NDCG@10 for ranking, RMSE for ratings."""
    metrics = {k: v for k, v in run.metrics.items() if isinstance(v, dict)}
    protocol = protocol or next(iter(metrics), None)
    m = metrics.get(protocol, {})
    return ("RMSE", m.get("RMSE")) if "RMSE" in m else ("NDCG@10", m.get("NDCG@10"))

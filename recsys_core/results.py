"""The results reader: what the pages draw from the run store, for one dataset.

A `Results` resolves the shipped runs once (one query) and loads each artifact once (one
checksum), so the app keeps one per (dataset, store version) and a warm rerun of a page
does no query and no checksum. Every table a page shows from the store comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_core.catalog import MY_RUNS, ZOO, changed, run_key, shipped_runs
from recsys_core.data import Dataset
from recsys_core.data.summary import component_ends, favourite_genre, primary_genre
from recsys_core.splits import MIN_LOO_HISTORY, RANKING, describe
from recsys_core.store import Store

if TYPE_CHECKING:  # a type only: reading results never imports the sweep runner (torch)
    from recsys_core.sweeps import Sweep


def hr_standard_error(ds: Dataset, hr: float) -> tuple[float, int]:
    """(standard error of a leave-one-out HR@k of `hr`, number of evaluated users): one
    held-out item per user with at least 3 interactions, a binomial proportion."""
    n = int((ds.user_activity >= MIN_LOO_HISTORY).sum())
    return (float(np.sqrt(hr * (1 - hr) / n)) if n else float("nan")), n


def run_metric(run: dict, protocol: str | None = None) -> tuple[str, float | None]:
    """(name, value) of a run's headline test figure: NDCG@10 for ranking, RMSE for ratings."""
    metrics = {k: v for k, v in run["metrics"].items() if isinstance(v, dict)}
    protocol = protocol or next(iter(metrics), None)
    m = metrics.get(protocol, {})
    return ("RMSE", m.get("RMSE")) if "RMSE" in m else ("NDCG@10", m.get("NDCG@10"))


def sweep_point_run(store, ds: Dataset, sweep, cfg) -> dict | None:
    """The latest run of one sweep point: one the sweep made, else any run of that config."""
    runs = store.runs(key=run_key(ds, sweep.model, cfg, [sweep.protocol]))
    own = [r for r in runs if r["sweep"] == sweep.name]
    return (own or runs or [None])[-1]


def report(sweep: Sweep, ds: Dataset, store: Store) -> list[dict]:
    """The NCF study's table: value, train loss, validation loss, metric, epochs, status; best marked.

    Each row is the point's latest run; losses are at the best epoch (the restored weights)."""
    rows = []
    metric = "RMSE" if sweep.protocol.startswith("ratings") else "HR@10"
    monitor = "RMSE" if metric == "RMSE" else "NDCG@10"  # what early stopping watches
    for label, cfg in sweep.configs(sweep.points_in(store, ds.fingerprint)):
        run = sweep_point_run(store, ds, sweep, cfg)
        if run is None:
            rows.append({"value": label, "status": "not run"})
            continue
        epochs = store.epochs(run["id"])
        best = (
            epochs[run["best_epoch"] - 1]
            if run["best_epoch"] and len(epochs) >= run["best_epoch"]
            else (epochs[-1] if epochs else {})
        )
        test = run["metrics"].get(sweep.protocol, {})
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
                "best_epoch": run["best_epoch"],
                "status": run["status"],
                "note": run["error"] if run["status"] != "done" else unstable(epochs, monitor),
                "run": run["id"],
            }
        )
    # the best value is picked on validation (the best epoch's metric), never on test
    scored = [r for r in rows if r.get(f"valid {monitor}") is not None and r["status"] == "done"]
    if scored:
        best_row = (min if monitor == "RMSE" else max)(scored, key=lambda r: r[f"valid {monitor}"])
        best_row["best"] = True
    return rows


def debiased(vectors: np.ndarray, how: str = "none") -> np.ndarray:
    """Embedding vectors for neighbour search: as learned ("none"), centred on their mean
    ("centred"), or centred with the first principal component removed ("top-pc")."""
    v = np.asarray(vectors, dtype=np.float64)
    if how == "none":
        return v
    v = v - v.mean(0, keepdims=True)
    if how == "top-pc":
        top = np.linalg.svd(v, full_matrices=False)[2][0]  # the direction of largest variance
        v = v - np.outer(v @ top, top)
    return v


def cosine_to(vectors: np.ndarray, row: int) -> np.ndarray:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return unit @ unit[row]


def unstable(epochs: list[dict], monitor: str) -> str:
    """Why a finished run is not to be trusted, '' when nothing stands out: its train loss rose
    far above its best, or it ended worse on validation than it started."""
    losses = [e["train_loss"] for e in epochs if e.get("train_loss") is not None]
    if len(losses) >= 2 and losses[-1] > 1.5 * min(losses) + 1e-9:
        return f"unstable: train loss rose to {losses[-1]:.3g} from its best {min(losses):.3g}"
    values = [e[monitor] for e in epochs if e.get(monitor) is not None]
    if len(values) >= 2 and (values[-1] > values[0] if monitor == "RMSE" else values[-1] < values[0]):
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


class Results:
    """The store's results for one dataset, as the pages draw them."""

    def __init__(self, store: Store, ds: Dataset):
        self.store, self.ds = store, ds
        self.version = store.version()
        self.shipped: dict[str, dict] = shipped_runs(store, ds)
        self._arrays: dict[tuple[str, str], dict | None] = {}

    # ---------------------------------------------------------------- artifacts

    def arrays(self, model: str, name: str) -> dict | None:
        """An artifact of a shipped model ("ncf") or of a stored run ("run:12"), checksummed
        once; None when not built (a run's artifacts are made on first use) or corrupt."""
        if (model, name) not in self._arrays:
            run = self.run_of(model)
            found = self.store.load_arrays(run["key"], name) if run else None
            if found is None:
                return None  # not made yet (or broken): looked for again next time
            self._arrays[model, name] = found
        return self._arrays[model, name]

    def models_with(self, artifact: str) -> list[str]:
        """Shipped models whose artifact `artifact` (e.g. 'item_embeddings') is intact."""
        return [m for m in self.shipped if self.arrays(m, artifact) is not None]

    def broken(self) -> list[str]:
        """Shipped models whose run is done but whose top-k lists fail their checksum: they
        are rebuilt (the sidebar's build job), and said to be, wherever they would appear."""
        return [m for m, r in self.shipped.items() if r["status"] == "done" and self.arrays(m, "topk") is None]

    def shipped_run(self, model: str) -> dict | None:
        return self.shipped.get(model)

    # ---------------------------------------------------------------- trained runs

    @cached_property
    def trained(self) -> dict[str, dict]:
        """ "run:<id>" -> every other finished run on this dataset that can be used on the
        pages (Train page, sweep points, CLI `train`), newest first. A run whose weights turn
        out missing or corrupt says so when it is picked (`runs.load_model`)."""
        shipped_ids = {r["id"] for r in self.shipped.values()}
        out = {}
        for r in reversed(self.store.runs(fingerprint=self.ds.fingerprint, status="done")):
            if r["id"] in shipped_ids or r["model"] not in ZOO:
                continue
            out[f"run:{r['id']}"] = r
        return out

    def run_of(self, choice: str) -> dict | None:
        """The run behind a picker's choice: a shipped model's name or "run:<id>"."""
        return self.trained.get(choice) if choice.startswith("run:") else self.shipped.get(choice)

    def choices(self, artifact: str, with_embeddings: bool = False) -> list[str]:
        """What a model picker offers: the shipped models with `artifact` intact, then every
        usable trained run (`with_embeddings`: only models that learn embeddings)."""
        runs = [c for c, r in self.trained.items() if not with_embeddings or r["model"] not in ("popularity", "ease")]
        return [*self.models_with(artifact), *runs]

    def label(self, choice: str) -> str:
        """'ncf' for a shipped model; 'mf: dim=16, lr=0.01 · 2026-11-30 14:02 (run 12)' for a run."""
        run = self.trained.get(choice)
        if run is None:
            return choice
        when = pd.to_datetime(run["created"], unit="s").strftime("%Y-%m-%d %H:%M")
        source = "" if run["sweep"] in (None, MY_RUNS) else f"sweep {run['sweep']}: "
        return f"{run['model']}: {source}{run['label'] or 'defaults'} · {when} (run {run['id']})"

    # ---------------------------------------------------------------- leaderboard

    def leaderboard(self) -> pd.DataFrame:
        """One row per (model, protocol) of the shipped models."""
        rows = []
        for name, run in self.shipped.items():
            m = run["metrics"]
            for p in [*RANKING, "ratings"]:
                if p not in m:
                    continue
                seconds = m.get("seconds", {}).get("fit" if p != "ratings" else "fit_ratings")
                rows.append(
                    {"model": name, "protocol": p, **m[p], "train_seconds": seconds, "status": run["status"]}
                    | {"built": run["finished"]}
                )
        if not rows:
            return pd.DataFrame()
        df = pd.DataFrame(rows)
        df["built"] = pd.to_datetime(df["built"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
        return df

    # ---------------------------------------------------------------- lists and neighbours

    def top_list(self, model: str, user: int, test_item: int, k: int = 10) -> pd.DataFrame:
        """A model's cached top-k for a user (train items excluded), marking the held-out movie."""
        arrays, ds = self.arrays(model, "topk"), self.ds
        if arrays is None:
            return pd.DataFrame()
        items = arrays["items"][user][:k]
        scores = arrays["scores"][user][:k]
        keep = items >= 0
        items, scores = items[keep], scores[keep]
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(items) + 1),
                "title": ds.items["title"].to_numpy()[items],
                "score": np.round(scores.astype(float), 4),
                "genres": ds.items["genres"].to_numpy()[items],
                "held-out test movie": items == test_item,
                "item": items,
            }
        )

    def cold_start_list(self, model: str = "ncf", k: int = 10) -> pd.DataFrame:
        arrays, ds = self.arrays(model, "cold_start"), self.ds
        if arrays is None:
            return pd.DataFrame()
        s = arrays["scores"]
        order = np.argsort(-s, kind="stable")[:k]
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(order) + 1),
                "title": ds.items["title"].to_numpy()[order],
                "score": np.round(s[order].astype(float), 4),
                "genres": ds.items["genres"].to_numpy()[order],
                "ratings": ds.item_popularity[order],
            }
        )

    def embedding_neighbours(
        self, model: str, item: int, n: int = 10, side: str = "item", debias: str = "none", min_ratings: int = 0
    ) -> pd.DataFrame:
        """Nearest items (or users) by cosine in a model's learned embedding space.

        `debias`: "none"; "centred" (cosine after subtracting the mean vector); or
        "top-pc" (after also removing the first principal component, which in
        collaborative embeddings is mostly popularity: every popular movie points one way).
        `min_ratings`: leave out movies rated fewer times (their vectors are mostly noise)."""
        arrays, ds = self.arrays(model, f"{side}_embeddings"), self.ds
        if arrays is None:
            return pd.DataFrame()
        sims = cosine_to(debiased(arrays["vectors"], debias), item)
        sims[item] = -np.inf
        if side == "item" and min_ratings > 0:
            sims[ds.item_popularity < min_ratings] = -np.inf
        order = np.argsort(-sims, kind="stable")[:n]
        if side == "user":
            return pd.DataFrame({"user": ds.users["user_id"].to_numpy()[order], "cosine": np.round(sims[order], 3)})
        return self._movies(order, "cosine", sims[order])

    def also_liked(self, item: int, n: int = 10) -> pd.DataFrame:
        """ "People who liked this also liked": the item-item model's (EASE's) strongest
        weights from `item` to other movies (how much having `item` raises each)."""
        arrays = self.arrays("ease", "item_item")
        if arrays is None:
            return pd.DataFrame()
        items, weights = arrays["items"][item][:n], arrays["weights"][item][:n]
        keep = items >= 0
        return self._movies(items[keep], "weight", weights[keep])

    def _movies(self, order: np.ndarray, score: str, values: np.ndarray) -> pd.DataFrame:
        ds = self.ds
        return pd.DataFrame(
            {
                "title": ds.items["title"].to_numpy()[order],
                score: np.round(values.astype(float), 3),
                "ratings": ds.item_popularity[order],
                "genres": ds.items["genres"].to_numpy()[order],
            }
        )

    def embedding_map(self, model: str, side: str = "item") -> tuple[pd.DataFrame, np.ndarray] | None:
        """PCA coordinates with metadata for the scatter, and the explained variance ratios."""
        arrays, ds = self.arrays(model, f"{side}_embeddings"), self.ds
        if arrays is None:
            return None
        pca = arrays["pca"]
        df = pd.DataFrame({f"PC{j + 1}": pca[:, j] for j in range(pca.shape[1])})
        if side == "item":
            df["title"] = ds.items["title"].to_numpy()
            df["primary genre"] = primary_genre(ds)
            df["ratings"] = ds.item_popularity
            df["id"] = np.arange(ds.n_items)
        else:
            df["title"] = "user " + ds.users["user_id"].astype(str).to_numpy()
            df["primary genre"] = favourite_genre(ds)
            df["ratings"] = ds.user_activity
            df["id"] = np.arange(ds.n_users)
        return df, arrays["explained"]

    def projector_vectors(self, model: str) -> str:
        """vectors.tsv in the TensorBoard projector format (made when the download is asked for)."""
        arrays = self.arrays(model, "item_embeddings")
        if arrays is None:
            return ""
        return "\n".join("\t".join(f"{x:.6g}" for x in row) for row in arrays["vectors"]) + "\n"

    def projector_metadata(self) -> str:
        ds = self.ds
        meta = pd.DataFrame({"title": ds.items["title"], "genres": ds.items["genres"], "ratings": ds.item_popularity})
        return meta.to_csv(sep="\t", index=False)

    # ---------------------------------------------------------------- sweeps and runs

    def sweep_curves(self, sweep: Sweep) -> pd.DataFrame:
        """Per-epoch rows of every point of a sweep (its latest run), long format."""
        frames = []
        for label, cfg in sweep.configs(sweep.points_in(self.store, self.ds.fingerprint)):
            run = sweep_point_run(self.store, self.ds, sweep, cfg)
            if run is None:
                continue
            ep = pd.DataFrame(self.store.epochs(run["id"]))
            if ep.empty:
                continue
            ep["value"] = label
            ep["status"] = run["status"]
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
            m = r["metrics"].get("loo-uniform")
            if r["status"] == "done" and isinstance(m, dict):
                rows[r["label"]] = {"training order": r["label"], "HR@10": m["HR@10"], "NDCG@10": m["NDCG@10"]}
        if "by time" not in rows:
            return pd.DataFrame()
        blind = [
            r["metrics"]["loo-uniform"]["NDCG@10"]
            for name, r in self.shipped.items()
            if ZOO[name].family != "sequential" and isinstance(r["metrics"].get("loo-uniform"), dict)
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
            protocol = (r["meta"].get("protocols") or ["?"])[0]
            m = r["metrics"].get(protocol, {}) if isinstance(r["metrics"].get(protocol), dict) else {}
            epochs = self.store.epochs(r["id"])
            rows.append(
                {
                    "run": r["id"],
                    "model": r["model"],
                    "changes": r["label"],
                    "protocol": protocol,
                    "status": r["status"],
                    "HR@10": m.get("HR@10"),
                    "NDCG@10": m.get("NDCG@10"),
                    "RMSE": m.get("RMSE"),
                    "epochs": len(epochs),
                    "best_epoch": r["best_epoch"],
                    "s/epoch": float(np.mean([e["seconds"] for e in epochs])) if epochs else None,
                    "device": r["device"],
                    "started": pd.to_datetime(r["created"], unit="s"),
                    "message": r["error"] or "",
                }
            )
        return pd.DataFrame(rows)

    def model_runs(self, model: str) -> pd.DataFrame:
        """Every finished run of a model on this dataset (shipped, sweeps, my runs): the
        numeric config values that vary between them, and the validation metric at the best
        and at the last epoch, plus the test figure. The parallel-coordinates view."""
        rows = []
        for r in self.store.runs(model=model, fingerprint=self.ds.fingerprint):
            if r["status"] not in ("done", "diverged"):
                continue
            epochs = self.store.epochs(r["id"])
            if not epochs:
                continue
            monitor = "RMSE" if "RMSE" in epochs[-1] else "NDCG@10"
            best = epochs[r["best_epoch"] - 1] if r["best_epoch"] and r["best_epoch"] <= len(epochs) else epochs[-1]
            name, test = run_metric(r)
            row = {"run": r["id"], "source": r["sweep"] or "shipped", "status": r["status"]}
            for k, v in r["config"].items():
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


# ------------------------------------------------------------------ findings


@dataclass
class Finding:
    """One thing this dashboard found, computed from the store: a headline, the figures
    behind it (a small table to chart), the protocol they were measured under, and the page
    (with its link parameters) that shows the detail."""

    title: str
    text: str
    protocol: str
    table: pd.DataFrame
    page: str
    params: dict = field(default_factory=dict)


def findings(res: Results, sweeps: dict) -> list[Finding]:
    """What the store says about this dataset, in the order a demo tells it; a finding whose
    runs are not in the store yet is left out (never written by hand)."""
    out: list[Finding] = []
    board = res.leaderboard()
    ranking = board[board["protocol"] != "ratings"] if not board.empty else board
    for protocol in [p for p in RANKING if not ranking.empty and p in set(ranking["protocol"])]:
        sub = ranking[ranking["protocol"] == protocol].sort_values("NDCG@10", ascending=False)
        if len(sub) < 2:
            continue
        first, second = sub.iloc[0], sub.iloc[1]
        se, n = hr_standard_error(res.ds, float(first["HR@10"]))
        gap = float(first["HR@10"] - second["HR@10"])
        clear = gap > 2 * se
        verdict = "a clear lead" if clear else "within noise of each other (under two standard errors)"
        title = f"{first['model']} leads" if clear else f"{first['model']} and {second['model']} share the lead"
        out.append(
            Finding(
                f"{title} under {protocol}",
                f"{first['model']} ranks first by NDCG@10 ({first['NDCG@10']:.3f}); its HR@10 is {first['HR@10']:.3f} "
                f"against {second['model']}'s {second['HR@10']:.3f}: {gap:+.3f}, {verdict} (standard error {se:.3f} "
                f"over {n:,} users).",
                f"{protocol}: {describe(protocol)}",
                sub[["model", "HR@10", "NDCG@10"]].reset_index(drop=True),
                "app_pages/home.py",
            )
        )
    if not ranking.empty and {"mf", "ncf"} <= set(ranking["model"]):
        sub = ranking[(ranking["protocol"] == "loo-uniform") & ranking["model"].isin(["mf", "ncf"])]
        if len(sub) == 2:
            mf, ncf = (sub[sub["model"] == m].iloc[0] for m in ("mf", "ncf"))
            better = "beats" if mf["NDCG@10"] > ncf["NDCG@10"] else "does not beat"
            out.append(
                Finding(
                    f"Plain matrix factorisation {better} NeuMF",
                    f"MF: HR@10 {mf['HR@10']:.3f}, NDCG@10 {mf['NDCG@10']:.3f}; NeuMF: {ncf['HR@10']:.3f}, "
                    f"{ncf['NDCG@10']:.3f}. A well-tuned dot product holds its own against the MLP tower, as Rendle et "
                    "al. (2020) found.",
                    f"loo-uniform: {describe('loo-uniform')}",
                    sub[["model", "HR@10", "NDCG@10"]].reset_index(drop=True),
                    "app_pages/users.py",
                    {"model_a": "mf", "model_b": "ncf"},
                )
            )
    for model in ("mf", "ncf", "cdae", "ease"):
        runs = res.model_runs(model) if model != "ease" else pd.DataFrame()
        metric = "best-epoch valid NDCG@10"
        if runs.empty or "recency_half_life" not in runs or metric not in runs:
            continue
        off, on = runs[runs["recency_half_life"] == 0], runs[runs["recency_half_life"] > 0]
        if off.empty or on.empty:
            continue
        a, b = float(off[metric].max()), float(on[metric].max())
        out.append(
            Finding(
                f"Recency weights and {model}",
                f"Best validation NDCG@10 of {model} runs without recency weights {a:.3f}, with them {b:.3f} ({b - a:+.3f}):"
                " the latest interactions are held out, and recent taste predicts them.",
                "loo-uniform (validation item)",
                pd.DataFrame({"recency weights": ["off", "on"], "best valid NDCG@10": [a, b]}),
                "app_pages/sweeps.py",
                {"pc_model": model},
            )
        )
    for model in res.models_with("item_embeddings"):
        found = res.embedding_map(model)
        if found is None or model == "genre":
            continue
        df, explained = found
        neg, pos = component_ends(df, "PC1", 5)
        out.append(
            Finding(
                f"What the first direction of {model}'s movie map means",
                f"PC1 explains {explained[0]:.0%} of the variance. At one end: {', '.join(neg)}; at the other: "
                f"{', '.join(pos)}.",
                "train split of leave-one-out",
                pd.DataFrame({"one end": neg, "the other end": pos}),
                "app_pages/embeddings.py",
                {"map_model": model},
            )
        )
        break
    spread = []
    for sweep in sweeps.values():
        rows = [r for r in res.sweep_report(sweep) if r.get("status") == "done"]
        valid = [
            v for r in rows for k, v in r.items() if k.startswith("valid ") and k != "valid_loss" and v is not None
        ]
        if len(valid) >= 2:
            spread.append(
                {
                    "sweep": sweep.name,
                    "setting": sweep.param,
                    "spread of the validation metric": max(valid) - min(valid),
                }
            )
    if spread:
        table = pd.DataFrame(spread).sort_values("spread of the validation metric", ascending=False)
        top = table.iloc[0]
        out.append(
            Finding(
                "Which settings matter most",
                f"Across the sweeps run here, {top['setting']} ({top['sweep']}) moves the validation metric most: "
                f"{top['spread of the validation metric']:.3f} between its best and worst value.",
                "each sweep's own protocol, validation",
                table.reset_index(drop=True),
                "app_pages/sweeps.py",
                {"sweep": str(top["sweep"])},
            )
        )
    for sweep in sweeps.values():
        if not sweep.claim:
            continue
        best = next((r for r in res.sweep_report(sweep) if r.get("best")), None)
        if best is None:
            continue
        study = sweep.description.split(":")[0]
        out.append(
            Finding(
                f"{study[0].upper() + study[1:]}: {sweep.param}",
                f"The write-up: {sweep.claim}. Here, the best {sweep.param} on validation is {best['value']}.",
                sweep.protocol,
                pd.DataFrame(res.sweep_report(sweep))[["value", *[k for k in best if k.startswith("valid ")]]],
                "app_pages/sweeps.py",
                {"sweep": sweep.name},
            )
        )
    return out

"""The results reader: what the pages draw from the run store, for one dataset.

A `Results` resolves the shipped runs once (one query) and loads each artifact once (one
checksum), so the app keeps one per (dataset, store version) and a warm rerun of a page
does no query and no checksum. Every table a page shows from the store comes from here.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_core.catalog import MY_RUNS, ZOO, changed, required_files, run_key, shipped_runs
from recsys_core.data import Dataset
from recsys_core.data.summary import favourite_genre, primary_genre
from recsys_core.embeddings import component_story, debiased, neighbour_quality, neighbours
from recsys_core.metrics import Ranks
from recsys_core.paired import Paired, holm, paired
from recsys_core.protocols import TEMPORAL
from recsys_core.splits import MIN_LOO_HISTORY, RANKING
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
        self._gaps: dict[tuple, list] = {}

    # ---------------------------------------------------------------- artifacts

    def arrays(self, model: str, name: str) -> dict | None:
        """An artifact of a shipped model ("ncf") or of a stored run ("run:12"), checksummed
        once and checked again (size and modification time) each time it is asked for; None
        when not built (a run's artifacts are made on first use), damaged or corrupt."""
        run = self.run_of(model)
        if run is None:
            return None
        if (model, name) in self._arrays and not self.store.intact(run["key"], f"{name}.npz"):
            del self._arrays[model, name]  # damaged since it was read: never shown
        if (model, name) not in self._arrays:
            found = self.store.load_arrays(run["key"], name)
            if found is None:
                return None  # not made yet (or broken): looked for again next time
            self._arrays[model, name] = found
        return self._arrays[model, name]

    def models_with(self, artifact: str) -> list[str]:
        """Shipped models whose artifact `artifact` (e.g. 'item_embeddings') is intact."""
        return [m for m in self.shipped if self.arrays(m, artifact) is not None]

    def broken(self) -> list[str]:
        """Shipped models whose run is done but whose top-k lists or weights fail their
        checksum (checked each time, cheaply): they are rebuilt (the sidebar's build job), and
        said to be, wherever they would appear."""
        return [
            m
            for m, r in self.shipped.items()
            if r["status"] == "done" and not self.store.has_artifacts(r["key"], required_files(m))
        ]

    def shipped_run(self, model: str) -> dict | None:
        return self.shipped.get(model)

    # ---------------------------------------------------------------- trained runs

    @cached_property
    def trained(self) -> dict[str, dict]:
        """ "run:<id>" -> every other finished run on this dataset that can be used on the
        pages (Train page, sweep points, CLI `train`), newest first. A run whose weights turn
        out missing or corrupt says so when it is picked (`runs.load_model`)."""
        shipped_ids = {r["id"] for r in (*self.shipped.values(), *self.temporal.values())}
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
        usable trained run: your own (Train page, CLI) newest first, then each sweep's points
        together (`with_embeddings`: only models that learn embeddings)."""
        runs = [c for c, r in self.trained.items() if not with_embeddings or r["model"] not in ("popularity", "ease")]
        runs.sort(key=lambda c: (self.trained[c]["sweep"] not in (None, MY_RUNS), self.trained[c]["sweep"] or ""))
        return [*self.models_with(artifact), *runs]

    def label(self, choice: str) -> str:
        """'ncf' for a shipped model; 'run 12 · mf · dim=16, lr=0.01 · 11-30 14:02' for your own
        run, '... · sweep mf-lr' for a sweep point: the run and model first, so a narrow picker
        still shows what tells runs apart."""
        run = self.trained.get(choice)
        if run is None:
            return choice
        when = pd.to_datetime(run["created"], unit="s").strftime("%m-%d %H:%M")
        source = when if run["sweep"] in (None, MY_RUNS) else f"sweep {run['sweep']}"
        return f"run {run['id']} · {run['model']} · {run['label'] or 'defaults'} · {source}"

    # ---------------------------------------------------------------- leaderboard

    @cached_property
    def temporal(self) -> dict[str, dict]:
        """name -> the finished run of each shipped model under the temporal split."""
        return shipped_runs(self.store, self.ds, TEMPORAL)

    def ranks(self, model: str, protocol: str) -> Ranks | None:
        """Per-user ranks of a shipped model ("ncf") or stored run ("run:12") under a ranking
        protocol, from its `ranks.npz`; None when not stored (a run from before they were
        kept: the next build stores them)."""
        if protocol == TEMPORAL and not model.startswith("run:"):
            run = self.temporal.get(model)
            arrays = self.store.load_arrays(run["key"], "ranks") if run else None
        else:
            arrays = self.arrays(model, "ranks")
        if arrays is None or f"{protocol}__ranks" not in arrays:
            return None
        return Ranks(*(arrays[f"{protocol}__{part}"] for part in ("users", "items", "ranks")))

    def paired(self, a: str, b: str, protocol: str, metric: str = "NDCG@10", resamples: int = 2_000) -> Paired | None:
        """The paired test of two models on the same users (None without both ranks)."""
        ra, rb = self.ranks(a, protocol), self.ranks(b, protocol)
        if ra is None or rb is None:
            return None
        return paired(ra, rb, metric, (a, b), protocol, resamples)

    def gaps(self, protocol: str, order: list[str], metric: str = "NDCG@10") -> list[dict | None]:
        """For a board sorted best first: each model's paired test against the next one down,
        Holm-adjusted over the board (None where a model's ranks are not stored, and last).
        Computed once per store version and shared by every session (the app keeps one
        Results per version): 8 viewers on Home would otherwise bootstrap the board 8 times."""
        key = (protocol, tuple(order), metric)
        if key not in self._gaps:
            self._gaps[key] = self._board_gaps(protocol, order, metric)
        return self._gaps[key]

    def _board_gaps(self, protocol: str, order: list[str], metric: str) -> list[dict | None]:
        tests = [self.paired(a, b, protocol, metric) for a, b in zip(order, order[1:])]
        found = [t for t in tests if t is not None]
        adjusted = iter(holm([t.p_value for t in found])) if found else iter(())
        out: list[dict | None] = []
        for t in tests:
            if t is None:
                out.append(None)
                continue
            p_holm = float(next(adjusted))
            sure = p_holm < 0.05 and not (t.ci95[0] <= 0 <= t.ci95[1])
            out.append({"test": t, "p_holm": p_holm, "significant": sure})
        return [*out, None]

    def leaderboard(self) -> pd.DataFrame:
        """One row per (model, protocol) of the shipped models (full ranking first; the
        temporal split's rows from its own runs)."""
        rows = []
        runs = [(name, run, [*RANKING, "ratings"]) for name, run in self.shipped.items()]
        runs += [(name, run, [TEMPORAL]) for name, run in self.temporal.items()]
        for name, run, protocols in runs:
            m = run["metrics"]
            for p in protocols:
                if p not in m:
                    continue
                fit_key = {"ratings": "fit_ratings", TEMPORAL: "fit_temporal"}.get(p, "fit")
                seconds = m.get("seconds", {}).get(fit_key)
                rows.append(
                    {"model": name, "protocol": p, **m[p], "train_seconds": seconds, "status": run["status"]}
                    | {"built": run["finished"]}
                )
        if not rows:
            return pd.DataFrame()
        df = pd.DataFrame(rows)
        df["built"] = pd.to_datetime(df["built"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
        df["task"] = [ZOO[m].task if m in ZOO else "ranking" for m in df["model"]]
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
        floor = min_ratings if side == "item" else 0
        order, sims = neighbours(debiased(arrays["vectors"], debias), item, n, ds.item_popularity, floor)
        if side == "user":
            return pd.DataFrame({"user": ds.users["user_id"].to_numpy()[order], "cosine": np.round(sims, 3)})
        return self._movies(order, "cosine", sims)

    def neighbour_quality(self, model: str) -> pd.DataFrame:
        """How good each neighbour variant of a model's item vectors is (and EASE's), over the
        panel of well-known movies: `embeddings.neighbour_quality`."""
        arrays, ds = self.arrays(model, "item_embeddings"), self.ds
        years = ds.items["year"].to_numpy(dtype=np.float64) if "year" in ds.items else None
        genres = ds.genre_matrix if ds.has_genres else None
        return neighbour_quality(
            None if arrays is None else arrays["vectors"],
            ds.item_popularity,
            genres,
            years,
            self.arrays("ease", "item_item"),
        )

    def map_story(self, df: pd.DataFrame, component: str):
        """What a movie map's component separates: correlations with popularity (log ratings),
        mean rating and year, and the genres at each end (`embeddings.component_story`)."""
        ds = self.ds
        mean_rating = ds.ratings.groupby("item")["rating"].mean().reindex(range(ds.n_items)).to_numpy()
        features = {"popularity (log ratings)": np.log1p(ds.item_popularity), "mean rating": mean_rating}
        if "year" in ds.items:
            features["release year"] = ds.items["year"].to_numpy(dtype=np.float64)
        genres = pd.DataFrame(ds.genre_matrix, columns=ds.genres) if ds.has_genres else None
        return component_story(df, component, features, genres)

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

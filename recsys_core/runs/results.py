"""The results reader: what the pages draw from the run store, for one dataset.

A `Results` resolves the shipped runs once (one query) and loads each artifact once (one
checksum), so the app keeps one per (dataset, store version) and a warm rerun of a page
does no query and no checksum. Every table a page shows from the store comes from here.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from recsys_core.data import Dataset
from recsys_core.data.summary import favourite_genre, primary_genre
from recsys_core.evaluation.metrics import Ranks
from recsys_core.evaluation.paired import Paired, holm, paired
from recsys_core.evaluation.protocols import RANKING, TEMPORAL
from recsys_core.evaluation.splits import MIN_LOO_HISTORY
from recsys_core.runs.catalog import MY_RUNS, ZOO, required_files, shipped_runs
from recsys_core.runs.embeddings import component_story, debiased, neighbour_quality, neighbours
from recsys_core.runs.record import Run
from recsys_core.runs.reports import RunReports
from recsys_core.runs.store import Store


def hr_standard_error(ds: Dataset, hr: float) -> tuple[float, int]:
    """(standard error of a leave-one-out HR@k of `hr`, number of evaluated users): one
    held-out item per user with at least 3 interactions, a binomial proportion."""
    n = int((ds.user_activity >= MIN_LOO_HISTORY).sum())
    return (float(np.sqrt(hr * (1 - hr) / n)) if n else float("nan")), n


class Results(RunReports):
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
        if (model, name) in self._arrays and not self.store.intact(run.key, f"{name}.npz"):
            del self._arrays[model, name]  # damaged since it was read: never shown
        if (model, name) not in self._arrays:
            found = self.store.load_arrays(run.key, name)
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
            if r.status == "done" and not self.store.has_artifacts(r.key, required_files(m))
        ]

    def shipped_run(self, model: str) -> Run | None:
        return self.shipped.get(model)

    # ---------------------------------------------------------------- trained runs

    @cached_property
    def trained(self) -> dict[str, Run]:
        """ "run:<id>" -> every other finished run on this dataset that can be used on the
        pages (Train page, sweep points, CLI `train`), newest first. A run whose weights turn
        out missing or corrupt says so when it is picked (`artifacts.load_model`); one whose
        weights a later run of its settings replaced is not offered (`Store.replaced`: its
        lists and weights are the later run's, which is offered)."""
        shipped_ids = {r.id for r in (*self.shipped.values(), *self.temporal.values())}
        out = {}
        for r in reversed(self.store.runs(fingerprint=self.ds.fingerprint, status="done")):
            if r.id in shipped_ids or r.model not in ZOO or self.store.replaced(r):
                continue
            out[f"run:{r.id}"] = r
        return out

    def run_of(self, choice: str) -> Run | None:
        """The run behind a picker's choice: a shipped model's name or "run:<id>"."""
        return self.trained.get(choice) if choice.startswith("run:") else self.shipped.get(choice)

    def choices(self, artifact: str, with_embeddings: bool = False) -> list[str]:
        """What a model picker offers: the shipped models with `artifact` intact, then every
        usable trained run: your own (Train page, CLI) newest first, then each sweep's points
        together (`with_embeddings`: only models that learn embeddings)."""
        runs = [c for c, r in self.trained.items() if not with_embeddings or r.model not in ("popularity", "ease")]
        runs.sort(key=lambda c: (self.trained[c].sweep not in (None, MY_RUNS), self.trained[c].sweep or ""))
        return [*self.models_with(artifact), *runs]

    def label(self, choice: str) -> str:
        """'ncf' for a shipped model; 'run 12 · mf · dim=16, lr=0.01 · 11-30 14:02' for your own
        run, '... · sweep mf-lr' for a sweep point: the run and model first, so a narrow picker
        still shows what tells runs apart."""
        run = self.trained.get(choice)
        if run is None:
            return choice
        when = pd.to_datetime(run.created, unit="s").strftime("%m-%d %H:%M")
        source = when if run.sweep in (None, MY_RUNS) else f"sweep {run.sweep}"
        return f"run {run.id} · {run.model} · {run.label or 'defaults'} · {source}"

    # ---------------------------------------------------------------- leaderboard

    @cached_property
    def temporal(self) -> dict[str, Run]:
        """name -> the finished run of each shipped model under the temporal split."""
        return shipped_runs(self.store, self.ds, TEMPORAL)

    def ranks(self, model: str, protocol: str) -> Ranks | None:
        """Per-user ranks of a shipped model ("ncf") or stored run ("run:12") under a ranking
        protocol, from its `ranks.npz`; None when not stored (a run from before they were
        kept: the next build stores them)."""
        if protocol == TEMPORAL and not model.startswith("run:"):
            run = self.temporal.get(model)
            arrays = self.store.load_arrays(run.key, "ranks") if run else None
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

    def blend_weights(self, model: str = "blend", protocol: str | None = None) -> tuple[dict[str, float], dict] | None:
        """(component -> weight, the validation figures that picked them) of a stored blend's
        run (its one history row; `protocol="temporal"`: the shipped blend's run of that split,
        whose weights its own validation window picked), or None when it has not been built."""
        run = self.temporal.get(model) if protocol == TEMPORAL else self.run_of(model)
        if run is None or run.model != "blend":
            return None
        rows = self.store.epochs(run.id)
        if not rows:
            return None
        row = rows[-1]
        weights = {k.removeprefix("w_"): float(v) for k, v in row.items() if k.startswith("w_")}
        picked = {k: row[k] for k in ("HR@10", "NDCG@10", "tried") if k in row}
        return weights, picked

    def leaderboard(self) -> pd.DataFrame:
        """One row per (model, protocol) of the shipped models (full ranking first; the
        temporal split's rows from its own runs)."""
        rows = []
        runs = [(name, run, [*RANKING, "ratings"]) for name, run in self.shipped.items()]
        runs += [(name, run, [TEMPORAL]) for name, run in self.temporal.items()]
        for name, run, protocols in runs:
            m = run.metrics
            for p in protocols:
                if p not in m:
                    continue
                fit_key = {"ratings": "fit_ratings", TEMPORAL: "fit_temporal"}.get(p, "fit")
                seconds = m.get("seconds", {}).get(fit_key)
                rows.append(
                    {"model": name, "protocol": p, **m[p], "train_seconds": seconds, "status": run.status}
                    | {"built": run.finished}
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

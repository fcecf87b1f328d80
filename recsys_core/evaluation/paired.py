"""Is a gap real, and for whom: paired comparison of two models on the same users, Holm's
correction over a board, and segments of users and items.

Everything works on per-user ranks (`evaluation.Ranks`), so no model is loaded:
- `per_user(ranks, "NDCG@10")`: each evaluated user's figure.
- `paired(a, b)`: the mean difference, a seeded paired bootstrap 95 % interval (10,000
  resamples of users by default), the Wilcoxon signed-rank p-value (two-sided; zero
  differences dropped, as Wilcoxon's test does; p = 1 when every difference is zero) and
  how many users A wins, ties and loses. Elliot and RecList report the same tests.
- `holm(p_values)`: Holm's step-down adjustment over a family of tests (a leaderboard's
  adjacent gaps), which keeps the chance of any false "significant" at alpha.
- `segments(kind, ...)`: users by history length (quartiles of training interactions), the
  held-out item's popularity (head: the most-interacted items that make up 20 % of the
  training interactions; tail: the least-interacted that make up 20 %; mid: the rest), and
  how recently a user was active (quartiles of days from their last training interaction
  to the test: the end of the data under leave-one-out, the test cut-off under temporal).
  Each segment is a set of target rows; together they partition the rows they are made from.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from recsys_core.data import Dataset
from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError
from recsys_core.evaluation.metrics import Ranks, popularity_groups
from recsys_core.evaluation.protocols import TEMPORAL
from recsys_core.evaluation.splits import loo_split
from recsys_core.evaluation.temporal import temporal_split

PER_USER = ("HR", "NDCG", "Recall", "Precision", "MRR", "MAP")
RESAMPLES = 10_000
ALPHA = 0.05
SEGMENT_KINDS = ("activity", "popularity", "recency")
GROUP_NAMES = ("head", "mid", "tail")


def parse_metric(metric: str, max_k: int = 10_000) -> tuple[str, int]:
    """('NDCG', 10) from 'NDCG@10'; ConfigError naming the per-user metrics for anything else."""
    m = re.fullmatch(r"([A-Za-z]+)@(\d+)", metric.strip())
    names = {n.lower(): n for n in PER_USER}
    if not m or m.group(1).lower() not in names or not 1 <= int(m.group(2)) <= max_k:
        raise ConfigError(
            f"metric {metric!r}: a paired test needs a per-user ranking metric, one of "
            f"{', '.join(n + '@K' for n in PER_USER)} (K from 1 to {max_k}); coverage, novelty and the other "
            "list figures are not per user"
        )
    return names[m.group(1).lower()], int(m.group(2))


def per_user(ranks: Ranks, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(users, each user's `metric`) from a protocol's per-user ranks."""
    name, k = parse_metric(metric)
    users, values = ranks.per_user(k)
    return users, values[f"{name}@{k}"]


@dataclass
class Paired:
    a: str
    b: str
    metric: str
    protocol: str
    mean_a: float
    mean_b: float
    diff: float  # mean of a - b over the paired users
    ci95: tuple[float, float]
    p_value: float
    wins: int  # users where a's figure is higher
    ties: int
    losses: int
    users: int

    def to_json(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA and not (self.ci95[0] <= 0 <= self.ci95[1])

    def verdict(self) -> str:
        """Who is ahead and how sure, in words: read the same whichever model is ahead."""
        if not self.significant:
            return (
                f"{self.a} and {self.b} are within noise of each other on {self.metric} ({self.diff:+.4f}, 95% interval "
                f"{self.ci95[0]:+.4f} to {self.ci95[1]:+.4f}, Wilcoxon p = {self.p_value:.3g}, {self.users:,} users)"
            )
        ahead, behind = (self.a, self.b) if self.diff > 0 else (self.b, self.a)
        lo, hi = sorted((abs(self.ci95[0]), abs(self.ci95[1])))
        return (
            f"{ahead} is ahead of {behind} on {self.metric} by {abs(self.diff):.4f} (95% interval {lo:.4f} to {hi:.4f}, "
            f"Wilcoxon p = {self.p_value:.3g}, {self.users:,} users)"
        )


def paired_test(x: np.ndarray, y: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Paired statistics of per-user figures `x` and `y` (same users, same order)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError("paired figures need the same users")
    d = x - y
    n = len(d)
    if n == 0:
        raise ConfigError("no user is evaluated under both: nothing to pair")
    boot = np.empty(resamples)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // max(n, 1))  # resamples at a time: bounded memory
    for s in range(0, resamples, chunk):
        e = min(s + chunk, resamples)
        boot[s:e] = d[rng.integers(0, n, size=(e - s, n))].mean(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    if np.all(d == 0):
        p = 1.0
    else:
        p = float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return {
        "mean_a": float(x.mean()),
        "mean_b": float(y.mean()),
        "diff": float(d.mean()),
        "ci95": (float(lo), float(hi)),
        "p_value": p,
        "wins": int((d > 0).sum()),
        "ties": int((d == 0).sum()),
        "losses": int((d < 0).sum()),
        "users": n,
    }


def paired(
    a: Ranks,
    b: Ranks,
    metric: str = "NDCG@10",
    names: tuple[str, str] = ("a", "b"),
    protocol: str = "",
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Paired:
    """The paired comparison of two models' per-user `metric` on the users both evaluated."""
    ua, xa = per_user(a, metric)
    ub, xb = per_user(b, metric)
    common, ia, ib = np.intersect1d(ua, ub, assume_unique=True, return_indices=True)
    if len(common) == 0:
        raise ConfigError(f"{names[0]} and {names[1]} share no evaluated user: were they evaluated on the same split?")
    found = paired_test(xa[ia], xb[ib], resamples, seed)
    return Paired(names[0], names[1], metric, protocol, **found)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


# ------------------------------------------------------------------ segments


def segment_context(ds: Dataset, protocol: str) -> tuple[Interactions, object]:
    """(the training rows, the test's reference time) that segments are made from."""
    if protocol == TEMPORAL:
        ts = temporal_split(ds)
        return ts.train, ts.cut_test
    return loo_split(ds).train, int(ds.ratings["timestamp"].max())


def segments(kind: str, ranks: Ranks, train: Interactions, reference_time) -> list[tuple[str, np.ndarray]]:
    """(label, mask over `ranks`' rows) per segment of `kind` (see the module docstring).
    `train`: the rows the model trained on; `reference_time`: the test's time, a scalar
    (temporal: the test cut-off) or one per user (leave-one-out: the end of the data)."""
    if kind not in SEGMENT_KINDS:
        raise ConfigError(f"unknown segment {kind!r}: choose one of {', '.join(SEGMENT_KINDS)}")
    if kind == "popularity":
        groups = popularity_groups(train.item_counts)[ranks.items]
        return [(f"{name} items", groups == j) for j, name in enumerate(GROUP_NAMES)]
    if kind == "activity":
        value = train.user_counts[ranks.users].astype(np.float64)
        return _quartiles(ranks.users, value, "training interactions", ("fewest", "most"))
    last = np.full(train.n_users, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, train.users, train.timestamps)
    ref = np.broadcast_to(np.asarray(reference_time, dtype=np.int64), (train.n_users,))
    days = (ref[ranks.users] - last[ranks.users]) / 86_400
    return _quartiles(ranks.users, days, "days since last active", ("most recent", "least recent"))


def _quartiles(users: np.ndarray, value: np.ndarray, unit: str, ends: tuple[str, str]) -> list[tuple[str, np.ndarray]]:
    """Users split into four groups of (nearly) equal size by `value` (one value per row, the
    same for a user's rows), labelled with their range."""
    uniq, first = np.unique(users, return_index=True)
    v = value[first]
    order = np.lexsort((uniq, v))
    quarter = np.empty(len(uniq), dtype=np.int64)
    quarter[order] = np.arange(len(uniq)) * 4 // max(len(uniq), 1)
    of_row = quarter[np.searchsorted(uniq, users)]
    out = []
    for q in range(4):
        vs = v[quarter == q]
        if not len(vs):
            continue
        end = f" ({ends[0]})" if q == 0 else f" ({ends[1]})" if q == 3 else ""
        out.append((f"Q{q + 1}{end}: {vs.min():,.0f}-{vs.max():,.0f} {unit}", of_row == q))
    return out


def subset(ranks: Ranks, mask: np.ndarray) -> Ranks:
    return Ranks(ranks.users[mask], ranks.items[mask], ranks.ranks[mask])


def segment_table(
    kind: str,
    ranks: dict[str, Ranks],
    train: Interactions,
    reference_time,
    metric: str = "NDCG@10",
    pair: tuple[str, str] | None = None,
    resamples: int = 2_000,
) -> list[dict]:
    """One row per segment: its users and targets, each model's mean `metric` in it, and
    with `pair` the paired test of those two models inside the segment (fewer resamples:
    one interval per segment). Segments are made from the first model's rows; every model
    was evaluated on the same targets."""
    first = next(iter(ranks.values()))
    rows = []
    for label, mask in segments(kind, first, train, reference_time):
        keys = first.users[mask] * train.n_items + first.items[mask]
        parts = {name: subset(r, np.isin(r.users * train.n_items + r.items, keys)) for name, r in ranks.items()}
        row = {"segment": label, "users": int(len(np.unique(first.users[mask]))), "targets": int(mask.sum())}
        for name, r in parts.items():
            row[name] = float(per_user(r, metric)[1].mean()) if len(r.users) else float("nan")
        if pair is not None and row["users"] >= 2:
            p = paired(parts[pair[0]], parts[pair[1]], metric, pair, resamples=resamples)
            row |= {"diff": p.diff, "ci95": p.ci95, "p_value": p.p_value, "significant": p.significant}
        rows.append(row)
    return rows

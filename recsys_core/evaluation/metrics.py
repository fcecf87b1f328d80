"""Ranking, rating and beyond-accuracy metrics, vectorised over users (numpy).

Ranking metrics work on a `hits` matrix [n_users, K] (True where the item at that list
position is relevant) and the number of relevant items per user. Sampled protocols
(one positive among candidates) get their hits from the positive's rank.

Ties: a tie is never resolved in the positive item's favour. The positive takes a uniformly
random place (seeded) among the candidates scored the same as it, so a model that scores
every item the same gets HR@10 of about 10/100 under `loo-*`, not 1.0 (and not 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def positive_rank(scores: np.ndarray, valid: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """0-based rank of column 0 (the positive) among the valid columns of each row; ties
    with the positive put it at a random place among them (it never wins a tie).

    scores: [n_users, 1 + C]; valid: same shape, False for padded candidates.
    """
    return ranks_from_counts(*rank_counts(scores, valid), seed=seed)


def rank_counts(scores: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(how many valid candidates score above the positive, how many tie with it) per row."""
    pos = scores[:, :1]
    others = scores[:, 1:]
    ok = np.ones_like(others, dtype=bool) if valid is None else valid[:, 1:]
    return ((others > pos) & ok).sum(1), ((others == pos) & ok).sum(1)


def ranks_from_counts(greater: np.ndarray, ties: np.ndarray, seed: int = 0) -> np.ndarray:
    """Ranks from `rank_counts`, ties broken by one seeded draw per row (so rows counted in
    batches get the same ranks as rows counted at once)."""
    rng = np.random.default_rng(seed)
    return greater + np.floor(rng.random(len(greater)) * (ties + 1)).astype(np.int64)


def hits_from_rank(rank: np.ndarray, k: int) -> np.ndarray:
    """[n_users, k] hits for one relevant item per user at 0-based `rank`."""
    return np.arange(k)[None, :] == rank[:, None]


def ranking_metrics(hits: np.ndarray, n_relevant: np.ndarray | int = 1) -> dict[str, float]:
    """HR@K, NDCG@K, Recall@K, Precision@K, MRR@K and MAP@K from a hits matrix [U, K]: the
    means over users of `per_user_metrics`."""
    return {name: float(v.mean()) if len(v) else float("nan") for name, v in per_user_metrics(hits, n_relevant).items()}


def per_user_metrics(hits: np.ndarray, n_relevant: np.ndarray | int = 1) -> dict[str, np.ndarray]:
    """Each user's HR@K, NDCG@K, Recall@K, Precision@K, MRR@K and MAP@K (float64 [U]) from a
    hits matrix [U, K] and the number of relevant items per user: what a paired test pairs."""
    hits = hits.astype(bool)
    n_users, k = hits.shape
    n_rel = np.broadcast_to(np.asarray(n_relevant, dtype=np.float64), (n_users,))
    n_rel_safe = np.maximum(n_rel, 1)
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = (hits * discounts).sum(1)
    ideal_len = np.minimum(n_rel, k).astype(np.int64)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_len]
    n_hits = hits.sum(1)
    first = np.where(hits.any(1), hits.argmax(1), -1)
    precision_at = np.cumsum(hits, 1) / np.arange(1, k + 1)
    return {
        f"HR@{k}": hits.any(1).astype(np.float64),
        f"NDCG@{k}": np.where(idcg > 0, dcg / np.maximum(idcg, 1e-12), 0.0),
        f"Recall@{k}": n_hits / n_rel_safe,
        f"Precision@{k}": n_hits / k,
        f"MRR@{k}": np.divide(1.0, first + 1.0, out=np.zeros(n_users), where=first >= 0),
        f"MAP@{k}": (precision_at * hits).sum(1) / np.maximum(np.minimum(n_rel, k), 1),
    }


def hits_from_ranks(rows: np.ndarray, ranks: np.ndarray, n_rows: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(hits [n_rows, k], relevant items per row) from one 0-based rank per relevant item:
    `rows[j]` is the row (user) of relevant item j, `ranks[j]` its place in that row's list."""
    hits = np.zeros((n_rows, k), dtype=bool)
    top = ranks < k
    hits[rows[top], ranks[top]] = True
    return hits, np.bincount(rows, minlength=n_rows)


@dataclass
class Ranks:
    """Per-user ranks of one ranking protocol: `ranks[j]` is the 0-based place of held-out
    item `items[j]` in user `users[j]`'s list (one per user under leave-one-out, every
    window interaction under `temporal`)."""

    users: np.ndarray  # int64, sorted
    items: np.ndarray  # int64
    ranks: np.ndarray  # int64

    def per_user(self, k: int = 10) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(the users, each user's metric@k arrays), users in ascending order."""
        users, rows = np.unique(self.users, return_inverse=True)
        hits, n_rel = hits_from_ranks(rows, self.ranks, len(users), k)
        return users, per_user_metrics(hits, n_rel)


def auc(scores: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Share of sampled negatives the positive (column 0) outranks, ties counting half
    (the CDAE study's pairwise test), averaged over users."""
    pos, others = scores[:, :1], scores[:, 1:]
    ok = np.ones_like(others, dtype=bool) if valid is None else valid[:, 1:]
    wins = ((others < pos) & ok).sum(1) + 0.5 * ((others == pos) & ok).sum(1)
    return float((wins / np.maximum(ok.sum(1), 1)).mean())


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, np.float64) - true) ** 2)))


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(pred, np.float64) - true)))


# ------------------------------------------------------------------ beyond accuracy (top-K lists)


def coverage(topk: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    items = topk[topk >= 0]
    return float(len(np.unique(items)) / n_items)


def diversity(topk: np.ndarray, item_features: np.ndarray | None) -> float:
    """Intra-list diversity: 1 - mean pairwise cosine of the items' genre vectors, averaged
    over lists. NaN when there are no genres. Items without genres count as dissimilar."""
    if item_features is None or item_features.shape[1] == 0 or topk.shape[1] < 2:
        return float("nan")
    f = item_features.astype(np.float64)
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    unit = np.divide(f, norms, out=np.zeros_like(f), where=norms > 0)
    v = unit[np.maximum(topk, 0)]  # [U, K, G]
    sims = np.einsum("ukg,ulg->ukl", v, v)
    k = topk.shape[1]
    off = ~np.eye(k, dtype=bool)
    mean_sim = sims[:, off].mean(1)
    return float((1.0 - mean_sim).mean())


def novelty(topk: np.ndarray, item_counts: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2(p(i)) of recommended items, p(i) = share of users who
    interacted with i (an unseen item counts as one interaction)."""
    p = np.maximum(item_counts[topk], 1) / max(n_users, 1)
    return float(np.mean(-np.log2(p)))


def mean_popularity(topk: np.ndarray, item_counts: np.ndarray) -> float:
    """Mean number of train interactions of recommended items."""
    return float(np.mean(item_counts[topk]))


def gini(topk: np.ndarray, n_items: int) -> float:
    """Gini coefficient of how often each catalogue item is recommended (0 = equal exposure,
    1 = one item gets it all)."""
    counts = np.sort(np.bincount(topk[topk >= 0].ravel(), minlength=n_items)).astype(np.float64)
    if counts.sum() == 0:
        return 0.0
    n = len(counts)
    index = np.arange(1, n + 1)
    return float((2 * (index * counts).sum() / (n * counts.sum())) - (n + 1) / n)


def popularity_groups(item_counts: np.ndarray, share: float = 0.2) -> np.ndarray:
    """0 (head), 1 (mid) or 2 (tail) per item: the head is the most-interacted items that
    together make up `share` of the interactions, the tail the least-interacted ones that
    make up `share` (items never interacted with among them), the rest mid. Ties in count
    go to the same group as the item before them in a stable order (by count, then id)."""
    counts = np.asarray(item_counts, dtype=np.float64)
    order = np.argsort(-counts, kind="stable")
    total = max(counts.sum(), 1.0)
    before = np.concatenate([[0.0], np.cumsum(counts[order])[:-1]]) / total  # share of items ahead of it
    after = 1.0 - (before + counts[order] / total)  # share of items behind it
    groups = np.ones(len(counts), dtype=np.int64)
    groups[order[before < share]] = 0
    groups[order[(after < share - 1e-12) & (before >= share)]] = 2
    return groups


def _row_normalised(rows: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows that sum to 0 stay 0)."""
    s = rows.sum(1, keepdims=True)
    return np.divide(rows, s, out=np.zeros_like(rows, dtype=np.float64), where=s > 0)


def genre_calibration(topk: np.ndarray, history, item_features, alpha: float = 0.01) -> float:
    """Steck (RecSys 2018): mean over users of KL(p || q~), p the genre mix of the user's
    history (each item's genres share its weight), q that of their list, q~ = (1 - alpha) q +
    alpha p so that it is defined where the list misses a genre. 0: the list matches the
    user's mix; NaN without genres."""
    if item_features is None or item_features.shape[1] == 0:
        return float("nan")
    f = np.asarray(item_features, dtype=np.float64)
    f = _row_normalised(f)  # each item's genres sum to 1 (or 0 without genres)
    counts = np.asarray(history.sum(1)).ravel()
    p = np.asarray(history @ f) / np.maximum(counts, 1)[:, None]
    q = f[np.maximum(topk, 0)].mean(1)
    keep = (counts > 0) & (p.sum(1) > 0)
    p, q = p[keep], q[keep]
    q_tilde = (1 - alpha) * q + alpha * p
    return float(_kl(p, q_tilde, np.log).mean()) if len(p) else float("nan")


def popularity_calibration(topk: np.ndarray, history, item_counts: np.ndarray) -> float:
    """User-centred popularity calibration (Abdollahpouri et al. 2021): mean over users of the
    Jensen-Shannon divergence (base 2, 0 to 1) between the head/mid/tail mix of the user's
    history and that of their list. 0: the list is as mainstream as the user."""
    groups = popularity_groups(item_counts)
    onehot = np.eye(3)[groups]
    counts = np.asarray(history.sum(1)).ravel()
    p = np.asarray(history @ onehot) / np.maximum(counts, 1)[:, None]
    q = onehot[np.maximum(topk, 0)].mean(1)
    keep = counts > 0
    p, q = p[keep], q[keep]
    m = (p + q) / 2
    return float((0.5 * _kl(p, m, np.log2) + 0.5 * _kl(q, m, np.log2)).mean()) if len(p) else float("nan")


def _kl(p: np.ndarray, q: np.ndarray, log) -> np.ndarray:
    """Row-wise KL(p || q), 0 log 0 = 0 (q > 0 wherever p > 0 in every use here)."""
    ok = (p > 0) & (q > 0)
    ratio = np.divide(p, q, out=np.ones_like(p), where=ok)
    return (p * log(ratio, out=np.zeros_like(p), where=ok)).sum(1)


def beyond_accuracy(
    topk: np.ndarray, item_counts: np.ndarray, n_users: int, item_features, history=None
) -> dict[str, float]:
    """Coverage, diversity, novelty, mean popularity and Gini of the lists; with `history`
    (the evaluated users' training rows, a CSR aligned with `topk`) also the genre and
    popularity calibration against each user's own history."""
    n_items = len(item_counts)
    out = {
        "coverage": coverage(topk, n_items),
        "diversity": diversity(topk, item_features),
        "novelty": novelty(topk, item_counts, n_users),
        "mean_popularity": mean_popularity(topk, item_counts),
        "gini": gini(topk, n_items),
    }
    if history is not None:
        out["genre_calibration"] = genre_calibration(topk, history, item_features)
        out["popularity_calibration"] = popularity_calibration(topk, history, item_counts)
    return out

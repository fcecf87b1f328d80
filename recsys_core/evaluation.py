"""Evaluate any `Recommender` under a protocol: the one place figures are computed.

Ranking protocols (`loo-uniform`, `loo-popularity`, `full`) score the held-out test item
against its candidates; beyond-accuracy metrics (coverage, diversity, novelty, mean
popularity, Gini) are always computed on the full-ranking top-K lists of the evaluated
users (train items excluded), the lists the dashboard shows. Rating protocols compute RMSE
and MAE for models that predict ratings.
"""

from __future__ import annotations

import numpy as np
import torch

from recsys_core import metrics as M
from recsys_core.models.base import Recommender
from recsys_core.splits import Interactions, LooSplit

BATCH = 1024


@torch.no_grad()
def candidate_scores(model: Recommender, users: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """model scores for [users, candidates]; padded candidates (-1) get -inf."""
    out = np.empty(candidates.shape, dtype=np.float32)
    for s in range(0, len(users), BATCH):
        u = torch.as_tensor(users[s : s + BATCH])
        c = torch.as_tensor(np.maximum(candidates[s : s + BATCH], 0))
        out[s : s + BATCH] = model.score(u, c).float().cpu().numpy()
    out[candidates < 0] = -np.inf
    return out


def evaluate_sampled(model: Recommender, split: LooSplit, kind: str, k: int = 10, stage: str = "test") -> dict:
    """HR/NDCG/Recall/Precision/MRR/MAP@k and AUC of the held-out item against the sampled
    negatives of `kind` ('uniform' or 'popularity')."""
    users, cand = split.candidates(kind, stage)
    scores = candidate_scores(model, users, cand)
    valid = cand >= 0
    rank = M.positive_rank(scores, valid, seed=split.seed)
    out = M.ranking_metrics(M.hits_from_rank(rank, k))
    out["AUC"] = M.auc(scores, valid)
    return out


@torch.no_grad()
def evaluate_full(model: Recommender, split: LooSplit, k: int = 10, stage: str = "test") -> dict:
    """The held-out item ranked against every item the user has not interacted with."""
    users = split.eval_users
    target = (split.test_items if stage == "test" else split.valid_items)[users]
    ranks = np.empty(len(users), dtype=np.int64)
    for s in range(0, len(users), BATCH):
        u = users[s : s + BATCH]
        t = target[s : s + BATCH]
        scores = model.score(torch.as_tensor(u)).float().cpu().numpy()
        rows = np.arange(len(u))
        pos = scores[rows, t].copy()
        seen = split.seen[u]
        r, c = seen.nonzero()
        scores[r, c] = -np.inf  # every item the user interacted with, the target included
        full = np.concatenate([pos[:, None], scores], axis=1)
        ranks[s : s + BATCH] = M.positive_rank(full, np.isfinite(full), seed=split.seed + s)
    return M.ranking_metrics(M.hits_from_rank(ranks, k))


def beyond_accuracy(model: Recommender, split: LooSplit, k: int = 10) -> dict:
    users = split.eval_users
    topk, _ = model.recommend(users, k=k, exclude_seen=True)
    train = split.train
    return M.beyond_accuracy(topk, train.item_counts, train.n_users, train.item_features)


def evaluate_ratings(model: Recommender, test: Interactions) -> dict:
    """RMSE and MAE of predicted ratings on `test` (models with predicts_ratings)."""
    pred = predict_ratings(model, test.users, test.items)
    return {"RMSE": M.rmse(pred, test.ratings), "MAE": M.mae(pred, test.ratings)}


@torch.no_grad()
def predict_ratings(model: Recommender, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    out = np.empty(len(users), dtype=np.float32)
    step = BATCH * 64
    for s in range(0, len(users), step):
        u = torch.as_tensor(users[s : s + step])
        i = torch.as_tensor(items[s : s + step])
        out[s : s + step] = model.predict(u, i).float().cpu().numpy()
    return out


def evaluate(model: Recommender, split: LooSplit, protocol: str, k: int = 10) -> dict:
    """All figures of a ranking protocol: accuracy on its candidates + beyond accuracy."""
    if protocol == "full":
        out = evaluate_full(model, split, k)
    else:
        out = evaluate_sampled(model, split, protocol.removeprefix("loo-"), k)
    out.update(beyond_accuracy(model, split, k))
    return out

"""Evaluate any `Recommender` under a protocol: the one place figures are computed.

Leave-one-out ranking protocols (`full`, `loo-uniform`, `loo-popularity`) score the
held-out test item against its candidates; `temporal` ranks every test-window interaction
against the whole catalogue (`evaluate_temporal`). Beyond-accuracy metrics (coverage,
diversity, novelty, mean popularity, Gini, genre and popularity calibration) are always
computed on the full-ranking top-K lists of the evaluated users (train items excluded), the
lists the dashboard shows. Rating protocols compute RMSE and MAE for models that predict
ratings.

Besides the means, every ranking evaluation returns its per-user ranks (`Ranks`): the
0-based place of each held-out item in its user's ranking, ties broken by one seeded draw.
Any metric@k of any user follows from them, so the paired tests and segments
(`recsys_core.evaluation.paired`) need no model.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.evaluation import metrics as M
from recsys_core.evaluation.metrics import Ranks
from recsys_core.evaluation.splits import LooSplit
from recsys_core.evaluation.temporal import TemporalSplit
from recsys_core.models.base import SCORE_CELLS, Recommender

TARGET_CHUNK = 2048  # target rows compared with their user's scores at once (bounded memory)

BATCH = 1024  # users per batch at most, whatever is scored
MIN_USERS = 16  # users a batch at least where one user's row is over the cells (a catalogue of 25,000+)


def user_batch(n_items: int, cells: int = SCORE_CELLS) -> int:
    """Users per batch when each user scores `n_items` items (the catalogue, or their
    candidates): bounded by `SCORE_CELLS`, so memory stays flat whatever the catalogue (a
    model like NeuMF holds several activations per cell: 1,024 users x 3,706 ml-1m movies x
    its tower was gigabytes). A catalogue larger than the cells still scores MIN_USERS users a
    batch: one at a time, 162,541 users took minutes in per-batch overhead alone."""
    return max(MIN_USERS if n_items > cells else 1, min(BATCH, cells // max(n_items, 1)))


@torch.no_grad()
def candidate_scores(model: Recommender, users: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """model scores for [users, candidates]; padded candidates (-1) get -inf."""
    out = np.empty(candidates.shape, dtype=np.float32)
    step = user_batch(candidates.shape[1] if candidates.ndim == 2 else 1, model.score_cells)
    for s in range(0, len(users), step):
        u = torch.as_tensor(users[s : s + step])
        c = torch.as_tensor(np.maximum(candidates[s : s + step], 0))
        out[s : s + step] = model.score(u, c).float().cpu().numpy()
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
def evaluate_full_valid(model: Recommender, split: LooSplit, k: int = 10) -> dict:
    """HR/NDCG/...@k of each user's validation item against every item they never interacted
    with (the mirror of `full` at test time, which ranks the test item the same way): the
    validation figure of a model picked for full ranking (`validate_on="full"`)."""
    counts = [
        _counts_against_unseen(model.score(torch.as_tensor(u)).float().cpu().numpy(), targets, seen)
        for u, targets, seen in _valid_batches(split, model.score_cells)
    ]
    return M.ranking_metrics(M.hits_from_rank(_ranks(counts, split.seed), k))


def _valid_batches(split: LooSplit, cells: int):
    """(users, their validation items, their seen rows) a batch, for every user with a
    validation item: what the full-ranking validation scores."""
    target = split.valid_items
    users = np.flatnonzero(target >= 0)
    step = user_batch(split.train.n_items, cells)
    for s in range(0, len(users), step):
        u = users[s : s + step]
        yield u, target[u], split.seen[u]


@torch.no_grad()
def evaluate_full_valid_blends(blend, split: LooSplit, weights: np.ndarray, k: int = 10) -> list[dict]:
    """`evaluate_full_valid` of a blend (`recsys_core.models.blend.Blend`) at each row of
    `weights`: each component scores a batch of users once, and every weighting mixes those
    scores, so trying a grid costs one scoring pass, not one a weighting."""
    ranks = weighting_ranks(blend, split, weights)
    return [M.ranking_metrics(M.hits_from_rank(r, k)) for r in ranks]


@torch.no_grad()
def weighting_ranks(blend, split: LooSplit, weights: np.ndarray, cell_by_cell: bool = False) -> list[np.ndarray]:
    """Each validation user's 0-based rank of their validation item among their unseen items
    under each row of `weights`, a [users] array a weighting. Where every component's scores
    of a batch are finite they are counted in fewer passes (`_finite_counts_against_unseen`,
    the same counts); `cell_by_cell` forces the general count (`python
    benchmarks/bench_blend_search.py` times one against the other)."""
    counts = [[] for _ in weights]
    for u, targets, seen in _valid_batches(split, blend.score_cells):
        parts = blend.part_scores(u)
        if cell_by_cell or not all(bool(torch.isfinite(p).all()) for p in parts):
            for j, w in enumerate(weights):
                counts[j].append(_counts_against_unseen(blend.mix(parts, w).numpy(), targets, seen))
            continue
        r, c = seen.nonzero()
        with _one_thread():
            for j, w in enumerate(weights):
                counts[j].append(_finite_counts_against_unseen(blend.mix(parts, w).numpy(), targets, r, c))
    return [_ranks(c, split.seed) for c in counts]


@contextlib.contextmanager
def _one_thread():
    """torch on one thread inside, in this process's main thread (elsewhere, as it was: a
    server's other threads may be using torch). The weightings' mixes are a few passes over
    memory each, thousands of them: two threads barely speed them, and beside a busy process
    each pass waits for the thread that is off its core (ml-1m's search: the mixes 3.7 s
    idle, 50 s beside a busy loop; `python benchmarks/bench_blend_search.py --hog`). An
    element-wise sum has the same bits on any number of threads."""
    n = torch.get_num_threads()
    if n == 1 or threading.current_thread() is not threading.main_thread():
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _finite_counts_against_unseen(scores: np.ndarray, targets: np.ndarray, r, c) -> tuple[np.ndarray, np.ndarray]:
    """`_counts_against_unseen` of finite `scores` (overwritten), the seen cells given as
    their (r, c) indices: the same counts from the same floats in fewer passes (no copy, no
    mask of finite cells: a seen cell set to -inf is neither above nor level with a finite
    target's score). On numpy's one thread: these passes are bound by memory, and torch's
    threads, each waiting for the other, slow them beside a busy process
    (`python benchmarks/bench_blend_search.py --hog`)."""
    pos = scores[np.arange(len(targets)), targets][:, None]
    scores[r, c] = -np.inf
    return np.count_nonzero(scores > pos, axis=1), np.count_nonzero(scores == pos, axis=1)


def _counts_against_unseen(scores: np.ndarray, targets: np.ndarray, seen) -> tuple[np.ndarray, np.ndarray]:
    """(greater, ties) of each row's target among the items its user never interacted with
    (`seen`: their rows of every interaction); `scores` is overwritten."""
    pos = scores[np.arange(len(targets)), targets].copy()
    r, c = seen.nonzero()
    scores[r, c] = -np.inf
    full = np.concatenate([pos[:, None], scores], axis=1)
    return M.rank_counts(full, np.isfinite(full))


def _ranks(counts: list, seed: int) -> np.ndarray:
    """Ranks from per-batch (greater, ties), ties broken once at the end, whatever the batching."""
    greater = np.concatenate([g for g, _ in counts]) if counts else np.zeros(0, np.int64)
    ties = np.concatenate([t for _, t in counts]) if counts else np.zeros(0, np.int64)
    return M.ranks_from_counts(greater, ties, seed=seed)


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
    return evaluate_many(model, split, [protocol], k)[0][protocol]


def top_in_order(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k best (values, indices) in the order a stable descending sort gives (higher
    score first, ties to the lower index), found by a partial selection over one int64 key a
    cell: the score's bits made order-preserving, then the index reversed. A full sort of every
    row cost n log n a row: minutes at 59,047 items x 162,541 users."""
    plain = np.ascontiguousarray(scores, dtype=np.float32) + np.float32(0.0)  # -0.0 ties with 0.0, as in a sort
    bits = plain.view(np.int32).astype(np.int64)
    ordered = np.where(bits < 0, bits ^ 0x7FFFFFFF, bits)  # floats ordered as signed ints
    n = scores.shape[1]
    key = (ordered << 32) | (np.int64(n - 1) - np.arange(n, dtype=np.int64))[None, :]
    top = torch.topk(torch.from_numpy(key), k, dim=1, largest=True, sorted=True).values.numpy()
    indices = (n - 1) - (top & 0xFFFFFFFF)
    return np.take_along_axis(scores, indices, axis=1), indices


@torch.no_grad()
def evaluate_many(model: Recommender, split: LooSplit, protocols, k: int = 10, list_k: int = 50):
    """Every leave-one-out ranking protocol from one full scoring pass over the evaluated users.

    Returns (metrics per protocol, top-`list_k` items and scores for every user, train items
    excluded, `Ranks` per protocol). Sampled candidates are read from the full scores, so a
    model is scored once however many protocols are asked for.

    long: one pass over user batches whose score matrix every protocol reads before it is
    freed; split, the batch's scores would be held or recomputed."""
    users_all = np.arange(split.train.n_users)
    n_items = split.train.n_items
    list_k = min(list_k, n_items)
    test = split.test_items
    top_items = np.full((len(users_all), list_k), -1, dtype=np.int64)
    top_scores = np.full((len(users_all), list_k), -np.inf, dtype=np.float32)
    kinds = [p.removeprefix("loo-") for p in protocols if p.startswith("loo-")]
    cand_scores = {kind: [] for kind in kinds}
    full_counts = []  # (greater, ties) per batch: ties broken once at the end, whatever the batching
    # what the lists leave out: the model's own seen items (a sequential model's include what it read)
    seen = getattr(model, "seen_", None)
    train_seen = seen if seen is not None else split.train.binary
    step = user_batch(n_items, model.score_cells)
    for s in range(0, len(users_all), step):
        u = users_all[s : s + step]
        scores = model.score(torch.as_tensor(u)).float().cpu().numpy()
        ev = test[u] >= 0
        for kind in kinds:
            cand = split.negatives[kind][1][u[ev]]
            cand = np.concatenate([test[u[ev]][:, None], cand], axis=1)
            got = np.take_along_axis(scores[ev], np.maximum(cand, 0), axis=1)
            got[cand < 0] = -np.inf
            cand_scores[kind].append(got)
        if "full" in protocols and ev.any():
            full_counts.append(_counts_against_unseen(scores[ev], test[u[ev]], split.seen[u[ev]]))
        r, c = train_seen[u].nonzero()
        scores[r, c] = -np.inf
        values, indices = top_in_order(scores, list_k)
        top_items[s : s + step] = np.where(np.isfinite(values), indices, -1)
        top_scores[s : s + step] = values
    out = {}
    ev_users = split.eval_users
    lists = top_items[ev_users, :k]
    beyond = M.beyond_accuracy(
        np.maximum(lists, 0),
        split.train.item_counts,
        split.train.n_users,
        split.train.item_features,
        split.train.binary[ev_users],
    )
    all_ranks = {}
    for p in protocols:
        if p == "full":
            ranks = _ranks(full_counts, split.seed)
            out[p] = M.ranking_metrics(M.hits_from_rank(ranks, k))
        else:
            sc = np.concatenate(cand_scores[p.removeprefix("loo-")])
            valid = np.isfinite(sc)
            ranks = M.positive_rank(sc, valid, seed=split.seed)
            out[p] = M.ranking_metrics(M.hits_from_rank(ranks, k))
            out[p]["AUC"] = M.auc(sc, valid)
        out[p].update(beyond)
        all_ranks[p] = Ranks(ev_users.astype(np.int64), test[ev_users], ranks.astype(np.int64))
    return out, top_items, top_scores, all_ranks


@torch.no_grad()
def evaluate_temporal(model: Recommender, split: TemporalSplit, k: int = 10, stage: str = "test", list_k: int = 50):
    """The temporal protocol: every target of `stage` ranked against every item its user had
    not interacted with before the window (`TemporalSplit.targets`), HR/NDCG/Recall/MAP@k
    over the users with targets, beyond accuracy on their lists, and the counts of what was
    left out. Returns (metrics, top-`list_k` items and scores for every user, `Ranks`).
    `list_k=0` (validation, every epoch): only the users with targets are scored, and no
    lists or list figures are made."""
    targets = split.targets(stage)
    before = split.before(stage)
    n_users, n_items = before.shape
    users_t, items_t = targets.users, targets.items
    eval_users = np.unique(users_t)
    greater = np.zeros(len(users_t), dtype=np.int64)
    ties = np.zeros(len(users_t), dtype=np.int64)
    top_items = np.full((n_users, min(list_k, n_items)), -1, dtype=np.int64)
    top_scores = np.full(top_items.shape, -np.inf, dtype=np.float32)
    step = user_batch(n_items, model.score_cells)
    scored = np.arange(n_users) if list_k else eval_users  # the stored lists serve the pages for anyone
    for s in range(0, len(scored), step):
        u = scored[s : s + step]
        scores = model.score(torch.as_tensor(u)).float().cpu().numpy()
        r, c = before[u].nonzero()
        scores[r, c] = -np.inf  # what the user had before the window is never a candidate
        lo, hi = np.searchsorted(users_t, [u[0], u[-1] + 1])
        row_of = np.searchsorted(u, users_t[lo:hi])
        for a in range(lo, hi, TARGET_CHUNK):
            b = min(a + TARGET_CHUNK, hi)
            block = scores[row_of[a - lo : b - lo]]  # [targets, items]
            own = block[np.arange(b - a), items_t[a:b]][:, None]
            greater[a:b] = (block > own).sum(1)
            ties[a:b] = (block == own).sum(1) - 1  # the target itself is not a tie
        if list_k:
            values, indices = torch.sort(torch.as_tensor(scores), dim=1, descending=True, stable=True)
            keep = top_items.shape[1]
            top_items[u] = np.where(np.isfinite(values[:, :keep].numpy()), indices[:, :keep].numpy(), -1)
            top_scores[u] = values[:, :keep].numpy()
    ranks = M.ranks_from_counts(greater, ties, seed=split.seed)
    found = Ranks(users_t, items_t, ranks)
    _, per_user = found.per_user(k)
    out = {name: float(v.mean()) if len(v) else float("nan") for name, v in per_user.items()}
    if len(eval_users) and list_k:
        out.update(
            M.beyond_accuracy(
                np.maximum(top_items[eval_users, :k], 0),
                split.train.item_counts,
                split.train.n_users,
                split.train.item_features,
                before[eval_users],
            )
        )
    out.update({key: float(v) for key, v in targets.report.items()})
    out["cut_valid"], out["cut_test"] = float(split.cut_valid), float(split.cut_test)
    return out, top_items, top_scores, found

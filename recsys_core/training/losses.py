"""What the objectives share: the full softmax over every item (on the CPU in cache-sized
chunks with its gradients in one pass), gSASRec's generalised BCE, the recency weights of
training rows, and the scores of the validation candidates a validation loss reads.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from recsys_core.data.interactions import Interactions
from recsys_core.evaluation.scoring import candidate_scores
from recsys_core.evaluation.splits import LooSplit

# ------------------------------------------------------------------ sequences


def gbce_loss(pos: torch.Tensor, neg: torch.Tensor, n_items: int, t: float) -> torch.Tensor:
    """gSASRec's generalised BCE (Petrov and Macdonald, RecSys 2023): BCE of each position's
    positive logit `pos` [positions] and its negatives' `neg` [positions, k] (-inf: not a
    negative of it), the positive's log-sigmoid raised to beta = alpha (t (1 - 1/alpha) +
    1/alpha), alpha = k / (n_items - 1) the share of items sampled. With t = 1 the sigmoid of a
    model trained this way estimates the probability a full softmax would give (their
    Theorem 4.1); t = 0 is plain BCE, whose negatives, a small share of the catalogue, make
    it overconfident about the items it ranks first. Summed over the negatives, averaged over
    positions."""
    alpha = neg.shape[1] / max(1, n_items - 1)
    beta = alpha * (t * (1 - 1 / alpha) + 1 / alpha)
    return (beta * F.softplus(-pos) + F.softplus(neg).sum(1)).mean()


def full_softmax_loss(
    h: torch.Tensor, w: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean cross-entropy of `targets` under a softmax of `h @ w.T` (every item): on the CPU
    computed a few hundred rows at a time with its gradients in the same pass
    (`_ChunkedSoftmaxCE`), which never holds the [rows, items] logits, nor their gradient,
    in memory; under the CPU's bf16 autocast its three products and the softmax's output are
    bf16 (the softmax and the loss sum in float32); elsewhere (CUDA, MPS) `F.cross_entropy`.
    With `weights` ([rows, k], each row summing to 1) `targets` is [rows, k]: each row's
    target is that distribution over its k items (a weight of 0 marks an unused slot)."""
    if h.device.type == "cpu" and torch.is_grad_enabled():
        low = torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        with torch.autocast("cpu", enabled=False):
            return _ChunkedSoftmaxCE.apply(h.float(), w.float(), targets, torch.bfloat16 if low else None, weights)
    if weights is None:
        return F.cross_entropy(h @ w.T, targets)
    logits = (h @ w.T).float()
    return (torch.logsumexp(logits, 1) - (logits.gather(1, targets) * weights).sum(1)).mean()


class _ChunkedSoftmaxCE(torch.autograd.Function):
    """Softmax cross-entropy whose forward also computes the gradients (the softmax minus
    the one-hot target, times the other factor), chunk by chunk, so the logits of a chunk
    stay in the CPU's cache: the same figures as `F.cross_entropy(h @ w.T, t)` to float
    rounding, in under half its time for 6,400 positions over ml-1m's 3,706 items
    (`python benchmarks/bench_sequential.py`, docs/benchmarks.md "Sequential models").
    One exponential pass a chunk: the softmax, and the target's log-probability from it
    (`log p_t = l_t - logsumexp`, and `logsumexp = max - log p_max`, p_max >= 1/items, so
    nothing underflows). With `low` (bf16) the products read bf16 copies of `h` and `w`, and
    the softmax reads their bf16 logits and writes the bf16 gradient the next two products
    read (it sums in float32): no copy of a chunk between dtypes. Against softmax in float32
    then a copy: a chunk 1.6x faster on one thread, the whole loss 1.1x on two (`python
    benchmarks/bench_sequential.py`, docs/benchmarks.md "Mixed precision on the CPU").
    The loss reads p_max rounded to bf16 (a relative error under 2^-8: under 0.004 in a
    row's loss); the gradient is the one the float32 softmax rounded to bf16 gave. With
    `weights` each row's target is a distribution over its k `targets`: the loss reads their
    weighted logits, and the weights are subtracted from the softmax (scatter-added, so an
    unused slot of weight 0 that repeats an item takes nothing from it)."""

    @staticmethod
    def forward(ctx, h, w, targets, low=None, weights=None):
        n = h.shape[0]
        chunk = max(16, min(256, (1 << 20) // max(1, w.shape[0])))  # a chunk's logits: about 4 MB at most
        grad_h, grad_w = torch.empty_like(h), torch.zeros_like(w)
        total = torch.zeros((), dtype=torch.float64)
        hm, wm = (h.to(low), w.to(low)) if low is not None else (h, w)
        for s in range(0, n, chunk):
            hc, tc = hm[s : s + chunk], targets[s : s + chunk]
            logits = hc @ wm.T
            p = torch.softmax(logits, 1)  # bf16 in and out under `low`, float32 inside
            log_norm = logits.amax(1).float() - p.amax(1).float().log()  # logsumexp of each row
            if weights is None:
                rows = torch.arange(len(tc))
                total -= (logits[rows, tc].float() - log_norm).sum(dtype=torch.float64)
                p[rows, tc] -= 1  # d loss / d logits, times n
            else:
                wc = weights[s : s + chunk]
                total -= ((logits.gather(1, tc).float() * wc).sum(1) - log_norm).sum(dtype=torch.float64)
                p.scatter_add_(1, tc, -wc.to(p.dtype))  # the target distribution subtracted
            if low is None:
                torch.mm(p, w, out=grad_h[s : s + chunk])
                grad_w.addmm_(p.T, hc)
            else:
                grad_h[s : s + chunk] = p @ wm
                grad_w += p.T @ hc
        ctx.save_for_backward(grad_h, grad_w)
        ctx.n = max(1, n)
        return (total / ctx.n).to(h.dtype)

    @staticmethod
    def backward(ctx, grad):
        grad_h, grad_w = ctx.saved_tensors
        scale = grad / ctx.n
        return grad_h * scale, grad_w * scale, None, None, None


def candidate_cross_entropy(model, valid) -> float | None:
    """Cross-entropy of the held-out validation item under a softmax over its validation
    candidates (a ranking model's validation loss); None without a leave-one-out validation."""
    scored = valid_scores(model, valid)
    if scored is None:
        return None
    scores, ok = scored
    scores = scores.masked_fill(~ok, float("-inf"))
    return float(-torch.log_softmax(scores, 1)[:, 0].mean())


def valid_scores(model, valid):
    """([users, candidates] scores, mask of real candidates) of the uniform validation
    candidates, the held-out item first; None without a leave-one-out validation."""
    if not isinstance(valid, LooSplit):
        return None
    users, cand = valid.candidates("uniform", "valid")
    return torch.as_tensor(candidate_scores(model, users, cand)), torch.as_tensor(cand >= 0)


def recency_weights(train: Interactions, cfg, device) -> torch.Tensor | None:
    """Per-row recency weights scaled to mean 1 (the loss keeps its scale), or None when off."""
    half_life = getattr(cfg, "recency_half_life", 0.0)
    if half_life <= 0 or not len(train):
        return None
    w = torch.as_tensor(train.recency_weights(half_life), device=device)
    return w / w.mean()

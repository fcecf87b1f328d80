"""How batches are made and losses computed, one class per objective.

Every objective keeps its training data on the model's device as tensors and makes batches
by indexing a permutation: no per-sample Python and no DataLoader. Every random draw comes
from the loop's generator, which lives on the same device as the tensors it fills. The
training loop only calls `setup`, `epoch_batches`, `loss` and `valid_loss`. An objective
never writes a model's inference state: the model takes it in its own `prepare`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from recsys_core.evaluation.splits import LooSplit
from recsys_core.evaluation.temporal import TemporalSplit
from recsys_core.training.batches import Batches, Objective
from recsys_core.training.losses import candidate_cross_entropy, recency_weights, valid_scores
from recsys_core.training.sampling import NegativeSampler
from recsys_core.training.sequences import MaskedItem, NextItem

__all__ = ["OBJECTIVES", "Batches", "MaskedItem", "NextItem", "Objective"]


# ------------------------------------------------------------------ implicit, pointwise / pairwise


class Pointwise(Objective):
    """BCE on positives and sampled negatives (NCF, MF; `BPR` and `SampledSoftmax` below
    are the other losses). Options read from the config: n_negatives, sampler,
    negatives_per_user (the NCF study, BCE only), user_dropout and diversity_weight (NCF),
    recency_half_life (positives weighted by recency; negatives weigh 1)."""

    def setup(self, model, train, cfg, generator):
        super().setup(model, train, cfg, generator)
        self.users = torch.as_tensor(train.users, device=self.device)
        self.items = torch.as_tensor(train.items, device=self.device)
        self.pos_weights = recency_weights(train, cfg, self.device)
        self.sampler = NegativeSampler(train, cfg.sampler, device=self.device)
        f = model.item_features
        self.genre_unit = F.normalize(f, dim=1) if f.shape[1] else None

    def _rows(self):
        """(users, items, labels, weights) of one epoch: positives plus freshly drawn
        negatives; weights None when every row weighs the same."""
        cfg = self.cfg
        if getattr(cfg, "negatives_per_user", 0) > 0:
            nu, ni = self.sampler.per_user(cfg.negatives_per_user, self.gen)
        else:
            ni = self.sampler.sample(self.users, cfg.n_negatives, self.gen).reshape(-1)
            nu = self.users.repeat_interleave(cfg.n_negatives)
        users = torch.cat([self.users, nu])
        items = torch.cat([self.items, ni])
        labels = torch.cat([torch.ones(len(self.users), device=self.device), torch.zeros(len(ni), device=self.device)])
        weights = None
        if self.pos_weights is not None:
            weights = torch.cat([self.pos_weights, torch.ones(len(ni), device=self.device)])
        return self._drop_users(users), items, labels, weights

    def _drop_users(self, users):
        """The NCF study (NCF's user_dropout): a share of the rows trained as the shared "new user"."""
        drop = self._dropped_rows(len(users))
        if drop is None:
            return users
        return torch.where(drop, torch.full_like(users, self.model.new_user), users)

    def _dropped_rows(self, n: int) -> torch.Tensor | None:
        """Which of `n` rows train as the "new user" (None when user_dropout is off)."""
        share = getattr(self.cfg, "user_dropout", 0.0)
        if share <= 0:
            return None
        return torch.rand(n, generator=self.gen, device=self.device) < share

    def epoch_batches(self):
        if getattr(self.cfg, "negatives_per_user", 0) > 0:
            users, items, labels, weights = self._rows()
            return self._shuffled(len(users), users, items, labels, weights)
        return self._implicit_rows()

    def _implicit_rows(self) -> Batches:
        """`_rows()` with n negatives per positive, without building the rows: row r < P is
        positive r, row P + j is the (j % n)-th negative of positive j // n; a batch looks its
        rows up from the positives and the drawn negatives. The same random draws in the same
        order, so the same batches as `_rows()` (tested), at a fraction of the memory: on ml-1m
        the rows were 5 million users, items, labels and weights (about 120 MB, and as much
        again while they were concatenated)."""
        n, n_pos = self.cfg.n_negatives, len(self.users)
        neg_items = self.sampler.sample(self.users, n, self.gen).reshape(-1)
        dropped = self._dropped_rows(n_pos * (1 + n))

        def gather(b):
            neg = b >= n_pos
            j = (b - n_pos).clamp_(min=0)
            src = torch.where(neg, j // n, b)  # the positive a row belongs to
            users = self.users[src]
            if dropped is not None:
                users = torch.where(dropped[b], torch.full_like(users, self.model.new_user), users)
            items = torch.where(neg, neg_items[j], self.items[src])
            labels = (~neg).to(torch.float32)
            weights = None if self.pos_weights is None else torch.where(neg, 1.0, self.pos_weights[src])
            return users, items, labels, weights

        return self._shuffled_by(n_pos * (1 + n), gather)

    def loss(self, batch):
        users, items, labels, weights = batch
        logits = self.model(users, items)
        loss = F.binary_cross_entropy_with_logits(logits, labels, weight=weights)
        return self._regularised(loss, logits, items)

    def _regularised(self, loss, logits, items):
        """The loss plus the content + NCF study's diversity penalty (NCF's diversity_weight) over every
        score of the batch, whatever the loss."""
        weight = getattr(self.cfg, "diversity_weight", 0.0)
        if weight > 0 and self.genre_unit is not None:
            loss = loss + weight * self._diversity_penalty(logits.reshape(-1), items.reshape(-1))
        return loss

    def _diversity_penalty(self, logits, items, top: int = 10):
        """The content + NCF study: genre similarity of the batch's top-scored items, weighted by their
        predicted probabilities so the gradient pushes similar top items apart."""
        k = min(top, len(items))
        idx = torch.topk(logits, k).indices
        p = torch.sigmoid(logits[idx])
        g = self.genre_unit[items[idx]]
        sim = g @ g.T
        off = 1 - torch.eye(k, device=logits.device)
        return (p[:, None] * p[None, :] * sim * off).sum() / max(k * (k - 1), 1)

    def valid_loss(self, valid):
        """Mean BCE over the validation candidates (held-out item = 1, 99 negatives = 0)."""
        scored = valid_scores(self.model, valid)
        if scored is None:
            return None
        scores, ok = scored
        labels = torch.zeros_like(scores)
        labels[:, 0] = 1
        return float(F.binary_cross_entropy_with_logits(scores[ok], labels[ok]))


class BPR(Pointwise):
    """Pairwise: -log sigmoid(s(u, pos) - s(u, neg)), n_negatives pairs per positive (a
    pair weighs its positive's recency weight)."""

    def epoch_batches(self):
        n = self.cfg.n_negatives
        neg = self.sampler.sample(self.users, n, self.gen).reshape(-1)
        users = self._drop_users(self.users.repeat_interleave(n))
        pos = self.items.repeat_interleave(n)
        w = None if self.pos_weights is None else self.pos_weights.repeat_interleave(n)
        return self._shuffled(len(users), users, pos, neg, w)

    def loss(self, batch):
        users, pos, neg, weights = batch
        s_pos, s_neg = self.model(users, pos), self.model(users, neg)
        pair = -F.logsigmoid(s_pos - s_neg)
        loss = pair.mean() if weights is None else (pair * weights).mean()
        return self._regularised(loss, torch.cat([s_pos, s_neg]), torch.cat([pos, neg]))

    def valid_loss(self, valid):
        """Mean BPR loss of the held-out item against each of its validation negatives."""
        scored = valid_scores(self.model, valid)
        if scored is None:
            return None
        scores, ok = scored
        pair = -F.logsigmoid(scores[:, :1] - scores[:, 1:])
        return float(pair[ok[:, 1:]].mean())


class SampledSoftmax(Pointwise):
    """Each positive against its own n_negatives sampled negatives: the cross-entropy of
    the positive under a softmax over those 1 + n scores (a positive's loss weighs its
    recency weight). No log-Q correction: uniform negatives do not need one (every item has
    the same chance of being drawn); the popularity samplers tilt it, as they tilt BCE."""

    def epoch_batches(self):
        neg = self.sampler.sample(self.users, self.cfg.n_negatives, self.gen)  # [rows, n]
        users = self._drop_users(self.users)
        w = self.pos_weights
        return self._shuffled(len(users), users, self.items, neg, w)

    def loss(self, batch):
        users, pos, neg, weights = batch
        items = torch.cat([pos[:, None], neg], 1)  # [batch, 1 + n], the positive first
        logits = self.model.forward_candidates(users, items)
        ce = -torch.log_softmax(logits, 1)[:, 0]
        loss = ce.mean() if weights is None else (ce * weights).mean()
        return self._regularised(loss, logits, items)

    def valid_loss(self, valid):
        return candidate_cross_entropy(self.model, valid)


# ------------------------------------------------------------------ user vectors


class MaskedMSE(Objective):
    """AutoRec: rating vectors in, MSE only where a rating was observed; dense re-feeding
    adds MSE(f(f(x)), f(x)) over every item (the AutoRec study)."""

    def epoch_batches(self):
        return self._shuffled(len(self.model.inputs))

    def loss(self, batch):
        x = self.model.inputs[batch[0]]
        mask = x > 0
        out = self.model(x)
        loss = ((out - x)[mask] ** 2).mean()
        if self.cfg.refeeding:
            target = out.detach()
            loss = loss + F.mse_loss(self.model(target), target)
        return loss

    def valid_loss(self, valid):
        rows = valid.valid_rows if isinstance(valid, (LooSplit, TemporalSplit)) else valid
        if rows is None or not len(rows):
            return None
        pred = self.model.predict(torch.as_tensor(rows.users), torch.as_tensor(rows.items)).cpu().numpy()
        return float(np.mean((pred - rows.ratings) ** 2))


class WeightedBCE(Objective):
    """CDAE: corrupted binary user vectors, BCE with per-batch positive weights
    p_l = batch size / number of batch users who have item l (the CDAE study). With
    recency_half_life the input holds recency weights (also when scoring) and each observed
    item's loss is weighted by its recency (scaled to mean 1); the target stays binary."""

    def setup(self, model, train, cfg, generator):
        super().setup(model, train, cfg, generator)
        self.targets = torch.as_tensor(train.binary.toarray(), dtype=torch.float32, device=self.device)
        self.recency = cfg.recency_half_life > 0 and len(train) > 0
        if self.recency:  # the model's inputs hold the recency weights (its `prepare`)
            self.mean_weight = float(train.weighted_matrix(cfg.recency_half_life).data.mean())

    def epoch_batches(self):
        return self._shuffled(len(self.model.inputs))

    def loss(self, batch):
        users = batch[0]
        x, y = self.model.inputs[users], self.targets[users]
        q = self.cfg.corruption
        keep = (torch.rand(x.shape, generator=self.gen, device=x.device) >= q).float()
        noisy = x * keep / (1 - q)
        logits = self.model(users, noisy)
        pos_weight = None
        if self.cfg.pos_weight:
            counts = y.sum(0)
            pos_weight = torch.where(counts > 0, len(users) / counts.clamp(min=1), torch.ones_like(counts))
        weight = torch.where(y > 0, x / self.mean_weight, torch.ones_like(x)) if self.recency else None
        return F.binary_cross_entropy_with_logits(logits, y, weight=weight, pos_weight=pos_weight)

    valid_loss = Pointwise.valid_loss


# ------------------------------------------------------------------ explicit ratings


class RatingMSE(Objective):
    """EmbeddingNet: MSE of predicted ratings on (user, item, rating) rows."""

    def setup(self, model, train, cfg, generator):
        super().setup(model, train, cfg, generator)
        self.users = torch.as_tensor(train.users, device=self.device)
        self.items = torch.as_tensor(train.items, device=self.device)
        self.ratings = torch.as_tensor(train.ratings, device=self.device)

    def epoch_batches(self):
        return self._shuffled(len(self.users), self.users, self.items, self.ratings)

    def loss(self, batch):
        users, items, ratings = batch
        return F.mse_loss(self.model(users, items), ratings)

    valid_loss = MaskedMSE.valid_loss


OBJECTIVES = {
    "pointwise": Pointwise,
    "bpr": BPR,
    "softmax": SampledSoftmax,
    "masked-mse": MaskedMSE,
    "weighted-bce": WeightedBCE,
    "rating-mse": RatingMSE,
    "next-item": NextItem,
    "masked-item": MaskedItem,
}

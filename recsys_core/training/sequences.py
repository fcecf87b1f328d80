"""The sequential models' objectives: predict the next item at every position (`NextItem`:
SASRec, GRU4Rec), or fill in hidden items (`MaskedItem`: BERT4Rec), with one choice of loss
over the item catalogue (`NextItem.item_loss`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from recsys_core.models.configs import TIE_TARGETS_MAX
from recsys_core.training.batches import Batches, Objective
from recsys_core.training.devices import softmax_plan
from recsys_core.training.losses import candidate_cross_entropy, full_softmax_loss, gbce_loss


class NextItem(Objective):
    """Sequential models (SASRec, GRU4Rec): each user's whole training history, in the
    config's `order`, cut into windows of max_len + 1 items (`Interactions.windows`), is
    read up to every position, and each position predicts the item after it: every
    interaction but a user's first is a target once an epoch (`windows="latest"`: only each
    user's latest window, as SASRec+ trains; `stride`: windows that overlap, each counting its
    last `stride` targets, so each target is read after more of its history, and with
    `context_grad=False` GRU4Rec reads the rest of a window without gradients). Losses (the config's `loss`,
    `item_loss`): BCE of the next item against one uniform negative per position (SASRec's
    paper); a softmax of the next item against `n_negatives` uniform negatives the batch
    shares (an item that is the position's own target is masked out of its negatives); a
    softmax over every item; or gSASRec's generalised BCE against `n_negatives` uniform
    negatives of each window, shared by its positions (as gSASRec samples them). A
    batch is a set of windows, in a random order or (`batching="by-length"`) of similar
    lengths, cut to the longest of them; padded positions carry no loss. With
    `targets="ties"` (full softmax) a position's target is spread over the next item's run of
    equal timestamps not yet read (`tie_targets`): in a log whose ties are in no real order,
    the items of one second are equally the next."""

    window_extra = 1  # a window holds max_len inputs and the item after the last

    def setup(self, model, train, cfg, generator):
        super().setup(model, train, cfg, generator)
        args = (cfg.max_len + self.window_extra, cfg.order, cfg.seed, cfg.windows == "latest")
        self.counted = cfg.stride or None  # targets each window counts, its last ones (None: all)
        windows = train.windows(*args, stride=self.counted)
        self.seqs = torch.as_tensor(windows, device=self.device)
        self.lengths = (self.seqs > 0).sum(1)
        self.n_items = model.n_items
        ties = cfg.targets == "ties"
        self.runs = (
            torch.as_tensor(
                tie_runs(windows, train.windows(*args, times=True, stride=self.counted)), device=self.device
            )
            if ties
            else None
        )
        self.low_softmax = softmax_plan(cfg, self.device)[0]  # amp="bf16-softmax" where it runs

    def full_softmax(self, h, w, targets, weights=None) -> torch.Tensor:
        """`full_softmax_loss`, its products in bf16 under `amp="bf16-softmax"` (the model
        itself in full precision): on ml-1m a GRU4Rec step 1.18x faster, on ml-100k 1.08x
        (`python benchmarks/bench_gru_layers.py --amp off,bf16-softmax`)."""
        args = (h, w, targets) if weights is None else (h, w, targets, weights)
        if not self.low_softmax:
            return full_softmax_loss(*args)
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            return full_softmax_loss(*args)

    def epoch_batches(self):
        if self.cfg.batching != "by-length":
            return self._shuffled(len(self.seqs))
        perm = torch.randperm(len(self.seqs), generator=self.gen, device=self.device)
        ordered = perm[torch.argsort(self.lengths[perm], stable=True)]  # by length, equal lengths shuffled
        slices = torch.split(ordered, self.cfg.batch_size)
        shuffled = torch.randperm(len(slices), generator=self.gen, device=self.device).tolist()
        return Batches([slices[i] for i in shuffled], lambda b: (b,))

    def windows_of(self, batch) -> torch.Tensor:
        """The batch's windows, their all-padding columns cut off (windows are right-aligned)."""
        width = int(self.lengths[batch].max())
        return self.seqs[batch][:, -width:]

    def loss(self, batch):
        seqs = self.windows_of(batch[0])
        inputs, targets = seqs[:, :-1], seqs[:, 1:]
        real = (targets > 0) & (inputs > 0)  # a user's first item has nothing before it: never a target
        if self.counted and not self.cfg.context_grad:  # only the counted positions' states
            states = self.model.encode_tail(inputs, self.counted)
            cols = slice(-states.shape[1], None)
        else:
            states, cols = self.model.encode(inputs), slice(None)
            if self.counted:  # overlapping windows: the earlier targets are counted in the window before
                real[:, : -self.counted] = False
        real, targets = real[:, cols], targets[:, cols]
        if self.runs is not None:
            items, weights = tie_targets(seqs, self.runs[batch[0]][:, -seqs.shape[1] :])
            items, weights = items[:, cols], weights[:, cols]
            return self.full_softmax(states[real], self.model.item_vectors(), items[real] - 1, weights[real])
        return self.item_loss(states, targets - 1, real)

    def item_loss(self, states: torch.Tensor, targets: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """The config's loss of the `real` positions of `states` ([windows, length, hidden])
        whose items are `targets` ([windows, length] ids)."""
        w = self.model.item_vectors()
        loss = self.cfg.loss
        if loss == "gbce":  # gSASRec's: each window its own negatives, shared by its positions
            neg = torch.randint(
                0, self.n_items, (len(states), self.cfg.n_negatives), generator=self.gen, device=self.device
            )
            neg_logits = torch.bmm(states, w[neg].transpose(1, 2))  # [windows, length, negatives]
            own = neg[:, None, :] == targets[:, :, None]  # a position's own target is no negative of it
            pos_logit = (states * w[targets.clamp(min=0)]).sum(-1)
            neg_logits = neg_logits.masked_fill(own, float("-inf"))
            return gbce_loss(pos_logit[real], neg_logits[real], self.n_items, self.cfg.gbce_t)
        h, t = states[real], targets[real]
        if loss == "full":
            return self.full_softmax(h, w, t)
        if loss == "bce":
            neg = torch.randint(0, self.n_items, t.shape, generator=self.gen, device=self.device)
            pos_logit, neg_logit = (h * w[t]).sum(-1), (h * w[neg]).sum(-1)
            return F.binary_cross_entropy_with_logits(
                torch.cat([pos_logit, neg_logit]), torch.cat([torch.ones_like(pos_logit), torch.zeros_like(neg_logit)])
            )
        neg = torch.randint(0, self.n_items, (self.cfg.n_negatives,), generator=self.gen, device=self.device)
        pos_logit = (h * w[t]).sum(-1, keepdim=True)
        own = neg[None, :] == t[:, None]  # a position's own target is no negative of it
        neg_logits = (h @ w[neg].T).masked_fill(own, float("-inf"))
        return -torch.log_softmax(torch.cat([pos_logit, neg_logits], 1), 1)[:, 0].mean()

    def valid_loss(self, valid):
        return candidate_cross_entropy(self.model, valid)


def tie_runs(items: np.ndarray, times: np.ndarray) -> np.ndarray:
    """int16 [windows, length]: for each column of `items` (windows, 0 the padding) how many
    columns from it on hold items of the same timestamp (`times`, the same windows'), itself
    included: 1 where the next item is later; 0 in the padding."""
    runs = np.zeros(items.shape, dtype=np.int16)
    runs[:, -1] = items[:, -1] > 0
    for c in range(items.shape[1] - 2, -1, -1):
        same = (times[:, c] == times[:, c + 1]) & (items[:, c + 1] > 0)
        runs[:, c] = np.where(items[:, c] > 0, np.where(same, runs[:, c + 1] + 1, 1), 0)
    return runs


def tie_targets(seqs: torch.Tensor, runs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each input position's target spread over the run of equal timestamps its next item
    starts (`tie_runs`, at most TIE_TARGETS_MAX items), each equally: ([windows, length - 1,
    k] item ids + 1, [windows, length - 1, k] weights summing to 1 where the next item is real)."""
    span = runs[:, 1:].long().clamp(max=TIE_TARGETS_MAX)  # the run the target column starts
    k = max(1, int(span.max()))
    width = seqs.shape[1]
    offsets = torch.arange(k, device=seqs.device)
    cols = (torch.arange(1, width, device=seqs.device)[:, None] + offsets).clamp(max=width - 1)  # [length - 1, k]
    items = seqs[:, cols]  # [windows, length - 1, k]
    used = offsets < span[..., None]
    weights = used / span.clamp(min=1)[..., None]
    return torch.where(used, items, seqs[:, 1:, None]), weights.float()


class MaskedItem(NextItem):
    """BERT4Rec's Cloze task (Sun et al. 2019): windows of max_len items of each user's
    history; every epoch each item of a window is hidden behind the mask token with
    probability `mask_prob` (a window with none hidden gets its latest item hidden, the
    slot a recommendation fills), and the model's states at the hidden positions predict
    the items there, with the config's loss (`item_loss`)."""

    window_extra = 0

    def loss(self, batch):
        seqs = self.windows_of(batch[0])
        real = seqs > 0
        hide = real & (torch.rand(seqs.shape, generator=self.gen, device=self.device) < self.cfg.mask_prob)
        none = ~hide.any(1)
        hide[none, -1] = real[none, -1]  # windows are right-aligned: the last slot is the latest item
        states = self.model.encode(seqs.masked_fill(hide, self.model.mask_id))
        return self.item_loss(states, seqs - 1, hide)

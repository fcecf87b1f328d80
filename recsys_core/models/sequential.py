"""Sequential recommenders: a user is the sequence of what they interacted with, in order.

SASRec (Kang and McAuley, 2018): causal self-attention over the item sequence, the last
position's state scored against the item embeddings. GRU4Rec (Hidasi et al. 2016; the
"GRU4Rec+" of the peers' tables with its sampled losses): a GRU over the same sequence.
Both read a user's latest `max_len` interactions (`Interactions.sequences`, the dataset's
tie rule) and are trained by the one loop with the `next-item` objective: each position
predicts the item after it. BERT4Rec (Sun et al. 2019): SASRec's blocks without the causal
mask, trained with the `masked-item` objective (fill in hidden items) and scored from a
mask slot after the history. The attention models never read padding, so a batch or a
scoring chunk is cut to its longest history; scoring memory is bounded (`encode_users`).

The history a model reads is inference state taken from the data (`prepare`), never
learned: during training and validation, everything before the validation item; for the
test figures, `read(rows)` appends the validation item without retraining (as SASRec's own
evaluation does), so a leave-one-out test scores what comes after everything the user did.
"""

from __future__ import annotations

import abc
import contextlib
import math

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from recsys_core.data.interactions import Interactions
from recsys_core.models.dropout import Dropout, keep_mask
from recsys_core.models.neural import NeuralRecommender

ATTENTION_CELLS = 1 << 24  # users x positions x positions encoded at once when scoring (64 MB of float32)
CHUNK_POSITIONS = 1 << 18  # users x positions encoded at once when scoring


class SequentialRecommender(NeuralRecommender):
    objective = "next-item"
    reads_history = True  # fit_and_evaluate / load_model: read the validation item before the test
    padding_free = False  # True: the padding before a history changes no state (attention models)
    # a batch's scores are one product of its users' states with the item table: 25,000 cells
    # left ml-1m 6 users a batch, each encoded apart. Scoring every user (a test, a page's lists)
    # took 2.9 s (SASRec) and 4.7 s (GRU4Rec) where 1,000,000 takes 1.0-1.4 s, and the ml-1m
    # blend's weight search 38-44 s where it takes 22 s: the same figures, no more peak memory
    # (`python benchmarks/bench_full_ranking.py --cells 25000`). Validation in a fit encodes
    # every user once anyway (`frozen`).
    score_cells = 1_000_000

    def __init__(self, n_users: int, n_items: int, cfg, item_features: np.ndarray | None = None):
        super().__init__(n_users, n_items, cfg, item_features)
        self.item_emb = nn.Embedding(n_items + 1, cfg.hidden, padding_idx=0)  # 0: padding; item i is i + 1
        nn.init.normal_(self.item_emb.weight[1:], std=1 / math.sqrt(cfg.hidden))
        # untied: the items scored by a table of their own (what the loss pulls on is not what is read)
        self.out_emb = None if cfg.tied else nn.Parameter(torch.randn(n_items, cfg.hidden) / math.sqrt(cfg.hidden))
        self.drop = Dropout(cfg.dropout)
        self.register_buffer("history", torch.zeros(n_users, cfg.max_len, dtype=torch.long), persistent=False)
        self._kept: torch.Tensor | None = None  # every user's state, inside `frozen()`

    # ------------------------------------------------------------ what the model reads

    def prepare(self, train: Interactions) -> None:
        super().prepare(train)
        seqs = train.sequences(self.cfg.max_len, self.cfg.order, self.cfg.seed)
        self.history = torch.as_tensor(seqs, device=self.item_emb.weight.device)

    def read(self, rows: Interactions) -> None:
        """Append `rows` (later than the history: the leave-one-out validation items, or a
        temporal window's interactions, several per user in time order with the tie rule) to
        what each user's history holds, keeping the latest `max_len`; they join the items
        `recommend` and the stored top-k lists leave out."""
        if rows is None or not len(rows):
            return
        order = np.lexsort((np.arange(len(rows)), rows.timestamps, rows.users))
        users, items = rows.users[order], rows.items[order] + 1
        counts = np.bincount(users, minlength=self.n_users)
        width = int(counts.max())
        new = np.zeros((self.n_users, width), dtype=np.int64)  # right-aligned per user, oldest first
        new[users, width - (np.cumsum(counts)[users] - np.arange(len(users)))] = items
        both = np.concatenate([self.history.cpu().numpy(), new], axis=1)
        packed = np.take_along_axis(both, np.argsort(both != 0, axis=1, kind="stable"), axis=1)  # zeros first
        self.history = torch.as_tensor(packed[:, -self.cfg.max_len :].copy(), device=self.history.device)
        if self.seen_ is not None:  # what it has read is seen: never recommended back
            read = sp.csr_matrix((np.ones(len(rows), np.float32), (rows.users, rows.items)), shape=self.seen_.shape)
            self.seen_ = (self.seen_ + read).astype(bool).astype(self.seen_.dtype).tocsr()

    def read_items(self, user: int) -> np.ndarray:
        """The items (ids) the model reads for `user`'s next item, oldest first."""
        h = self.reading([user])[0].cpu().numpy()
        return h[(h > 0) & (h <= self.n_items)] - 1

    # ------------------------------------------------------------ scoring

    @abc.abstractmethod
    def encode(self, seqs: torch.Tensor) -> torch.Tensor:
        """[batch, length] item ids + 1 (0 = padding) -> [batch, length, hidden] states; the
        state at position t has seen positions <= t only."""

    def encode_tail(self, seqs: torch.Tensor, tail: int) -> torch.Tensor:
        """The states of `seqs`' last `tail` positions, the earlier ones read as their context
        and trained through (GRU4Rec reads them without gradients)."""
        return self.encode(seqs)[:, -tail:]

    def item_vectors(self) -> torch.Tensor:
        """The vectors items are scored by (and mapped by, on the embedding page)."""
        return self.item_emb.weight[1:] if self.out_emb is None else self.out_emb

    def reading(self, users) -> torch.Tensor:
        """What the model reads to score `users`' next item: their histories (BERT4Rec adds the
        masked slot it fills in); the state at the last position is what is scored."""
        return self.history[torch.as_tensor(users, device=self.history.device)]

    def user_states(self, users) -> torch.Tensor:
        """The state each user's next item is scored from. Inside `frozen()` every user's is
        computed once and kept until the context ends."""
        if self._kept is not None:
            if not len(self._kept):
                self._kept = self.encode_users(torch.arange(self.n_users, device=self.history.device))
            return self._kept[torch.as_tensor(users, device=self._kept.device)]
        return self.encode_users(users)

    @contextlib.contextmanager
    def frozen(self):
        self._kept = torch.empty(0)
        try:
            yield
        finally:
            self._kept = None

    def encode_users(self, users) -> torch.Tensor:
        """`user_states` computed: the readings sorted by length and encoded a chunk at a time,
        each chunk cut to its longest reading (`padding_free` models: padding is never read,
        so the cut changes nothing but the time) and small enough that its attention (users x
        length x length) stays within ATTENTION_CELLS and its positions within CHUNK_POSITIONS:
        the memory of scoring stays flat as histories grow (1,024 users at max_len 2,000 would
        be 16 GB of attention weights)."""
        seqs = self.reading(users)
        n = seqs.shape[1]
        lengths = (seqs > 0).sum(1).clamp(min=1) if self.padding_free else torch.full((len(seqs),), n)
        order = torch.argsort(lengths.cpu(), stable=True)
        widths = lengths.cpu()[order].numpy().astype(np.int64)
        out, s = None, 0
        while s < len(seqs):
            k = np.arange(1, len(seqs) - s + 1)  # a chunk of k users is as wide as its k-th (sorted)
            fits = (k * widths[s:] ** 2 <= ATTENTION_CELLS) & (k * widths[s:] <= CHUNK_POSITIONS)
            k = max(1, int(fits.sum()))  # both grow with k: the ones that fit are a prefix
            idx = order[s : s + k].to(seqs.device)
            states = self.encode(seqs[idx][:, n - int(widths[s + k - 1]) :])[:, -1]
            if out is None:
                out = states.new_empty(len(seqs), states.shape[1])
            out[idx] = states
            s += k
        return out if out is not None else torch.empty(0, self.cfg.hidden, device=seqs.device)

    @torch.no_grad()
    def score(self, users, items=None) -> torch.Tensor:
        h = self.user_states(users)
        w = self.item_vectors()
        if items is None:
            return h @ w.T
        items = torch.as_tensor(items, device=h.device)
        return (h[:, None, :] * w[items]).sum(-1)

    @torch.no_grad()
    def item_embeddings(self) -> np.ndarray:
        return self.item_vectors().detach().float().cpu().numpy()

    @torch.no_grad()
    def user_embeddings(self) -> np.ndarray:
        """Each user's state after reading their history: what their next item is scored with."""
        out = [self.user_states(torch.arange(s, min(s + 512, self.n_users))) for s in range(0, self.n_users, 512)]
        return torch.cat(out).float().cpu().numpy()


class SASRec(SequentialRecommender):
    """Self-attentive sequential recommendation (Kang and McAuley 2018): item + learned
    position embeddings, `blocks` pre-norm blocks of causal multi-head self-attention and a
    point-wise feed-forward layer (or, with `block="ligr"`, LiGR's gated blocks), a final
    layer norm; scores are dot products with the (shared) item embeddings."""

    has_attention = True
    padding_free = True  # padding is never attended to (`SelfAttention.visible`)
    causal = True  # each position attends to itself and the ones before it

    name = "sasrec"

    def __init__(self, n_users: int, n_items: int, cfg, item_features: np.ndarray | None = None):
        super().__init__(n_users, n_items, cfg, item_features)
        d, f, n = cfg.hidden, cfg.hidden * cfg.ffn_factor, cfg.blocks
        self.pos_emb = nn.Embedding(cfg.max_len, d) if cfg.positional else None
        sasrec = cfg.block == "sasrec"  # else LiGR's gated blocks (`GatedBlock`), in `gated`
        self.attn_norms = nn.ModuleList(nn.LayerNorm(d, eps=1e-8) for _ in range(n * sasrec))
        self.attns = nn.ModuleList(SelfAttention(d, cfg.heads, cfg.dropout, self.causal) for _ in range(n * sasrec))
        self.ffn_norms = nn.ModuleList(nn.LayerNorm(d, eps=1e-8) for _ in range(n * sasrec))
        self.ffns = nn.ModuleList(
            nn.Sequential(nn.Linear(d, f), nn.ReLU(), Dropout(cfg.dropout), nn.Linear(f, d), Dropout(cfg.dropout))
            for _ in range(n * sasrec)
        )
        self.gated = nn.ModuleList(
            GatedBlock(d, f, cfg.heads, cfg.dropout, self.causal) for _ in range(n * (not sasrec))
        )
        self.last_norm = nn.LayerNorm(d, eps=1e-8)
        if cfg.init == "normal":
            self._start_small()

    def _start_small(self) -> None:
        """GPT-2's start (`init="normal"`): every linear and embedding weight N(0, 0.02), biases
        0, the padding row 0; layer norms as torch starts them (scale 1, shift 0)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
        if self.out_emb is not None:
            nn.init.normal_(self.out_emb, std=0.02)

    def _embed(self, seqs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep = (seqs > 0).unsqueeze(-1)
        x = self.item_emb(seqs) * math.sqrt(self.cfg.hidden)
        if self.pos_emb is not None:
            length = seqs.shape[1]
            x = x + self.pos_emb.weight[self.cfg.max_len - length :]  # positions counted back from the latest
        return self.drop(x) * keep, keep

    def encode(self, seqs: torch.Tensor, attention: list | None = None) -> torch.Tensor:
        x, keep = self._embed(seqs)
        for norm, attn, ffn_norm, ffn in zip(self.attn_norms, self.attns, self.ffn_norms, self.ffns):
            q = norm(x)
            x = q + attn(q, x, attention, keep)
            y = ffn_norm(x)
            x = (y + ffn(y)) * keep
        for block in self.gated:
            x = block(x, keep, attention)
        return self.last_norm(x)

    @torch.no_grad()
    def attention(self, user: int) -> np.ndarray:
        """How much the last position (the state the recommendations are scored from) attends
        to each item it reads, oldest first: the last block, averaged over heads."""
        seq = self.reading([user])
        weights: list[torch.Tensor] = []
        self.encode(seq, attention=weights)
        last = weights[-1][0, -1].float().cpu().numpy()
        ids = seq[0].cpu().numpy()
        return last[(ids > 0) & (ids <= self.n_items)]  # the items read, not padding nor a mask slot


class GatedBlock(nn.Module):
    """LiGR's transformer block (Borisyuk et al. 2025; eSASRec's layers): attention over the
    normalised input and a SwiGLU feed-forward layer over the normalised result, each added
    to what it read through a gate, a sigmoid of a linear map of that (unnormalised) input, so
    a block learns per dimension how much of each sublayer to let in. Padded positions are
    zeroed after the block, as in SASRec's."""

    def __init__(self, d: int, f: int, heads: int, dropout: float, causal: bool):
        super().__init__()
        self.attn_norm, self.ffn_norm = nn.LayerNorm(d, eps=1e-8), nn.LayerNorm(d, eps=1e-8)
        self.attn = SelfAttention(d, heads, dropout, causal)
        self.attn_gate, self.ffn_gate = nn.Linear(d, d), nn.Linear(d, d)
        self.up, self.up_gate, self.down = nn.Linear(d, f), nn.Linear(d, f), nn.Linear(f, d)
        self.drop = Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor, attention: list | None) -> torch.Tensor:
        q = self.attn_norm(x)
        x = x + torch.sigmoid(self.attn_gate(x)) * self.drop(self.attn(q, q, attention, keep))
        y = self.ffn_norm(x)
        ffn = self.down(self.drop(F.silu(self.up(y)) * self.up_gate(y)))
        return (x + torch.sigmoid(self.ffn_gate(x)) * self.drop(ffn)) * keep


class SelfAttention(nn.Module):
    """Multi-head attention of each position over itself and the real items before it
    (`causal`, SASRec's) or over every real item of the window (BERT4Rec's); padding is
    never attended to (`visible`); queries from the normalised input, keys and values from
    the input, as SASRec's; fused (`scaled_dot_product_attention`) unless the weights are
    asked for."""

    # how the attention weights are dropped in training on the CPU: "floats", a uniform draw
    # (`Dropout`'s); "torch", `scaled_dot_product_attention`'s Bernoulli draws (elsewhere, always)
    dropped_weights = "floats"

    def __init__(self, d: int, heads: int, dropout: float, causal: bool = True):
        super().__init__()
        self.heads, self.dropout, self.causal = heads, dropout, causal
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))

    def visible(self, keep: torch.Tensor, n: int) -> torch.Tensor:
        """[batch, 1, n, n]: which keys each query attends to: real items (`keep`), the
        earlier ones only when causal, and itself always (a padded query has a key to attend
        to, so no row is empty; its output is zeroed after the block). Padding is never read,
        so a window's figures do not depend on how much padding is before it."""
        me = torch.eye(n, dtype=torch.bool, device=keep.device)
        allowed = keep | me
        if self.causal:
            allowed = allowed & torch.tril(torch.ones_like(me))
        return allowed

    def forward(
        self, q_in: torch.Tensor, kv_in: torch.Tensor, attention: list | None, keep: torch.Tensor
    ) -> torch.Tensor:
        b, n, d = q_in.shape
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(q_in)), split(self.k(kv_in)), split(self.v(kv_in))
        mask = self.visible(keep.view(b, 1, 1, n), n)
        if attention is None:
            p = self.dropout if self.training else 0.0
            if p and q.device.type == "cpu" and self.dropped_weights == "floats":
                out = _attend_with_dropout(q, k, v, mask, p)
            else:
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:  # the weights themselves, for the page that shows what the model reads
            weights = _attention_weights(q, k, mask)
            attention.append(weights.mean(1))  # averaged over heads: [batch, n, n]
            out = weights @ v
        return self.out(out.transpose(1, 2).reshape(b, n, d))


def _attention_weights(q, k, mask: torch.Tensor) -> torch.Tensor:
    """Each query's softmax over the keys `mask` lets it see (scaled dot products)."""
    logits = (q * (1 / math.sqrt(q.shape[-1]))) @ k.transpose(-1, -2)
    return torch.softmax(logits.masked_fill_(~mask, float("-inf")), -1)


def _attend_with_dropout(q, k, v, mask: torch.Tensor, p: float) -> torch.Tensor:
    """What `scaled_dot_product_attention` computes with a mask and `dropout_p` (its math
    path, which a boolean mask sends it down on the CPU), the weights' dropout mask drawn as
    `Dropout` draws it (`keep_mask`), cheaper than torch's Bernoulli draws (`python
    benchmarks/bench_long_sequences.py dropout`, docs/benchmarks.md "Long histories")."""
    weights = _attention_weights(q, k, mask)
    keep, scale = keep_mask(weights, p)
    return (weights * keep.to(weights.dtype).mul_(scale)) @ v


class GRU4Rec(SequentialRecommender):
    """A GRU over the item sequence (Hidasi et al. 2016), trained with sampled losses
    ("GRU4Rec+", Hidasi and Karatzoglou 2018); its state scored against the item embeddings."""

    name = "gru4rec"

    def __init__(self, n_users: int, n_items: int, cfg, item_features: np.ndarray | None = None):
        super().__init__(n_users, n_items, cfg, item_features)
        d = cfg.hidden
        self.gru = nn.GRU(d, d, num_layers=cfg.layers, batch_first=True, dropout=cfg.dropout if cfg.layers > 1 else 0)
        self.out = nn.Linear(d, d)

    def encode(self, seqs: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.item_emb(seqs))
        states, _ = self.gru(x)
        return self.out(self.drop(states))

    def encode_tail(self, seqs: torch.Tensor, tail: int) -> torch.Tensor:
        """The GRU's state after the earlier positions, read without gradients (truncated
        back-propagation through time), carries on over the last `tail`: the same states for
        a fraction of the backward pass."""
        if tail >= seqs.shape[1]:
            return self.encode(seqs)
        x = self.drop(self.item_emb(seqs))
        with torch.no_grad():
            _, carried = self.gru(x[:, :-tail])
        states, _ = self.gru(x[:, -tail:], carried)
        return self.out(self.drop(states))


class BERT4Rec(SASRec):
    """BERT4Rec (Sun et al. 2019): the same blocks as SASRec's but bidirectional (each
    position attends to every item of the window), trained to fill in items hidden behind a
    mask token (the `masked-item` objective); to recommend, a mask slot is appended after
    the history (its oldest item dropped when the window is full) and the state there is
    scored against the item embeddings."""

    objective = "masked-item"
    causal = False
    name = "bert4rec"

    def __init__(self, n_users: int, n_items: int, cfg, item_features: np.ndarray | None = None):
        super().__init__(n_users, n_items, cfg, item_features)
        self.mask_id = n_items + 1
        self.mask_emb = nn.Parameter(torch.randn(cfg.hidden) / math.sqrt(cfg.hidden))
        if cfg.init == "normal":
            nn.init.normal_(self.mask_emb, std=0.02)

    def _embed(self, seqs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        masked = seqs == self.mask_id
        items = self.item_emb(seqs.masked_fill(masked, 0))
        x = torch.where(masked.unsqueeze(-1), self.mask_emb, items) * math.sqrt(self.cfg.hidden)
        if self.pos_emb is not None:
            x = x + self.pos_emb.weight[self.cfg.max_len - seqs.shape[1] :]
        keep = (seqs > 0).unsqueeze(-1)
        return self.drop(x) * keep, keep

    def reading(self, users) -> torch.Tensor:
        h = super().reading(users)
        slot = torch.full((len(h), 1), self.mask_id, dtype=h.dtype, device=h.device)
        return torch.cat([h[:, 1:], slot], 1)

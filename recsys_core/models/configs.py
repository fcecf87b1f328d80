"""The config of every model: frozen dataclasses whose fields declare their defaults,
ranges, choices and help once (`recsys_core.config.param`). Torch-free, so the catalog, the
CLI's help and a warm build read them without importing torch; the model classes in this
package take them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recsys_core.config import param, recency_param

OPTIMIZERS = ("adam", "sgd")
AMP_MODES = ("off", "bf16", "fp16", "bf16-softmax")
_DEVICE_NAME = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device_name(value: str) -> str | None:
    """The device's spelling (whether it is present is checked when a run is queued)."""
    if not _DEVICE_NAME.match(str(value)):
        return "expected auto, cpu, cuda, cuda:N or mps"
    return None


SCHEDULES = ("none", "cosine-restarts", "cosine")  # restarts: the embedding-network study's; cosine: one, over `epochs`
# what a leave-one-out validation ranks the held-out item against: the 99 uniform samples of
# `loo-uniform`, or every item the user has not trained on (as `full` does at test time)
VALIDATION_CANDIDATES = ("uniform", "full")
SAMPLERS = ("uniform", "popularity", "inverse-popularity")


@dataclass(frozen=True)
class TrainParams:
    """Training parameters every neural model's config carries (one flat config per run)."""

    epochs: int = param(20, min=1, max=1000, help="upper bound; early stopping usually ends sooner")
    batch_size: int = param(1024, min=1, max=1_000_000)
    lr: float = param(1e-3, min=0, max=10, min_open=True, log=True, help="learning rate")
    weight_decay: float = param(0.0, min=0, max=1, log=True, help="L2 penalty on the weights")
    optimizer: str = param("adam", choices=OPTIMIZERS)
    momentum: float = param(0.9, min=0, max=1, max_open=True, help="SGD momentum")
    schedule: str = param("none", choices=SCHEDULES, help="lr: constant, warm restarts, or one cosine to 0")
    restart_epochs: int = param(2, min=1, max=100, help="epochs per cosine cycle")
    warmup_epochs: float = param(
        0.0,
        min=0,
        max=100,
        help="lr rises linearly to lr over this many epochs' steps (n: from lr / n), then follows the schedule (0 = off)",
        added=True,
    )
    patience: int = param(3, min=1, max=100, help="validation checks without improvement before stopping")
    average_half_life: float = param(
        0.0, min=0, max=100, help="validate and keep a moving average of the weights, half-life in epochs (0 = off)"
    )
    seed: int = param(0, min=0)
    device: str = param(
        "auto", check=check_device_name, help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"
    )
    amp: str = param(
        "off",
        choices=AMP_MODES,
        help="mixed precision: bf16 or fp16 on CUDA, bf16 on a CPU with bf16 instructions (AVX512-BF16, AMX);"
        " bf16-softmax: only a sequential model's full softmax in bf16; elsewhere full precision, said so",
    )
    validate_on: str = param(
        "uniform",
        choices=VALIDATION_CANDIDATES,
        help="leave-one-out validation (early stopping, sweeps): the held-out item against 99 sampled items,"
        " or against every item (full ranking; slower)",
        added=True,
    )


# loss -> objective (recsys_core.training.objectives): BCE scores every row alone; BPR each
# (positive, negative) pair; sampled softmax each positive against its n_negatives
LOSSES = {"bce": "pointwise", "bpr": "bpr", "softmax": "softmax"}


@dataclass(frozen=True)
class PointwiseParams(TrainParams):
    n_negatives: int = param(4, min=1, max=100, help="sampled negatives per positive")
    sampler: str = param("uniform", choices=SAMPLERS, help="how training negatives are drawn")
    negatives_per_user: float = param(
        0.0, min=0, max=100, help="the NCF study: ratio x user history (0 = per positive)"
    )
    recency_half_life: float = recency_param()
    loss: str = param(
        "bce", choices=tuple(LOSSES), help="BCE on positives and negatives, pairwise BPR, or sampled softmax"
    )


@dataclass(frozen=True)
class MFConfig(PointwiseParams):
    dim: int = param(64, min=1, max=4096, help="embedding size")


@dataclass(frozen=True)
class NCFConfig(PointwiseParams):
    variant: str = param("neumf", choices=("gmf", "mlp", "neumf"))
    mf_dim: int = param(8, min=1, max=1024, help="GMF embedding size")
    layers: tuple[int, ...] = param((64, 32, 16, 8), min=1, max=4096, help="MLP tower; first = 2 x MLP embedding")
    dropout: float = param(0.0, min=0, max=1, max_open=True, help="after each hidden layer")
    genre_features: bool = param(False, help="add an item genre embedding to the item side (the NCF study)")
    user_dropout: float = param(0.0, min=0, max=1, max_open=True, help="share of rows trained as the 'new user'")
    diversity_weight: float = param(0.0, min=0, max=100, help="the content + NCF study's genre-diversity regulariser")
    pretrain: bool = param(False, help="NeuMF: initialise from trained GMF and MLP (the NCF paper)")
    pretrain_epochs: tuple[int, ...] = param(
        (), min=1, max=1000, help="NeuMF pre-training epochs, fixed: GMF, MLP or one for both (empty: early-stopped)"
    )


@dataclass(frozen=True)
class PopularityConfig:
    pass


@dataclass(frozen=True)
class EASEConfig:
    lam: float = param(250.0, min=0, min_open=True, help="L2 regularisation of the item-item weights")
    recency_half_life: float = recency_param()
    max_items: int = param(
        10_000,
        min=0,
        help="the most popular items the item-item matrix covers on a larger catalogue (0: every item)",
        added=True,
    )
    reads_latest: bool = param(
        False,
        help="score with the interactions up to the test item (the validation item read, weights not refit),"
        " as the sequential models read it",
        added=True,
    )


@dataclass(frozen=True)
class GenreConfig:
    tfidf: bool = param(False, help="weight genres by inverse document frequency (rare genres count more)")
    like_threshold: float = param(4.0, min=0, help="ratings at or above this form the user's profile")


@dataclass(frozen=True)
class AutoRecConfig(TrainParams):
    layers: tuple[int, ...] = param((128,), min=1, max=8192, help="encoder sizes; the decoder mirrors them")
    dropout: float = param(0.0, min=0, max=1, max_open=True, help="on the encoder output (the code)")
    tied: bool = param(False, help="decoder weights are the encoder's transposed")
    refeeding: bool = param(False, help="dense re-feeding: also train f(f(x)) ~ f(x)")
    item_based: bool = param(False, help="I-AutoRec: encode items' rating vectors over users")


@dataclass(frozen=True)
class CDAEConfig(TrainParams):
    hidden: int = param(50, min=1, max=8192, help="hidden units (tanh)")
    corruption: float = param(0.2, min=0, max=1, max_open=True, help="share of input ones dropped")
    pos_weight: bool = param(True, help="per-batch positive weights: batch size / item count (the CDAE study)")
    recency_half_life: float = recency_param()


@dataclass(frozen=True)
class EmbNetConfig(TrainParams):
    dim: int = param(50, min=1, max=4096, help="embedding size (n_factors)")
    embedding_dropout: float = param(0.02, min=0, max=1, max_open=True)
    hidden: tuple[int, ...] = param((100,), min=1, max=8192, help="hidden layer sizes")
    dropouts: tuple[float, ...] = param((0.2,), min=0, max=1, max_open=True, help="one per hidden layer (or fewer)")


# ------------------------------------------------------------------ sequential models

# the training objective of the sequential models: SASRec's paper (one uniform negative per
# position, BCE), a softmax over n_negatives uniform negatives shared by the batch, a softmax
# over every item, or gSASRec's generalised BCE (Petrov and Macdonald, RecSys 2023) against
# n_negatives negatives of each window
SEQ_LOSSES = ("bce", "softmax", "full", "gbce")
# how a user's training history is ordered: by time (equal timestamps in the dataset's row
# order, the tie rule), with the order inside equal timestamps shuffled, or shuffled whole
ORDERS = ("time", "shuffle-ties", "shuffle")
# how an epoch's windows make batches: in a random order, or windows of similar length
# together, each batch cut to its longest window (less padding to read)
BATCHINGS = ("random", "by-length")
# which windows of a user's history train the sequential models: all of it, or the latest only
WINDOWS = ("every", "latest")
# what a sequential model's position predicts: the next item, or its second's unread items, each equally
TARGETS = ("next", "ties")
TIE_TARGETS_MAX = 16  # items of a run of equal timestamps one position's target spreads over at most
# the attention models' blocks: SASRec's (the residual from the normalised input, a ReLU
# feed-forward layer), or LiGR's (Borisyuk et al. 2025, arXiv 2502.03417; the layers of
# eSASRec, arXiv 2508.06450): pre-norm attention and a SwiGLU feed-forward layer, each added
# to its input through a sigmoid gate read from that input
BLOCKS = ("sasrec", "ligr")
# how the attention models' weights start: torch's defaults (item embeddings N(0, 1/hidden)), or
# every linear and embedding weight N(0, 0.02) with zero biases (GPT-2's, as SASRec+ and RecBole start)
INITS = ("torch", "normal")


@dataclass(frozen=True)
class SequentialParams(TrainParams):
    max_len: int = param(200, min=2, max=2000, help="the latest N interactions of a user the model reads")
    hidden: int = param(64, min=2, max=4096, help="item embedding and hidden size")
    dropout: float = param(0.2, min=0, max=1, max_open=True, help="on embeddings and hidden states")
    loss: str = param(
        "softmax",
        choices=SEQ_LOSSES,
        help="BCE against one negative per position (SASRec's paper), softmax over n_negatives shared negatives,"
        " softmax over every item, or gSASRec's generalised BCE against n_negatives negatives of each window",
    )
    n_negatives: int = param(
        256, min=1, max=100_000, help="softmax: uniform negatives a batch shares; gbce: each window's"
    )
    gbce_t: float = param(
        0.75,
        min=0,
        max=1,
        help="gbce: calibration t (0: plain BCE, 1: the positive's weight makes the sigmoid the full"
        " softmax's probability; gSASRec's paper uses 0.75)",
        added=True,
    )
    order: str = param(
        "time",
        choices=ORDERS,
        help="training order: by time, ties (equal timestamps) shuffled, or the whole history shuffled",
    )
    tied: bool = param(
        True,
        help="score items with the embeddings the model reads them by (off: a table of their own for the"
        " output, as gSASRec's code trains)",
        added=True,
    )
    batching: str = param(
        "random",
        choices=BATCHINGS,
        help="windows batched in a random order, or by length (each batch cut to its longest window: less"
        " padding, faster on long histories; the attention models only)",
        added=True,
    )
    windows: str = param(
        "every",
        choices=WINDOWS,
        help="train on every window of each user's history (every interaction a target once an epoch), or on"
        " the latest window only (a user's latest max_len interactions: each user weighs about the same, as"
        " SASRec+ trains, Klenitskiy and Vasilev 2023)",
        added=True,
    )
    stride: int = param(
        0,
        min=0,
        max=2000,
        help="items between the ends of a user's training windows (0: max_len, windows that overlap by one);"
        " shorter: windows overlap and each counts only its last stride targets, so every target is still"
        " read once an epoch, after more of its history, for max_len / stride times the model's steps",
        added=True,
    )
    context_grad: bool = param(
        True,
        help="with a stride: train through each window's context, the items before its counted targets"
        " (off: GRU4Rec reads the context without gradients, a shorter backward pass)",
        added=True,
    )
    targets: str = param(
        "next",
        choices=TARGETS,
        help="each position predicts the next item, or (full softmax only) spreads its target over the next"
        f" item's run of equal timestamps not yet read (at most {TIE_TARGETS_MAX}): ratings given in the same"
        " second have no order",
        added=True,
    )

    def problems(self) -> str | None:
        if self.targets == "ties" and self.loss != "full":
            return "targets=ties spreads the target of the full softmax: it needs loss=full"
        if self.stride > self.max_len:
            return f"stride {self.stride} is longer than max_len {self.max_len}: windows would skip targets"
        if self.stride and self.windows == "latest":
            return "stride cuts every window of a history; windows=latest keeps one a user: choose one"
        if not self.context_grad and not self.stride:
            return "context_grad=off reads a window's context without gradients: it needs a stride"
        return None


def _heads_divide(cfg) -> str | None:
    if cfg.hidden % cfg.heads:
        return f"hidden {cfg.hidden} must be a multiple of heads {cfg.heads}"
    return None


@dataclass(frozen=True)
class SASRecConfig(SequentialParams):
    blocks: int = param(2, min=1, max=12, help="self-attention blocks")
    heads: int = param(1, min=1, max=16, help="attention heads (hidden must be a multiple of them)")
    positional: bool = param(True, help="learned positional embeddings (off: the order reaches it only via the mask)")
    block: str = param(
        "sasrec",
        choices=BLOCKS,
        help="SASRec's blocks, or LiGR's (eSASRec's): each sublayer's output gated by a sigmoid of its input,"
        " a SwiGLU feed-forward layer",
        added=True,
    )
    ffn_factor: int = param(
        1,
        min=1,
        max=8,
        help="feed-forward hidden size as a multiple of hidden (SASRec's 1, LiGR's paper 4)",
        added=True,
    )
    init: str = param(
        "torch",
        choices=INITS,
        help="starting weights: torch's defaults (item embeddings N(0, 1/hidden)), or every linear and"
        " embedding weight N(0, 0.02) and zero biases (GPT-2's; SASRec+'s and RecBole's)",
        added=True,
    )

    def problems(self) -> str | None:
        if not self.context_grad:
            return "attention reads its context with its targets: context_grad=off is GRU4Rec's"
        return _heads_divide(self) or super().problems()


@dataclass(frozen=True)
class GRU4RecConfig(SequentialParams):
    layers: int = param(1, min=1, max=8, help="GRU layers")

    def problems(self) -> str | None:
        if self.batching != "random":
            return "GRU4Rec's state runs through the padding before a history: its batches stay random"
        return super().problems()


@dataclass(frozen=True)
class BERT4RecConfig(SASRecConfig):
    """SASRec's blocks without the causal mask; BERT4Rec's paper's 2 heads."""

    heads: int = param(2, min=1, max=16, help="attention heads (hidden must be a multiple of them)")
    mask_prob: float = param(
        0.2,
        min=0,
        max=1,
        min_open=True,
        max_open=True,
        help="share of a window's items hidden for the model to fill in",
    )

    def problems(self) -> str | None:
        if self.targets != "next":
            return "BERT4Rec fills in hidden items, not the next one: targets=ties is for SASRec and GRU4Rec"
        if self.stride:
            return "BERT4Rec fills in hidden items of whole windows: stride is for SASRec and GRU4Rec"
        return super().problems()

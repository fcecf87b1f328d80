"""The shipped models and the keys their runs are stored under. Torch-free, so the CLI's
help, a warm build and the pages' reads never import torch.

An explicit dict, name -> entry (no importlib string search): each entry's tuned default
config, family, task and a one-line summary; `TUNED` the settings picked again on one
dataset's own validation, where any beat the shipped ones, and `SPLIT_TUNED` those one split's
own validation picks (`split_of`: a run of the temporal split alone). `config_for(name,
overrides, dataset, split)` validates overrides (unknown keys and bad values raise `ConfigError` listing the
valid keys and ranges). A run is keyed by dataset fingerprint + model + config hash +
protocols + the store's artifact version (`run_key`); `shipped_runs` finds the shipped models' runs.
The model classes are in `recsys_core.runs.zoo`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from recsys_core.config import config_hash, override, to_dict
from recsys_core.data import Dataset
from recsys_core.errors import ConfigError
from recsys_core.evaluation.protocols import RANKING, RATING, TEMPORAL
from recsys_core.models.blend_config import BlendConfig
from recsys_core.models.configs import (
    AutoRecConfig,
    BERT4RecConfig,
    CDAEConfig,
    EASEConfig,
    EmbNetConfig,
    GenreConfig,
    GRU4RecConfig,
    MFConfig,
    NCFConfig,
    PopularityConfig,
    SASRecConfig,
    TrainParams,
)
from recsys_core.runs.record import Run
from recsys_core.runs.store import Store, cache_key

MY_RUNS = "my-runs"  # the store's sweep name for runs started from the Train page
REQUIRED = ["topk.npz"]  # the artifact every shipped run must have intact to count as built


@dataclass(frozen=True)
class Entry:
    name: str
    config: object  # the tuned default config
    family: str
    task: str  # "ranking" (implicit top-k) or "rating" (explicit, RMSE; also ranks)
    summary: str

    @property
    def neural(self) -> bool:
        """Trained by the one loop (its config carries the training parameters)."""
        return isinstance(self.config, TrainParams)


# Tuned defaults (docs/tuning.md: how each was chosen, on validation only).
# recency_half_life: recent interactions weigh more (leave-one-out by time asks for the next)
MF_DEFAULT = MFConfig(
    dim=128, batch_size=2048, lr=0.003, weight_decay=1e-6, recency_half_life=10, loss="softmax", n_negatives=16
)
NCF_DEFAULT = NCFConfig(
    mf_dim=32,
    layers=(64, 32, 16, 8),
    batch_size=4096,
    lr=0.005,
    pretrain=True,
    schedule="cosine-restarts",
    recency_half_life=10,
)
# reads_latest: at test time a user's row holds the validation item too (the sequential models
# read it; without it EASE scored the test item from a history one item short: 0.084 -> 0.091
# NDCG@10 under full ranking on ml-100k, docs/results.md "Blends")
EASE_DEFAULT = EASEConfig(recency_half_life=20, reads_latest=True)
# AutoRec's and embnet's regularisation and weight averaging were picked on the 5 folds'
# inner validation (the fourth tuning pass)
AUTOREC_DEFAULT = AutoRecConfig(
    layers=(128, 128),
    dropout=0.85,
    item_based=True,
    batch_size=32,
    lr=0.0005,
    weight_decay=1e-5,
    epochs=100,
    patience=10,
    average_half_life=10.0,
)
CDAE_DEFAULT = CDAEConfig(
    hidden=600, batch_size=32, lr=0.001, epochs=100, patience=5, pos_weight=False, recency_half_life=5
)
EMBNET_DEFAULT = EmbNetConfig(
    dim=100,
    embedding_dropout=0.4,
    batch_size=1024,
    lr=0.003,
    weight_decay=1e-3,
    epochs=80,
    patience=10,
    average_half_life=3.0,
)

# the sequential models: picked on validation (docs/tuning.md, "Sequential models")
# SASRec starts its weights small (GPT-2's N(0, 0.02)) and stops on full-ranking validation: on
# validation, +0.013 NDCG@10 on ml-100k (up in each of three seeds); on ml-1m +0.007 in seed 0 but
# level over three seeds (docs/results.md, "SASRec's starting weights", "A start per split").
# It trains in bf16 mixed precision where the device has it (CUDA, a CPU with bf16
# instructions; full precision elsewhere, said in the run's device line): on ml-1m an epoch in
# two thirds of the time, validation level over three seeds (docs/results.md, "Mixed precision")
SASREC_DEFAULT = SASRecConfig(
    max_len=50,
    loss="full",
    batch_size=128,
    lr=0.005,
    epochs=200,
    patience=5,
    init="normal",
    validate_on="full",
    amp="bf16",
)
# GRU4Rec stops on full-ranking validation, as SASRec does (thirteenth pass): on ml-100k NDCG@10
# 0.126 / 0.124 / 0.127 in seeds 0-2 against 0.119 / 0.119 / 0.121 stopping on 99 sampled items,
# the blend on it level (0.1517 against 0.1516; docs/results.md, "GRU4Rec in bf16, and a build in parallel")
GRU4REC_DEFAULT = GRU4RecConfig(
    max_len=50, loss="full", batch_size=128, lr=0.005, epochs=200, patience=5, validate_on="full"
)
BERT4REC_DEFAULT = BERT4RecConfig(max_len=50, loss="full", batch_size=128, lr=0.005, epochs=200, patience=5)

# settings picked again on one dataset's leave-one-out validation, by dataset name: the shipped
# leave-one-out runs on that dataset (a blend's components among them) are trained with them
# (docs/results.md, "A wider SASRec on ml-1m", "Weight averaging picked again", "Two GRU layers"):
# - SASRec, both datasets: validating and keeping a moving average of the weights (half-life one
#   epoch) validates above the plain weights in every seed tried (ml-1m NDCG@10 0.195 / 0.196
#   against 0.186 / 0.185; ml-100k 0.139 / 0.126 / 0.132 against 0.122 / 0.119 / 0.131);
# - ml-1m SASRec twice as wide at a lower learning rate (0.186 / 0.185 / 0.187 against 0.180 each;
#   at the default 0.005 the width stays at popularity; on ml-100k it validates level);
# - ml-1m GRU4Rec twice as wide at a lower learning rate, picked on full-ranking validation and
#   averaged (0.179 / 0.184 / 0.186 wide, against 0.175 / 0.170 / 0.178); on ml-100k averaging
#   validated GRU4Rec level (0.491 against 0.490 on its sampled candidates), so it kept the default then;
# - ml-1m GRU4Rec with two GRU layers (twelfth pass): NDCG@10 0.195 / 0.198 / 0.192 in seeds 0-2,
#   against 0.188 / 0.188 / 0.189 with one
# - ml-100k GRU4Rec averaged too, once it stopped on full ranking (thirteenth pass): NDCG@10 0.129 /
#   0.128 / 0.127 in seeds 0-2 against 0.126 / 0.124 / 0.127, the blend on it 0.1530 against 0.1517
#   (on the sampled candidates it had validated level, eleventh pass)
# - ml-100k SASRec at lr 0.01 (fourteenth pass), for its speed: its validation is level (NDCG@10
#   0.138 / 0.133 / 0.133 in seeds 0-2 on one thread against 0.139 / 0.126 / 0.132 at 0.005; seed 0
#   on two threads 0.125 against 0.133) in fewer epochs (29 / 26 / 19 / 22 against 38 / 24 / 28 /
#   35), and the build of the ml-100k blend with `--workers 2` takes 0.8x the time (55-66 s);
#   the price: the blend on it validates 0.002 lower on average (0.1545 / 0.1504 / 0.1523 / 0.1534
#   against 0.1551 / 0.1530 / 0.1516 / 0.1586), within its seeds' spread, and its test did not move
#   (p 0.97); GRU4Rec at 0.01 validated lower in two seeds of three and keeps 0.005
#   (docs/results.md, "A faster SASRec on ml-100k")
# GRU4Rec stays in float32: in bf16 its own validation was level on ml-1m (0.1944 / 0.1972 against
# 0.1948 / 0.1976) but the blend built on it validated lower (0.2096 against 0.2114), and its epochs
# were no faster on two threads (docs/results.md, "GRU4Rec in bf16, and a build in parallel"); with
# only its softmax in bf16 (amp="bf16-softmax") the blend on it validated lower too (0.2108 / 0.2091
# against 0.2115 / 0.2119, docs/results.md, "Only the softmax in bf16")
# - ml-1m GRU4Rec back at the default lr 0.005, with one epoch's warm-up (twenty-second pass): its
#   blend validates 0.2129 / 0.2128 in seeds 0 / 1 against 0.2114 / 0.2119 at lr 0.002, and GRU4Rec
#   stops after 28 / 24 epochs against 41 / 37 (docs/results.md, "The ml-1m blend inside its budget")
# - ml-100k GRU4Rec in batches of 16 windows at lr 0.01 (twenty-third pass): 8x the steps an epoch
#   (ml-100k's epoch is 19 steps at 128); NDCG@10 0.1373 / 0.1387 / 0.1427 / 0.1352 / 0.1440 in
#   seeds 0-4 against 0.1235 / 0.1263 / 0.1255 / 0.1366 / 0.1188, the blend on it 0.1592 against
#   0.1550 on average, and the build as long as before (SASRec's fit sets it); patience 3: at lr
#   0.005 it ended each of five fits two epochs sooner at the same best epoch (docs/results.md,
#   "Smaller batches for GRU4Rec on ml-100k")
_WIDE = {"hidden": 128, "lr": 0.002}
_AVERAGED = {"average_half_life": 1.0}
TUNED: dict[str, dict[str, dict]] = {
    "ml-100k": {
        "sasrec": {**_AVERAGED, "lr": 0.01},
        "gru4rec": {**_AVERAGED, "batch_size": 16, "lr": 0.01, "patience": 3},
    },
    "ml-1m": {
        "sasrec": {**_WIDE, **_AVERAGED},
        "gru4rec": {"hidden": 128, "layers": 2, "warmup_epochs": 1.0, "validate_on": "full", **_AVERAGED},
    },
}

# settings picked again on one split's own validation, by split: the shipped runs of that split
# (`temporal_key`, a blend's components there) are trained with them. The temporal split's
# validation window prefers torch's start for SASRec: NDCG@10 0.117 against 0.107 on ml-1m,
# 0.109 against 0.106 on ml-100k (docs/results.md, "A start per split")
SPLIT_TUNED: dict[str, dict[str, dict]] = {TEMPORAL: {"sasrec": {"init": "torch"}}}

ZOO: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry("popularity", PopularityConfig(), "baseline", "ranking", "most popular unseen items"),
        Entry("genre", GenreConfig(), "content", "ranking", "cosine of genre vectors (the content-based study)"),
        Entry("ease", EASE_DEFAULT, "baseline", "ranking", "closed-form item-item model (Steck 2019)"),
        Entry("mf", MF_DEFAULT, "factorisation", "ranking", "dot-product MF with biases (BCE, BPR or sampled softmax)"),
        Entry("ncf", NCF_DEFAULT, "neural", "ranking", "NeuMF: GMF + MLP tower (the NCF studies)"),
        Entry("autorec", AUTOREC_DEFAULT, "autoencoder", "rating", "deep autoencoder, SELU (the AutoRec study)"),
        Entry("cdae", CDAE_DEFAULT, "autoencoder", "ranking", "denoising autoencoder (the CDAE study)"),
        Entry("embnet", EMBNET_DEFAULT, "neural", "rating", "embedding regressor (the embedding-network study)"),
        Entry(
            "sasrec", SASREC_DEFAULT, "sequential", "ranking", "self-attention over the history (Kang and McAuley 2018)"
        ),
        Entry("gru4rec", GRU4REC_DEFAULT, "sequential", "ranking", "a GRU over the history (Hidasi et al. 2016)"),
        Entry(
            "bert4rec",
            BERT4REC_DEFAULT,
            "sequential",
            "ranking",
            "bidirectional self-attention, trained to fill in hidden items (Sun et al. 2019)",
        ),
        # the three validated best on ml-100k and ml-1m of the blends tried (docs/results.md, "Blends")
        Entry(
            "blend",
            BlendConfig(),
            "blend",
            "ranking",
            "SASRec, GRU4Rec and EASE: their scores standardised and added, weights picked on validation",
        ),
    ]
}


def entry(name: str) -> Entry:
    if name not in ZOO:
        raise ConfigError(f"unknown model {name!r}: choose one of {', '.join(ZOO)}")
    return ZOO[name]


def config_for(name: str, overrides: dict | None = None, dataset: str | None = None, split: str | None = None):
    """The shipped default of `name` (with `split`'s own tuned settings; on leave-one-out,
    `split=None`, `dataset`'s, by name, which its leave-one-out validation picked), then
    `overrides`."""
    base = entry(name).config
    on_dataset = None if split else TUNED.get(dataset or "", {}).get(name)
    for tuned in (SPLIT_TUNED.get(split or "", {}).get(name), on_dataset):
        if tuned:
            base = override(base, tuned)
    return override(base, overrides or {})


def split_of(protocols) -> str | None:
    """The split whose shipped settings a run of `protocols` takes: TEMPORAL for a run of the
    temporal split alone (its own training rows), else None (leave-one-out; a run that also
    asks for the temporal split fits both with one config)."""
    return TEMPORAL if list(protocols) == [TEMPORAL] else None


def shipped_config(name: str, dataset: str | None, protocols):
    """The shipped config of a run of `protocols` on `dataset` (by name): its split's and
    dataset's own settings over the default (`split_of`)."""
    return config_for(name, dataset=dataset, split=split_of(protocols))


def is_neural(name: str) -> bool:
    return entry(name).neural


def neural_models() -> list[str]:
    return [m for m in ZOO if is_neural(m)]


CPU_CELLS = 500_000_000  # users x items above which the network models are not built on a CPU
NETWORKS = (
    "ncf",
    "autorec",
    "cdae",
    "embnet",
    "sasrec",
    "gru4rec",
    "bert4rec",
    "blend",
)  # score every item through a network
ML1M_CELLS = 6_040 * 3_706


def not_offered(ds: Dataset, device: str | None = None) -> dict[str, str]:
    """The shipped models this dataset cannot serve, each with the reason a page shows: rating
    models without ratings, the genre model without categories, and, for a build on
    `device="cpu"` above CPU_CELLS users x items, the models that score every item for every
    user through a network (their full-ranking evaluation alone would take hours; a machine
    with a GPU builds them). `device=None`: the rules that hold on any device."""
    out = {}
    cells = ds.n_users * ds.n_items
    for name, e in ZOO.items():
        if ds.implicit and e.task == "rating":
            out[name] = "predicts ratings, and this dataset has none (every interaction is a positive)"
        elif name == "genre" and not ds.has_genres:
            out[name] = "compares item categories, and this dataset has none"
        elif name in NETWORKS and device == "cpu" and cells > CPU_CELLS:
            out[name] = (
                f"scores every item for every user through a network: {ds.n_users:,} users x {ds.n_items:,} items is"
                f" {cells / ML1M_CELLS:,.0f} times MovieLens-1M, too slow on a CPU (a machine with a GPU builds it)"
            )
    return out


def models_for(ds: Dataset, device: str | None = None) -> list[str]:
    """The shipped models that make sense on this dataset and device (`not_offered` says why not the others)."""
    skip = not_offered(ds, device)
    return [m for m in ZOO if m not in skip]


def applicable_protocols(name: str) -> list[str]:
    return [*RANKING, TEMPORAL, *(RATING if entry(name).task == "rating" else ())]


def build_protocols(name: str) -> list[str]:
    """What `build` evaluates in one run per model: every leave-one-out ranking protocol, plus
    the ratings split for rating models (5-fold is for the benchmark: five fits are too slow
    for a cold start). The temporal split trains on other rows: its shipped runs are their
    own (`build --protocol temporal`, `temporal_key`)."""
    return [p for p in applicable_protocols(name) if p not in ("ratings-5fold", TEMPORAL)]


# ------------------------------------------------------------------ run keys


def run_key(ds: Dataset, name: str, cfg, protocols, tuned: bool = True) -> str:
    """A run's cache key; `tuned=False`: as it was before a dataset's own settings
    (`TUNED`) reached a blend's components (how a blend stored then is recognised)."""
    protocol_part = "+".join(sorted(protocols)).replace("loo-", "")
    settings = settings_hash(name, cfg, split_of(protocols), ds.name if tuned else None)
    return cache_key(ds.fingerprint, name, settings + "-" + protocol_part)[:120]


def settings_hash(name: str, cfg, split: str | None = None, dataset: str | None = None) -> str:
    """What a run's key records of its settings: the config's hash, and for a blend its
    components' shipped settings on `split` and `dataset` too (a blend is made of them,
    `zoo.make`), so a blend stored before a component's defaults changed is not found as today's."""
    if entry(name).family != "blend":
        return config_hash(cfg)
    parts = ",".join(f"{c}:{config_hash(config_for(c, dataset=dataset, split=split))}" for c in cfg.components)
    return hashlib.sha256(f"{config_hash(cfg)}|{parts}".encode()).hexdigest()[:12]


def shipped_key(ds: Dataset, name: str) -> str:
    """The cache key of a shipped model with its default config (on this dataset)."""
    return run_key(ds, name, shipped_config(name, ds.name, build_protocols(name)), build_protocols(name))


def temporal_key(ds: Dataset, name: str) -> str:
    """The cache key of a shipped model's run under the temporal split (its own training rows)."""
    return run_key(ds, name, shipped_config(name, ds.name, [TEMPORAL]), [TEMPORAL])


def shipped_runs(store: Store, ds: Dataset, protocol: str | None = None) -> dict[str, Run]:
    """name -> the finished run of each shipped model with its default config (one query);
    `protocol="temporal"`: their runs under the temporal split."""
    keyer = temporal_key if protocol == TEMPORAL else shipped_key
    keys = {name: keyer(ds, name) for name in models_for(ds)}
    found = store.latest_done_many(list(keys.values()))
    return {name: found[key] for name, key in keys.items() if key in found}


def required_files(name: str) -> list[str]:
    """The files a shipped model's run must have intact to count as built: its top-k lists,
    and the weights of a neural model (the pages reload them)."""
    kept = ["weights.pt"] if is_neural(name) else ["state.npz"] if entry(name).family == "blend" else []
    return [*REQUIRED, *kept]


def missing_models(store: Store, ds: Dataset, protocol: str | None = None, device: str | None = None) -> list[str]:
    """Shipped models not built on this dataset (under the temporal split with
    `protocol="temporal"`): no finished run, or a finished run whose artifacts fail their
    checksum (those are rebuilt, never shown half)."""
    done = shipped_runs(store, ds, protocol)
    return [
        name
        for name in models_for(ds, device)
        if name not in done
        or (done[name].status == "done" and not store.has_artifacts(done[name].key, required_files(name)))
    ]


def changed(model: str, overrides: dict, dataset: str | None = None, split: str | None = None) -> dict:
    """The overrides that differ from the shipped default on `dataset` and `split` (a run's short label)."""
    default = to_dict(config_for(model, dataset=dataset, split=split))
    cfg = to_dict(config_for(model, overrides, dataset, split))
    return {k: v for k, v in cfg.items() if default.get(k) != v}


def describe_changes(model: str, overrides: dict, dataset: str | None = None, split: str | None = None) -> str:
    """'dim=32, lr=0.01' (the model's settings first, then training ones), or 'defaults'."""
    training = {f.name for f in dataclasses.fields(TrainParams)}
    diff = changed(model, overrides, dataset, split)
    if not diff:
        return "defaults"
    diff = dict(sorted(diff.items(), key=lambda kv: kv[0] in training))
    fmt = {list: lambda v: "-".join(map(str, v)), float: lambda v: f"{v:g}"}
    return ", ".join(f"{k}={fmt.get(type(v), str)(v)}" for k, v in diff.items())

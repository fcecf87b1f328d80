"""Where sweeps come from: the ones the project ships (each a study's question on its model,
named by its write-up) and the ones a person describes (TOML or JSON files in the user
sweeps' folder, written by the Sweeps page), and finding a sweep by name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from recsys_core.errors import ConfigError, RecsysError
from recsys_core.paths import artifacts_dir
from recsys_core.sweeps.spec import Sweep, load_sweep_file, sweep_from_spec
from recsys_core.sweeps.studies import study

# The NCF study's architecture: embeddings -> linear + ReLU -> dropout -> linear -> sigmoid, an
# item genre embedding, inverse-popularity negatives. Short, early-stopped runs.
_NCF000 = {
    "variant": "mlp",
    "genre_features": True,
    "sampler": "inverse-popularity",
    "epochs": 8,
    "patience": 2,
    "batch_size": 4096,
    "lr": 0.01,
    "dropout": 0.5,
    "schedule": "none",
    "pretrain": False,
    "recency_half_life": 0.0,
}


# the AutoRec study's user-based AutoRec (one user's rating vector in), whatever the shipped default
_AUTOREC = {
    "epochs": 25,
    "patience": 3,
    "item_based": False,
    "layers": (128,),
    "dropout": 0.2,
    "lr": 0.001,
    "weight_decay": 0.0,
    "average_half_life": 0.0,
}
_CDAE = {"epochs": 40, "patience": 3, "recency_half_life": 0.0}  # the CDAE study's CDAE: no recency weights


def _emb(e: int) -> dict:
    return {"layers": (2 * e, 32)}


ORDER_SWEEP = "sasrec-order"  # the order ablation the leaderboard's notes read (results.order_ablation)

SHIPPED: dict[str, Sweep] = {
    s.name: s
    for s in [
        Sweep(
            "ncf-lr",
            "ncf",
            "learning rate",
            tuple((str(v), {"lr": v, **_emb(3)}) for v in (1, 0.1, 0.01, 0.001)),
            _NCF000,
            description=f"{study('000').name}: learning rate at embedding 3, dropout 0.5",
            claim="lr 1 was too large, 0.1 overfitted and 0.001 too small to converge: 0.01 was chosen",
        ),
        Sweep(
            "ncf-emb",
            "ncf",
            "embedding size",
            tuple((str(e), _emb(e)) for e in (3, 10, 50, 100)),
            _NCF000,
            description=f"{study('000').name}: embedding size at lr 0.01, dropout 0.5",
            claim="50 and 100 reached similar losses and 100 added little: 50 was chosen",
        ),
        Sweep(
            "ncf-dropout",
            "ncf",
            "dropout",
            tuple((str(d), {"dropout": d, **_emb(50)}) for d in (0.1, 0.3, 0.5, 0.7, 0.9)),
            _NCF000,
            description=f"{study('000').name}: dropout at lr 0.01, embedding 50",
            claim="0.7 and 0.9 underfitted; 0.1 fitted best but did not validate better than 0.3 or 0.5: 0.5 was chosen",
        ),
        Sweep(
            "autorec-width",
            "autorec",
            "layers",
            (
                ("128", {"layers": (128,)}),
                ("256", {"layers": (256,)}),
                ("512", {"layers": (512,)}),
                ("128-256-256", {"layers": (128, 256, 256)}),
            ),
            _AUTOREC,
            "ratings",
            description=f"{study('001').name}: 1-layer 128/256/512 vs 3-layer 128-256-256",
            claim="wider one-layer models overfitted (RMSE 1.084); 3 layers 128-256-256 reached 0.951",
        ),
        Sweep(
            "autorec-dropout",
            "autorec",
            "encoder dropout",
            tuple((str(d), {"dropout": d, "layers": (128, 256, 256)}) for d in (0.2, 0.4, 0.6, 0.8)),
            _AUTOREC,
            "ratings",
            description=f"{study('001').name}: dropout on the encoder, 3-layer",
            claim="low dropout worked best: 0.2 gave the lowest RMSE, 0.939",
        ),
        Sweep(
            "autorec-variants",
            "autorec",
            "variant",
            (("plain", {}), ("tied weights", {"tied": True}), ("dense re-feeding", {"refeeding": True})),
            _AUTOREC,
            "ratings",
            description=f"{study('001').name}: tied decoder weights and dense re-feeding",
            claim="tied weights made RMSE worse (0.984) and dense re-feeding did not help (0.947)",
        ),
        Sweep(
            "ncf-diversity",
            "ncf",
            "diversity weight",
            tuple((str(w), {"diversity_weight": w}) for w in (0.0, 0.1, 0.5, 2.0)),
            {"epochs": 12},
            description=f"{study('002').name}: genre-diversity regulariser on the shipped NeuMF (HR@10 vs diversity)",
            claim="the diversity regulariser cost HR@10: 0.593 without it, 0.57 with it (MovieLens 20M)",
        ),
        Sweep(
            "cdae-hidden",
            "cdae",
            "hidden units",
            tuple((str(h), {"hidden": h}) for h in (25, 50, 100, 200)),
            _CDAE,
            description=f"{study('004').name}: hidden layer size",
            claim="one hidden layer of 50 tanh units, as in Wu et al. 2016, picked on validation",
        ),
        Sweep(
            "sasrec-len",
            "sasrec",
            "sequence length",
            tuple((str(n), {"max_len": n}) for n in (10, 20, 50, 100, 200)),
            description="SASRec: how much of a user's history it reads (the latest N interactions)",
        ),
        Sweep(
            ORDER_SWEEP,
            "sasrec",
            "training order",
            (
                ("by time", {"order": "time"}),
                ("ties shuffled", {"order": "shuffle-ties"}),
                ("all shuffled", {"order": "shuffle"}),
            ),
            description="is the order real? SASRec trained on histories by time, with the order inside equal"
            " timestamps shuffled, and shuffled whole (MovieLens is pseudo-sequential: Woolridge et al. 2021)",
        ),
        Sweep(
            "mf-loss",
            "mf",
            "loss",
            (
                ("BCE", {"loss": "bce", "n_negatives": 4}),
                ("BPR", {"loss": "bpr", "n_negatives": 4}),
                ("softmax 4", {"loss": "softmax", "n_negatives": 4}),
                ("softmax 16", {"loss": "softmax", "n_negatives": 16}),
            ),
            description="MF's loss on the shipped MF: BCE, BPR, sampled softmax over 4 / 16 negatives",
        ),
    ]
}


def all_sweeps() -> dict[str, Sweep]:
    out = dict(SHIPPED)
    folder = user_sweeps_dir()
    if folder.exists():
        for p in sorted([*folder.glob("*.toml"), *folder.glob("*.json")]):
            try:
                s = load_sweep_file(p)
                out[s.name] = s
            except RecsysError:
                continue  # a bad user file is reported by `sweep --list`, not fatal here
    return out


def get_sweep(name_or_path: str) -> Sweep:
    if Path(name_or_path).suffix in (".toml", ".json") and Path(name_or_path).exists():
        return load_sweep_file(name_or_path)
    sweeps = all_sweeps()
    if name_or_path not in sweeps:
        raise ConfigError(f"unknown sweep {name_or_path!r}: choose one of {', '.join(sweeps)}")
    return sweeps[name_or_path]


# ------------------------------------------------------------------ running


def user_sweeps_dir() -> Path:
    return Path(os.environ.get("RECSYS_SWEEPS", artifacts_dir() / "sweeps"))


def user_sweep_path(name: str) -> Path:
    """The file of a sweep described in the app (never a shipped sweep's, never outside the
    user sweeps' folder); ConfigError when there is none."""
    if name in SHIPPED:
        raise ConfigError(f"{name!r} is a shipped sweep: it cannot be deleted")
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.strip(".") == "":
        raise ConfigError(f"{name!r} is not a sweep name")
    folder = user_sweeps_dir().resolve()
    for suffix in (".json", ".toml"):
        path = (folder / f"{name}{suffix}").resolve()
        if path.parent == folder and path.is_file():
            return path
    raise ConfigError(f"no sweep {name!r} among the sweeps described here ({folder})")


def save_user_sweep(spec: dict, write: bool = True) -> Sweep:
    """A sweep described in the app (the same keys as a sweep file), checked as a file is,
    then kept as `<name>.json` among the user sweeps; nothing is written when it is invalid
    or when its name is a shipped sweep's (nor with `write=False`: the check alone)."""
    name = str(spec.get("name", "")).strip()
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.strip(".") == "":
        raise ConfigError("name the sweep with letters, digits, '-', '_' or '.'")
    if name in SHIPPED:
        raise ConfigError(f"{name!r} is a shipped sweep: choose another name")
    checked = sweep_from_spec({**spec, "name": name}, "the sweep described")  # before anything is written
    if not write:
        return checked
    folder = user_sweeps_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**spec, "name": name}, indent=2))
    return sweep_from_spec({**spec, "name": name}, path)

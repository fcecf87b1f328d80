"""One form builder: a model's config (its fields' type, range, choices, help and log scale,
declared once in `recsys_core.models.configs`) turned into Streamlit widgets. UI glue only.

`HINTS` says how a field is best drawn where its metadata alone would give a poor slider
(the grid of a log-scale value, a preset list for layer shapes); per-model code only where
a model really differs (NCF's tower is drawn as an embedding size and a depth). Widget
values live in session state under `<model>:<field>` and are kept across page switches.
"""

from __future__ import annotations

import dataclasses
import typing

import streamlit as st

from recsys_core.models.configs import SequentialParams, TrainParams
from recsys_core.runs import catalog

SIZES = [2, 3, 4, 8, 10, 16, 25, 32, 50, 64, 100, 128, 200, 256, 512, 600, 1024]
HALF_LIVES = [0.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0]
OFF = {"format_func": lambda v: "off" if v == 0 else f"{v:g}"}

# field -> how to draw it. kind: grid (a select slider over `options`), slider (lo, hi, step),
# presets (a select box of tuple shapes); label: what the widget says.
HINTS: dict[str, dict] = {
    "lr": {
        "kind": "grid",
        "options": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0],
        "label": "Learning rate",
    },
    "weight_decay": {"kind": "grid", "options": [0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2], "label": "Weight decay"},
    "batch_size": {
        "kind": "grid",
        "options": [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
        "label": "Batch size",
    },
    "epochs": {"kind": "slider", "range": (1, 100, 1), "label": "Epochs (at most)"},
    "patience": {"kind": "slider", "range": (1, 20, 1), "label": "Early-stopping patience"},
    "restart_epochs": {"kind": "slider", "range": (1, 10, 1), "label": "Epochs per cosine cycle"},
    "warmup_epochs": {
        "kind": "grid",
        "options": [0.0, 0.5, 1.0, 2.0, 3.0, 5.0],
        **OFF,
        "label": "LR warm-up (epochs)",
    },
    "momentum": {"kind": "slider", "range": (0.0, 0.99, 0.01), "label": "Momentum"},
    "average_half_life": {
        "kind": "grid",
        "options": [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0],
        **OFF,
        "label": "Weight averaging (half-life, epochs)",
    },
    "recency_half_life": {"kind": "grid", "options": HALF_LIVES, **OFF, "label": "Recency half-life"},
    "n_negatives": {"kind": "slider", "range": (1, 20, 1), "label": "Negatives per positive"},
    "dim": {"kind": "grid", "options": SIZES, "label": "Embedding size"},
    "mf_dim": {"kind": "grid", "options": SIZES, "label": "GMF embedding"},
    "hidden": {"kind": "grid", "options": SIZES, "label": "Hidden units"},
    "diversity_weight": {"kind": "grid", "options": [0.0, 0.01, 0.1, 0.5, 1.0, 5.0], "label": "Diversity weight"},
    "dropout": {"kind": "slider", "range": (0.0, 0.9, 0.05), "label": "Dropout"},
    "corruption": {"kind": "slider", "range": (0.0, 0.9, 0.05), "label": "Input corruption"},
    "user_dropout": {"kind": "slider", "range": (0.0, 0.5, 0.05), "label": "User-id dropout"},
    "embedding_dropout": {"kind": "slider", "range": (0.0, 0.5, 0.01), "label": "Embedding dropout"},
    "loss": {
        "label": "Loss",
        "format_func": {
            "bce": "BCE",
            "bpr": "BPR",
            "softmax": "sampled softmax",
            "full": "full softmax",
            "gbce": "generalised BCE (gSASRec)",
        }.get,
    },
    "max_len": {"kind": "grid", "options": [5, 10, 20, 50, 100, 200, 400], "label": "Sequence length read"},
    "blocks": {"kind": "slider", "range": (1, 6, 1), "label": "Self-attention blocks"},
    "heads": {"kind": "grid", "options": [1, 2, 4, 8], "label": "Attention heads"},
    "block": {"label": "Block type", "format_func": {"sasrec": "SASRec's", "ligr": "LiGR (gated, eSASRec)"}.get},
    "ffn_factor": {"kind": "grid", "options": [1, 2, 4, 8], "label": "Feed-forward width"},
    "init": {"label": "Starting weights", "format_func": {"torch": "torch's defaults", "normal": "N(0, 0.02)"}.get},
    "layers@gru4rec": {"kind": "slider", "range": (1, 4, 1), "label": "GRU layers"},
    "n_negatives@sasrec": {"kind": "grid", "options": [16, 64, 256, 1024, 4096], "label": "Negatives"},
    "n_negatives@gru4rec": {"kind": "grid", "options": [16, 64, 256, 1024, 4096], "label": "Negatives"},
    "n_negatives@bert4rec": {"kind": "grid", "options": [16, 64, 256, 1024, 4096], "label": "Negatives"},
    "gbce_t": {"kind": "slider", "range": (0.0, 1.0, 0.05), "label": "gBCE calibration t"},
    "mask_prob": {"kind": "slider", "range": (0.05, 0.6, 0.05), "label": "Share of items masked"},
    "validate_on": {
        "label": "Validation candidates",
        "format_func": {"uniform": "99 sampled items", "full": "every item"}.get,
    },
    "order": {"label": "Training order"},
    "batching": {
        "label": "Batches",
        "format_func": {"random": "random windows", "by-length": "windows of similar length"}.get,
    },
    "windows": {
        "label": "Training windows",
        "format_func": {"every": "the whole history", "latest": "the latest window only"}.get,
    },
    "targets": {
        "label": "Targets",
        "format_func": {"next": "the next item", "ties": "the next item's second"}.get,
    },
    "stride": {
        "kind": "grid",
        "options": [0, 5, 10, 25],
        "format_func": lambda v: "none" if v == 0 else f"{v:g}",
        "label": "Window stride",
    },
    "context_grad": {"label": "Context gradients"},  # a longer label is cut off beside its toggle
    "stride@bert4rec": {"hidden": True},  # it fills in hidden items of whole windows
    "context_grad@sasrec": {"hidden": True},  # attention trains through its context
    "context_grad@bert4rec": {"hidden": True},
    "batching@gru4rec": {"hidden": True},  # its state runs through padding: random batches only
    "targets@bert4rec": {"hidden": True},  # it fills in hidden items: the next item only
    "positional": {"label": "Positions"},  # a longer label is cut off beside its toggle
    "sampler": {"label": "Negative sampler"},
    "optimizer": {"label": "Optimizer"},
    "schedule": {"label": "LR schedule"},
    "variant": {"label": "Variant"},
    "genre_features": {"label": "Genre features", "needs_genres": True},
    "pretrain": {"label": "Pre-train GMF and MLP"},
    "pos_weight": {"label": "Rare-item positive weights"},
    "tied": {"label": "Tied decoder weights"},
    # the sequential models: items scored by the table they are read through (off: one of their own)
    **{f"tied@{m}": {"label": "Tied output"} for m in ("sasrec", "gru4rec", "bert4rec")},
    "refeeding": {"label": "Dense re-feeding"},
    "layers@autorec": {
        "kind": "presets",
        "options": [(128,), (256,), (512,), (128, 128), (128, 256, 256), (500, 500, 1000)],
        "label": "Encoder layers",
    },
    "hidden@embnet": {
        "kind": "presets",
        "options": [(100,), (100, 50), (200, 100), (500, 250), (1000, 500, 250)],
        "label": "Hidden layers",
    },
    "dropouts@embnet": {"kind": "shared", "range": (0.0, 0.9, 0.05), "label": "Hidden dropout"},
    "amp": {"label": "Mixed precision"},
}
SKIP = {"seed", "device", "pretrain_epochs", "negatives_per_user", "item_based", "amp"}
TRAINING = {f.name for f in dataclasses.fields(TrainParams)}


def _hint(model: str, name: str) -> dict:
    return HINTS.get(f"{name}@{model}", HINTS.get(name, {}))


def shown(model: str, name: str, value) -> str:
    """A setting as its widget shows it: "Starting weights: torch's defaults"."""
    hint = _hint(model, name)
    label = hint.get("label") or name.replace("_", " ").capitalize()
    return f"{label}: {hint.get('format_func', str)(value)}"


def keep(key: str, default) -> None:
    """Start a widget at its saved value (kept across page switches, when Streamlit drops the
    widget's own state), else at the shipped default."""
    saved = st.session_state.setdefault("_form_saved", {})
    if key not in st.session_state:
        st.session_state[key] = saved.get(key, default)


def save(key: str) -> None:
    st.session_state["_form_saved"][key] = st.session_state[key]


def reset(model: str, spare=()) -> None:
    """Forget a model's settings but the keys in `spare`: its widgets start at the shipped defaults again."""
    saved = st.session_state.get("_form_saved", {})
    for key in [k for k in list(st.session_state) if str(k).startswith(f"{model}:") and k not in spare]:
        del st.session_state[key]
    for key in [k for k in list(saved) if str(k).startswith(f"{model}:") and k not in spare]:
        del saved[key]


def field_widget(model: str, f: dataclasses.Field, default, hint_type, disabled: bool = False, label=None):
    """One widget for one config field, started at `default`; returns its value."""
    key, meta, hint = f"{model}:{f.name}", f.metadata, _hint(model, f.name)
    label = label or hint.get("label") or f.name.replace("_", " ").capitalize()
    helptext = meta.get("help") or None
    kind = hint.get("kind")
    if kind == "presets":
        options = list(dict.fromkeys([*hint["options"], tuple(default)]))
        keep(key, tuple(default))
        value = st.selectbox(
            label, options, key=key, help=helptext, disabled=disabled, format_func=lambda v: "-".join(map(str, v))
        )
    elif kind == "shared":  # one value for every entry of a tuple (embnet's dropouts)
        lo, hi, step = hint["range"]
        keep(key, float(default[0]) if default else 0.0)
        value = st.slider(label, lo, hi, step=step, key=key, help=helptext, disabled=disabled)
    elif hint_type is bool:
        keep(key, bool(default))
        value = st.toggle(label, key=key, help=helptext, disabled=disabled)
    elif meta.get("choices"):
        keep(key, default)
        value = st.selectbox(
            label,
            list(meta["choices"]),
            key=key,
            help=helptext,
            disabled=disabled,
            format_func=hint.get("format_func", str),
        )
    elif kind == "grid":
        options = sorted(set(hint["options"]) | {default})
        keep(key, default)
        fmt = hint.get("format_func", lambda v: f"{v:g}")
        value = st.select_slider(label, options, key=key, help=helptext, disabled=disabled, format_func=fmt)
    else:
        lo, hi, step = hint.get("range", (meta.get("min") or 0, meta.get("max") or 100, None))
        lo, hi = min(lo, default), max(hi, default)
        if hint_type is int:
            lo, hi, step = int(lo), int(hi), int(step or 1)
        else:
            lo, hi, step = float(lo), float(hi), float(step or 0.05)
        keep(key, hint_type(default))
        value = st.slider(label, lo, hi, step=step, key=key, help=helptext, disabled=disabled)
    save(key)
    return value


def config_form(model: str, cfg, has_genres: bool, mixed: bool) -> dict:
    """(model settings, training settings): the widgets of every field of `cfg` a user sets,
    in two groups, started at `cfg`'s values (mixed precision only where this machine's device
    has it, `mixed`). Returns the overrides they make."""
    hints = typing.get_type_hints(type(cfg))
    fields = [f for f in dataclasses.fields(cfg) if f.name not in SKIP or (f.name == "amp" and mixed)]
    own = set(type(cfg).__annotations__)  # the model's own settings first, then those it shares
    fields.sort(key=lambda f: f.name not in own)
    out = {}
    columns = st.columns(2)
    for group, col in zip(("model", "training"), columns):
        with col:
            st.markdown(f"**{group.capitalize()}**")
            for f in fields:
                if (f.name in TRAINING) != (group == "training"):
                    continue
                if model == "ncf" and f.name in ("layers", "mf_dim", "pretrain"):
                    continue  # drawn by ncf_tower, below
                if f.name == "momentum" and out.get("optimizer") != "sgd":
                    continue
                if f.name == "restart_epochs" and out.get("schedule") != "cosine-restarts":
                    continue
                if f.name == "n_negatives" and out.get("loss") in ("bce", "full") and isinstance(cfg, SequentialParams):
                    continue  # a sequential model's negatives: the sampled losses' only
                if f.name == "gbce_t" and out.get("loss") != "gbce":
                    continue
                if f.name == "context_grad" and not out.get("stride"):
                    continue  # a window's context is only read apart from its targets with a stride
                if _hint(model, f.name).get("hidden"):
                    continue
                if f.name == "validate_on" and catalog.entry(model).task != "ranking":
                    continue  # a rating model validates on RMSE
                disabled = _hint(model, f.name).get("needs_genres", False) and not has_genres
                if f.name == "diversity_weight":
                    disabled = not has_genres
                value = field_widget(model, f, getattr(cfg, f.name), hints[f.name], disabled)
                if _hint(model, f.name).get("kind") == "shared":
                    value = (value,) * len(out.get("hidden", getattr(cfg, "hidden", ())) or (1,))
                out[f.name] = value
                if model == "ncf" and f.name == "variant":
                    out.update(ncf_tower(cfg, value))
    return out


def ncf_tower(cfg, variant: str) -> dict:
    """NCF's one real difference: the tower is an MLP embedding size and a depth (each layer
    halves), GMF's size only where GMF is used, and pre-training only for NeuMF."""
    out, key = {}, "ncf:"
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    if variant != "mlp":
        out["mf_dim"] = field_widget("ncf", fields["mf_dim"], cfg.mf_dim, int)
    if variant != "gmf":
        keep(key + "mlp_dim", cfg.layers[0] // 2)
        e = st.select_slider(
            "MLP embedding",
            sorted(set(SIZES) | {cfg.layers[0] // 2}),
            key=key + "mlp_dim",
            help="the tower's first layer is 2 x this",
        )
        save(key + "mlp_dim")
        keep(key + "depth", len(cfg.layers))
        depth = st.slider("Tower depth", 1, 5, key=key + "depth", help="each layer halves")
        save(key + "depth")
        out["layers"] = tuple(max(2 * e // 2**j, 1) for j in range(depth))
        st.caption(f"Tower: {'-'.join(map(str, out['layers']))}")
    out["pretrain"] = field_widget("ncf", fields["pretrain"], cfg.pretrain, bool, disabled=variant != "neumf")
    if variant != "neumf":
        out["pretrain"] = False
    return out

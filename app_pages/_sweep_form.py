"""The Sweeps page's "New sweep" form: a sweep described with widgets (model, the settings it
varies with their values or ranges, a budget, pruning, where it runs), turned into the same
spec a sweep file holds; `recsys_core.sweeps.registry.save_user_sweep` checks it as the Train page
checks a setting (one validation, in the config metadata). UI glue only.
"""

from __future__ import annotations

import dataclasses
import typing

import streamlit as st

from app_pages._form import HINTS, SKIP
from recsys_core.errors import ConfigError
from recsys_core.evaluation import splits
from recsys_core.evaluation.protocols import RANKING, RATING
from recsys_core.runs import catalog

METHODS = {"grid": "Grid: every combination", "random": "Random search", "tpe": "TPE search (Optuna)"}
BASE = ("epochs", "patience")  # shared by every point, not varied here
MAX_POINTS = 200  # points a sweep described here may have


def tunable(model: str) -> dict[str, tuple[dataclasses.Field, type, object]]:
    """The settings of `model` a sweep can vary: numbers, switches and choices (not shapes)."""
    cfg = catalog.config_for(model)
    hints = typing.get_type_hints(type(cfg))
    out = {}
    for f in dataclasses.fields(cfg):
        t = hints[f.name]
        if f.name in SKIP or f.name in BASE or typing.get_origin(t) is tuple:
            continue
        if t in (int, float, bool) or f.metadata.get("choices"):
            out[f.name] = (f, t, getattr(cfg, f.name))
    return out


def _parse_values(text: str, kind: type, name: str) -> list:
    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            values.append(kind(float(part)) if kind is int else kind(part))
        except ValueError as e:
            raise ConfigError(f"{name}: {part!r} is not a number") from e
    if not values:
        raise ConfigError(f"{name}: give at least one value")
    return values


def _numeric_range(f, kind: type, default) -> tuple:
    """A starting range around the default: a decade either side on a log scale, else halving
    and doubling, kept inside the setting's own bounds."""
    lo_bound, hi_bound = f.metadata.get("min"), f.metadata.get("max")
    if f.metadata.get("log") and default:
        lo, hi = default / 10, default * 10
    elif default:
        lo, hi = default / 2, default * 2
    else:
        lo, hi = 0, 1
    if lo_bound is not None:
        lo = max(lo, lo_bound)
    if hi_bound is not None:
        hi = min(hi, hi_bound if not f.metadata.get("max_open") else hi_bound * 0.99)
    if kind is int:
        return int(lo), int(max(hi, lo + 1))
    return float(f"{lo:.3g}"), float(f"{hi:.3g}")  # 0.0003, not 0.00030000000000000003


def sweep_form(src: str, existing: list[str], ray_address: str | None) -> tuple[dict, str, int] | None:
    """The form; on submit (spec, executor kind, pool workers), else None.

    long: a form's widgets in the order a person fills them; Streamlit draws them in the
    order the code runs."""
    models = catalog.neural_models()
    c1, c2 = st.columns(2)
    model = c1.selectbox("Model", models, key="new_sweep_model")
    method = c2.segmented_control(
        "Kind", list(METHODS), default="grid", format_func=METHODS.get, key="new_sweep_method"
    )
    method = method or "grid"
    options = tunable(model)
    varied = st.multiselect(
        "Settings to vary",
        list(options),
        default=[n for n in ("lr",) if n in options],
        format_func=lambda n: HINTS.get(n, {}).get("label", n.replace("_", " ")),
        key=f"new_sweep_params_{model}",
        help="Grid: every combination of the values given. Searches draw points from the ranges given.",
    )
    space, grid = {}, {}
    for name in varied:
        f, kind, default = options[name]
        key = f"new_sweep:{model}:{method}:{name}"
        label = HINTS.get(name, {}).get("label", name.replace("_", " "))
        choices = list(f.metadata.get("choices") or ([True, False] if kind is bool else []))
        if choices:
            picked = st.multiselect(label, choices, default=choices, key=key, help=f.metadata.get("help"))
            (grid if method == "grid" else space)[name] = picked if method == "grid" else {"choices": picked}
            continue
        if method == "grid":
            text = st.text_input(
                f"{label}: values, comma-separated", str(default), key=key, help=f.metadata.get("help")
            )
            grid[name] = _parse_values(text, kind, name) if text.strip() else []
            continue
        lo, hi = _numeric_range(f, kind, default)
        a, b, c = st.columns([2, 2, 1])
        low = a.number_input(f"{label}: from", value=lo, key=key + ":lo", format=None if kind is int else "%g")
        high = b.number_input(f"{label}: to", value=hi, key=key + ":hi", format=None if kind is int else "%g")
        log = c.toggle("log scale", value=bool(f.metadata.get("log")), key=key + ":log")
        space[name] = {"low": low, "high": high, **({"log": True} if log else {})}

    entry = catalog.entry(model)
    protocols = list(RATING) if entry.task == "rating" else list(RANKING)
    d1, d2, d3, d4 = st.columns(4)
    protocol = d1.selectbox("Protocol", protocols, key="new_sweep_protocol", help=splits.describe(protocols[0]))
    # no bounds on the widgets: a value out of range is said on Start, never silently snapped back
    epochs = d2.number_input("Epochs (at most)", value=int(entry.config.epochs), step=1, key="new_sweep_epochs")
    budget = d3.number_input("Budget (points)", value=8, step=1, key="new_sweep_budget", disabled=method == "grid")
    prune = d4.toggle(
        "Median pruning",
        key="new_sweep_prune",
        help="Stop a point whose validation curve falls below the other points' median at the same epoch.",
    )
    kinds = {"sequential": "This server, one point at a time", "pool": "A process pool on this server"}
    if ray_address:
        kinds["ray"] = f"The Ray cluster at {ray_address}"
    e1, e2, e3 = st.columns([2, 1, 2])
    where = e1.radio("Run on", list(kinds), format_func=kinds.get, key="new_sweep_executor")
    workers = e2.number_input("Workers", value=2, step=1, key="new_sweep_workers", disabled=where != "pool")
    n = 1
    for values in grid.values():
        n *= len(values)
    default_name = f"{model}-{method}-{len(existing) + 1}"
    name = e3.text_input("Name", default_name, key=f"new_sweep_name_{model}_{method}")
    size = n if method == "grid" else int(budget)
    if not st.button(f"Start the sweep ({size} points, background)", key="new_sweep_start", type="primary"):
        return None
    if not varied:
        raise ConfigError("pick at least one setting to vary")
    for what, value, lo, hi, use in (
        ("epochs", epochs, 1, 1000, True),
        ("budget", budget, 1, MAX_POINTS, method != "grid"),
        ("workers", workers, 2, 64, where == "pool"),
    ):
        if use and not lo <= value <= hi:
            raise ConfigError(f"{what} {value:g}: give a whole number from {lo} to {hi}; nothing was started")
    if method == "grid" and not 1 <= size <= MAX_POINTS:
        raise ConfigError(f"the grid has {size} points: give every setting a value, at most {MAX_POINTS} points in all")
    spec = {
        "name": name.strip(),
        "model": model,
        "protocol": protocol,
        "description": f"{METHODS[method].split(':')[0].lower()} over {', '.join(varied)}, described in the app",
        "base": {"epochs": int(epochs)},
    }
    if method == "grid":
        spec["grid"] = grid
    else:
        spec["search"] = {"method": method, "budget": int(budget), "seed": 0, "space": space}
    if prune:
        spec["prune"] = "median"
    return spec, where, int(workers)

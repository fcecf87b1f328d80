"""Small pieces the pages share that hold no state of the server: readable tables with their
metric help, page links and deep links (a page's choice in its URL), the lead phrase of a
paired test, a sweep point's id, the words of a build's progress, a dataset's label in the
picker and its own words ("products", "categories").
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from recsys_core.data import Dataset
from recsys_core.data.logspec import is_log
from recsys_core.data.lookup import find_movie, find_user
from recsys_core.errors import RecsysError
from recsys_core.runs.results import Results


def index_from_url(ds: Dataset, param: str, what: str) -> int | None:
    """A deep link: `?user=<original user id>` or `?movie=<movie id or title>` picks the user or
    movie when the page opens; an unknown one is said, and the default shown instead."""
    raw = st.query_params.get(param)
    if raw is None:
        return None
    try:
        if param == "user":
            return find_user(ds, raw)
        return find_movie(ds, raw if not raw.isdigit() else f"id:{raw}")
    except RecsysError as e:
        st.warning(f"{e}. Showing the default {what} instead.")
        return None


def page_link(page: str, label: str, icon: str | None = None, params: dict | None = None) -> None:
    """st.page_link (with the link parameters that open the same view), or the label as text
    when the page runs outside st.navigation (a test)."""
    try:
        st.page_link(page, label=label, icon=icon, query_params=params or None)
    except StreamlitAPIException:
        st.caption(label)


def build_activity(p: dict) -> str:
    """'training ncf (pre-training GMF), epoch 3 of at most 20, 0.4 s an epoch: at most 7 s
    left in it' from a build job's progress: the model being trained now, its epoch, and an
    upper bound from the median of its measured epoch times (one slow epoch does not swing
    it; early stopping usually ends sooner)."""
    now = p.get("current") or "starting"
    if now in ("starting", "done"):
        return now
    epochs, epoch = p.get("epochs"), p.get("epoch") or 0
    times = p.get("epoch_times") or ([p["epoch_seconds"]] if p.get("epoch_seconds") else [])
    phase = p.get("phase")
    text = f"training {now}" + (f" ({phase})" if phase and phase.startswith("pre-training") else "")
    if p.get("paused_for"):
        return f"{text}: paused for {p['paused_for']}"
    if epochs:
        text += f", epoch {max(epoch, 1)} of at most {epochs}"
        if times:
            per = float(np.median(times))
            text += f", {per:.1f} s an epoch: at most {max(epochs - epoch, 0) * per:.0f} s left in it"
    elif phase == "preparing":
        text = f"preparing {now}"
    return text


def point_id(point: dict) -> int | None:
    """The id a chart's point carries in `custom_data`. Streamlit hands `customdata` back as a
    list for some traces and as a dict ({'0': 17}) for others (WebGL and SVG scatters in
    1.67); None when the point carries none (a legend item, a trace without ids)."""
    data = point.get("customdata")
    if isinstance(data, dict):
        data = data.get("0", next(iter(data.values()), None))
    elif isinstance(data, (list, tuple)):
        data = data[0] if data else None
    try:
        return int(data) if data is not None else None
    except (TypeError, ValueError):
        return None


# What each figure means, one hover away wherever a table shows it.
METRIC_HELP = {
    "HR@10": "Hit ratio: share of users whose held-out movie is in the model's top 10 (higher is better).",
    "NDCG@10": "Like HR@10, but a hit counts more the higher it ranks (1 at rank 1, 0.39 at rank 10).",
    "Recall@10": "Share of a user's held-out movies found in the top 10 (one held-out movie here: equals HR@10).",
    "MRR@10": "Mean reciprocal rank: 1 / the held-out movie's rank, 0 when it is not in the top 10.",
    "AUC": "Chance that the held-out movie scores above a random candidate (0.5 = guessing).",
    "RMSE": "Root mean squared error of predicted star ratings (lower is better).",
    "MAE": "Mean absolute error of predicted star ratings, in stars (lower is better).",
    "coverage": "Share of the catalogue that appears in anyone's top 10.",
    "diversity": "1 − mean genre similarity of the movies within a top-10 list (higher = more varied lists).",
    "novelty": "Mean −log₂ popularity of recommended movies (higher = less mainstream).",
    "gini": "Inequality of how often movies are recommended (0 = evenly, 1 = always the same few).",
    "MAP@10": "Mean average precision: the precision at each held-out item found in the top 10, averaged.",
    "genre_calibration": "KL divergence of a list's genre mix from the user's own history (Steck 2018; 0 = same mix).",
    "popularity_calibration": "Jensen-Shannon divergence of a list's head/mid/tail mix from the user's history"
    " (Abdollahpouri et al. 2021; 0 = as mainstream as the user).",
    "gap to next": "The model's NDCG@10 less the next model's, paired over the same users; ✓ when the Holm-corrected"
    " Wilcoxon test and the bootstrap interval both say the gap is real, ≈ when it is within noise.",
    "train loss": "The training objective at the kept epoch (not comparable across different losses).",
    "valid loss": "The same objective on the validation item (lower is better).",
    "best epoch": "The epoch whose weights were kept (the best on validation).",
    "valid NDCG@10": "NDCG@10 on each user's validation item: what early stopping and ★ best look at.",
    "valid RMSE": "RMSE on the validation ratings: what early stopping and ★ best look at.",
}


COLUMN_NAMES = {"train_loss": "train loss", "valid_loss": "valid loss", "best_epoch": "best epoch", "note": "why"}


def readable(df):
    """A table as people read it: column names in words, and a dash where a value is missing
    (a point not run yet, a metric a protocol has not) instead of 'None'."""
    shown = df.rename(columns=COLUMN_NAMES)
    return shown.style.format(na_rep="–", precision=4)


def metric_help(columns) -> dict:
    """column_config giving every known metric column its meaning as a hover."""
    names = [COLUMN_NAMES.get(c, c) for c in columns]
    return {c: st.column_config.Column(c, help=METRIC_HELP[c]) for c in names if c in METRIC_HELP}


def broken_note(res: Results) -> None:
    """Say which shipped models are being rebuilt because a stored file failed its checksum."""
    for m in res.broken():
        st.warning(f"**{m}**: a stored file failed its checksum; it is being rebuilt in the background.")


def link(key: str, options) -> None:
    """Shareable views: a widget keyed `key` starts at `?key=value` from the address bar
    (when it names one of `options`) the first time a session draws it; `publish` writes the
    widget's value back, so a copied link opens the same view."""
    raw = st.query_params.get(key)
    seeded = st.session_state.setdefault("_linked", set())
    if key in seeded:  # only the first draw reads the link; after that the widget leads
        return
    seeded.add(key)
    if raw is None:
        return
    for option in options:
        if str(option) == raw:
            st.session_state[key] = option
            return


def publish(key: str) -> None:
    if key in st.session_state and st.session_state[key] is not None:
        st.query_params[key] = str(st.session_state[key])


def start_at(key: str, options, default) -> None:
    """Before a keyed picker: its value from the link, else the one kept in the session, else
    `default` (drawn without index=, so Streamlit never sees two starting values)."""
    link(key, options)
    if st.session_state.get(key) not in list(options):
        st.session_state[key] = default


def gap_phrase(g: dict | None) -> str:
    """A board's "gap to next" cell: ✓ (real) or ≈ (within noise), the NDCG@10 difference and
    the Holm-corrected p ("p<0.001" below that: 3.8e-11 cut the column off)."""
    if g is None:
        return "–"
    p = "p<0.001" if g["p_holm"] < 0.001 else f"p {g['p_holm']:.2g}"
    return f"{'✓' if g['significant'] else '≈'} {g['test'].diff:+.3f} ({p})"


def lead_phrase(kept, gap) -> str:
    """What a shuffled SASRec keeps of its lead over the best order-blind model, in words:
    a share while it stays ahead, how far below once it falls behind ("" when unknown)."""
    if kept is None or gap is None or pd.isna(kept) or pd.isna(gap):
        return ""
    if gap >= 0:
        return f" (keeps {kept:.0%} of its lead over the best order-blind model)"
    return f" ({-gap:.3f} below the best order-blind model: none of its lead left)"


def dataset_label(src: str) -> str:
    """How the picker names a dataset: a dataset file added here by its name."""
    if src.lower().endswith(".toml"):
        return f"Your data: {os.path.basename(src)[:-5]}"
    if is_log(src):
        return f"Your data: {os.path.basename(src.split('?', 1)[0])}"
    return src


def words(ds: Dataset) -> dict:
    """The dataset's own words for the pages: item ("movie", "product"), items, Items, categories."""
    noun, cats = ds.item_noun, ds.category_noun
    plural = noun if noun.endswith("s") else f"{noun}s"
    one = cats[:-3] + "y" if cats.endswith("ies") else cats.removesuffix("s")  # categories -> category
    return {
        "item": noun,
        "items": plural,
        "Item": noun.capitalize(),
        "Items": plural.capitalize(),
        "categories": cats,
        "category": one or "category",
    }

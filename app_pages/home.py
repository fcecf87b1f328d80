"""Home: the data at a glance, the device, the leaderboard of the shipped models."""

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages._shared import (
    access_settings,
    auto_build,
    build_job,
    build_models,
    cached_dataset,
    caller,
    current_dataset,
    job_manager,
    jobs_panel,
    offered_note,
    refused,
    results,
    show_build_progress,
    store,
)
from app_pages._widgets import METRIC_HELP, broken_note, gap_phrase, lead_phrase, words
from recsys_core import jobs
from recsys_core.data import summary
from recsys_core.errors import RecsysError
from recsys_core.evaluation.protocols import ALL_RANKING, PROTOCOLS, TEMPORAL, WHY_URL
from recsys_core.evaluation.splits import describe
from recsys_core.jobs.access import loopback
from recsys_core.runs import catalog
from recsys_core.runs.results import Results
from recsys_core.training.devices import describe_device


def order_note(res: Results) -> None:
    """Is the order real? The order ablation (the `sasrec-order` sweep), where it has run."""
    df = res.order_ablation()
    if df.empty or len(df) < 2:
        return
    parts = []
    for _, r in df.iterrows():
        kept = lead_phrase(r.get("lead kept"), r.get("vs best order-blind"))
        parts.append(f"{r['training order']}: {r['NDCG@10']:.3f}{kept if r['training order'] != 'by time' else ''}")
    text = "; ".join(parts)
    st.caption(
        f"**Is the order real?** SASRec's NDCG@10 trained on each user's history {text}. MovieLens has many"
        " ratings at the same second (pseudo-sequential, Woolridge et al. 2021): what survives the shuffles is"
        " what the order adds. The sweep `sasrec-order` on the Sweeps page."
    )


def leaderboard_tab(res: Results, board, p: str, show_rating: bool) -> None:
    """One protocol's board: what it is, the figures, and which gaps are real (paired tests).

    long: the page's elements in the order they are drawn (Streamlit draws as the code runs)."""
    record = PROTOCOLS[p]
    st.caption(
        describe(p)
        + (
            ". Figures on the test set, best-epoch weights of the model trained with each user's validation item held"
            " out (as RecBole does; `evaluate --refit` trains on it too)."
            if record.split == "leave-one-out"
            else "."
        )
    )
    if record.sampled:
        st.caption(
            f":material/info: **Sampled protocol**: kept to compare with the papers that report it. Sampled metrics"
            f" can reorder models, even in expectation ([Krichene and Rendle, KDD 2020]({WHY_URL})), so the"
            " headline is **full** ranking."
        )
    sub = board[board["protocol"] == p]
    if p == TEMPORAL and sub.empty:
        st.info(
            "The shipped models under the global temporal split are runs of their own (trained only on what came"
            " before the validation window): build them in the background, or `python -m recsys_core build"
            " --temporal`."
        )
        job = job_manager().find(f"build {TEMPORAL} {st.session_state['dataset']}")
        if (job is None or not job.active) and st.button("Build the temporal board", key="build_temporal"):
            try:
                job = jobs.submit_build(
                    job_manager(), store(), st.session_state["dataset"], build_models(), TEMPORAL, caller()
                )
            except RecsysError as e:
                refused(e)
        if job is not None:
            show_build_progress(job)
        return
    if p == "ratings":
        cols = ["model", "RMSE", "MAE", "train_seconds"]
        sub = sub.sort_values("RMSE")
        show_table(sub, cols)
        st.caption("AutoRec and embnet are rating models: trained and judged on predicting the stars people gave.")
        return
    rating = sub[sub["task"] == "rating"]
    if not show_rating:
        sub = sub[sub["task"] != "rating"]
    sub = sub.sort_values("NDCG@10", ascending=False).copy()
    sub["model"] = [f"{m} (rating model)" if t == "rating" else m for m, t in zip(sub["model"], sub["task"])]
    order = [m.removesuffix(" (rating model)") for m in sub["model"]]
    gaps = res.gaps(p, order)
    sub["gap to next"] = [gap_phrase(g) for g in gaps]
    cols = ["model", "HR@10", "NDCG@10", "Recall@10", "MRR@10"]
    cols += ["MAP@10"] if record.split == "temporal" else []
    cols += ["AUC"] if record.sampled else []
    cols += ["gap to next", "coverage", "novelty", "genre_calibration", "popularity_calibration", "train_seconds"]
    if not res.ds.has_genres:  # no categories: nothing to calibrate against
        cols.remove("genre_calibration")
    show_table(sub, [c for c in cols if c in sub], words(res.ds)["category"])
    bounded_note(res.ds, order)
    tested = [g for g in gaps if g is not None]
    if tested:
        st.caption(
            "**Gap to next**: each model against the one below it on NDCG@10, paired over the same users (Wilcoxon"
            f" signed-rank test, 95% bootstrap interval), Holm-corrected over the {len(tested)} gaps of this board:"
            " ✓ a real gap, ≈ within noise. `python -m recsys_core compare A B` gives the whole test."
        )
    elif len(sub) > 1:
        st.caption("Paired tests appear once each model's per-user ranks are stored (the next build stores them).")
    if record.split == "temporal":
        m = sub.iloc[0]
        st.caption(
            f"{m['users']:,.0f} users with {m['targets']:,.0f} test-window interactions are ranked; left out and"
            f" counted: {m['cold_users']:,.0f} users with no training history ({m['cold_user_targets']:,.0f}"
            f" interactions), {m['repeat_targets']:,.0f} repeats. {m['new_item_targets']:,.0f} targets are items no"
            " one had in training (kept)."
        )
    if not show_rating and not rating.empty:
        st.caption(
            f"{', '.join(rating['model'])}: rating models, hidden here (see the ratings tab, or the toggle above)."
        )
    st.caption(
        "Coverage and novelty (mean −log₂ popularity) are computed on the full-ranking top-10 lists; genre"
        " calibration (Steck 2018) and popularity calibration (Abdollahpouri et al. 2021) say how far each list's"
        " genre mix and head/mid/tail mix stray from the user's own history (0 = the same)."
    )
    if any(catalog.entry(m).family == "sequential" for m in order if m in catalog.ZOO):
        st.caption(
            "SASRec, GRU4Rec and BERT4Rec read each user's history in order (BERT4Rec fills in a masked slot after"
            " it); for the test figures they read up to the held-out movie (temporal: up to the test window)"
            " without retraining, as SASRec's own evaluation does; so does EASE, its item-item weights unchanged."
        )
    if "blend" in order:
        blend_note(res, p)
    if p == "loo-uniform":
        order_note(res)


def blend_note(res, protocol: str) -> None:
    """What the blend on this board mixes, and that its weights were picked on validation (the
    temporal split's blend is a run of its own, weighted on that split's validation window)."""
    found = res.blend_weights(protocol=protocol)
    if found is None:
        return
    weights, picked = found
    mix = " + ".join(f"{w:.2f} × {name}" for name, w in weights.items())
    on = (
        "the validation window (the 10% before the test window, every item ranked)"
        if protocol == TEMPORAL
        else f"the validation item ranked against every unseen {words(res.ds)['item']}"
    )
    how = (
        f", the best of {picked['tried']} weightings on {on} (NDCG@10 {picked['NDCG@10']:.3f})"
        if "tried" in picked
        else ", fixed"
    )
    st.caption(
        f"**blend** = {mix}, each model's scores standardised per user{how}; never chosen on the test. Its train"
        " seconds are its own (the weights): its models' are on their rows."
    )


def bounded_note(ds, order) -> None:
    """Say so where a model on this board covers only part of the catalogue (EASE, bounded)."""
    cap = catalog.config_for("ease").max_items
    if "ease" in order and cap and ds.n_items > cap:
        w = words(ds)
        st.caption(
            f":material/info: **ease** covers the {cap:,} most popular of the {ds.n_items:,} {w['items']}: its"
            f" item-item matrix for all of them would take {ds.n_items**2 * 4 / 2**30:,.1f} GB. The others are never"
            " in its lists (a held-out one counts as a miss), and have no item-item weights."
        )


@st.cache_data(max_entries=4, show_spinner=False)
def data_charts(src: str, fingerprint: str) -> dict:
    """The frames the data charts draw, computed once per dataset (25 million rows took seconds
    a rerun), the activity histograms binned here so the browser gets 100 bars, not every count."""
    ds = cached_dataset(src)
    bins = []
    for who, values in (("per user", ds.user_activity), (f"per {ds.item_noun}", ds.item_popularity)):
        counts, edges = np.histogram(values, bins=50)
        mids = (edges[:-1] + edges[1:]) / 2
        ranges = [f"{a:,.0f}-{b:,.0f}" for a, b in zip(edges[:-1], edges[1:])]
        bins.append(pd.DataFrame({"who": who, "ratings": mids, "count": counts, "range": ranges}))
    activity = pd.concat(bins, ignore_index=True)
    return {
        "ratings": summary.rating_histogram(ds) if not ds.implicit else None,
        "activity": activity[activity["count"] > 0],
        "stats": summary.activity_stats(ds),
        "genres": summary.genre_counts(ds),
        "over_time": summary.ratings_over_time(ds),
    }


def show_table(sub, cols, category: str = "genre") -> None:
    st.dataframe(
        sub[cols].set_index("model"),
        width="stretch",
        column_config={
            "train_seconds": st.column_config.NumberColumn("train s", format="%.1f"),
            "genre_calibration": st.column_config.NumberColumn(
                f"{category} calib.", format="%.3f", help=METRIC_HELP["genre_calibration"]
            ),
            "popularity_calibration": st.column_config.NumberColumn(
                "popularity calib.", format="%.3f", help=METRIC_HELP["popularity_calibration"]
            ),
            "gap to next": st.column_config.TextColumn("gap to next", help=METRIC_HELP["gap to next"], width=125),
            **{
                c: st.column_config.NumberColumn(c, format="%.3f", help=METRIC_HELP.get(c))
                for c in cols
                if c not in ("model", "train_seconds", "gap to next", "genre_calibration", "popularity_calibration")
            },
        },
    )


ds = current_dataset()
st.title("Recsys Explorer")
if not loopback(st.get_option("server.address")) and not access_settings().configured:
    st.warning(
        "This server answers on every network interface and has no access settings: anyone who reaches it can"
        " train, run sweeps, fetch, rebuild and delete. Set RECSYS_EDITOR_TOKEN (or `editor_token` in"
        " .streamlit/secrets.toml) to make visitors viewers, or start it with `--server.address 127.0.0.1`.",
        icon=":material/public:",
    )
if ds is None:
    st.stop()
src = st.session_state["dataset"]
w = words(ds)

info = ds.info()
st.caption(
    f"Dataset **{ds.name}** · {'interactions' if ds.implicit else 'ratings'} from {info['first_rating']}"
    f" to {info['last_rating']}"
    f" · fingerprint `{ds.fingerprint}`"
)
c = st.columns(5)
c[0].metric("Users", f"{ds.n_users:,}")
c[1].metric(w["Items"], f"{ds.n_items:,}")
c[2].metric("Interactions" if ds.implicit else "Ratings", f"{ds.n_ratings:,}")
c[3].metric("Density", f"{ds.density:.2%}", help=f"interactions / (users × {w['items']})")
c[4].metric(w["categories"].capitalize(), len(ds.genres) if ds.has_genres else "none")
for note in ds.notes:
    st.caption(f"ℹ️ {note}")
offered_note(ds)

# ------------------------------------------------------------------ leaderboard
st.subheader("Leaderboard of the shipped models")
res = results(src)
broken_note(res)
board = res.leaderboard()
job = job_manager().find(f"build {src}")
if board.empty:
    st.info(
        "No model is built for this dataset yet: building them runs in the background ; pages fill in as each model lands."
    )
    if job is None and auto_build():
        job = build_job(src)
    elif (job is None or not job.active) and st.button("Build the models now", key="build_home"):
        try:
            job = build_job(src, caller())
        except RecsysError as e:
            refused(e)
    if job is not None:
        show_build_progress(job)
else:
    if job is not None and job.active:
        show_build_progress(job)
    protocols = [p for p in (*ALL_RANKING, "ratings") if p in set(board["protocol"]) or p == TEMPORAL]
    show_rating = not ds.implicit and st.toggle(
        "Rating models on the ranking boards",
        value=False,
        help="AutoRec and embnet are trained to predict star ratings (judged by RMSE on the ratings tab); on a "
        "ranking board they are judged on a task they were not trained for.",
    )
    tabs = st.tabs([f"{p} (sampled)" if PROTOCOLS[p].sampled else p for p in protocols])
    for tab, p in zip(tabs, protocols):
        with tab:
            leaderboard_tab(res, board, p, show_rating)
    with st.expander("What is cached"):
        cached = board[["model", "status", "built"]].drop_duplicates("model").set_index("model")
        broken = res.broken()
        cached["status"] = [
            "being rebuilt: a stored file failed its checksum" if m in broken else s
            for m, s in cached["status"].items()
        ]
        st.dataframe(cached, width="stretch")

st.caption(f"Training device: {describe_device()}")
jobs_panel("home")

# ------------------------------------------------------------------ dataset charts
st.subheader("The data")
data = data_charts(st.session_state["dataset"], ds.fingerprint)
left, right = st.columns(2)
with left:
    if ds.implicit:
        st.info(
            "No ratings in this data: every interaction counts as a positive, so there is no rating histogram and"
            " the rating-prediction models are not offered."
        )
    else:
        hist = data["ratings"]
        fig = px.bar(hist, x="rating", y="ratings", title="How people rate")
        fig.update_layout(xaxis_title="rating (stars)", yaxis_title="number of ratings", bargap=0.15)
        st.plotly_chart(fig, key="rating_hist")
        st.caption(
            "What am I looking at: How many ratings give each number of stars: the ratings the rating models learn to"
            " predict."
        )
with right:
    act = data["activity"]
    fig = px.bar(
        act,
        x="ratings",
        y="count",
        facet_col="who",
        log_y=True,
        hover_data=["range"],
        title=f"Interactions per user and per {w['item']}",
    )
    fig.update_layout(bargap=0.05)
    fig.update_xaxes(title=f"number of {'interactions' if ds.implicit else 'ratings'}", matches=None)
    top = float(act["count"].max()) if len(act) else 1.0
    ticks = [m * 10**e for e in range(int(np.log10(max(top, 1))) + 1) for m in (1, 2, 5) if m * 10**e <= top]
    fig.update_yaxes(title="count (log scale)", tickvals=ticks, ticktext=[f"{t:,}" for t in ticks])  # 200, not "2"
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    st.plotly_chart(fig, key="activity_hist")
    st.caption(
        f"What am I looking at: How many users interacted with how many {w['items']}, and how often each {w['item']} was"
        f" chosen (log scale): a few very active users and very popular {w['items']}, a long tail of both."
    )
    st.dataframe(data["stats"], width="stretch")

left, right = st.columns(2)
with left:
    genres = data["genres"]
    if len(genres):
        fig = px.bar(
            genres,
            x="ratings",
            y="genre",
            orientation="h",
            hover_data=["movies"],
            title=f"Interactions per {w['category']}",
        )
        fig.update_layout(yaxis={"categoryorder": "total ascending"}, xaxis_title="number of ratings", height=520)
        st.plotly_chart(fig, key="genres")
        st.caption(
            "What am I looking at: Ratings per genre (a movie counts in each of its genres): what the genre-based lists and colours rest on."
        )
    else:
        st.info(
            f"This dataset has no {w['categories']}, so {w['category']} charts and {w['category']} similarity are not available."
        )
with right:
    over = data["over_time"]
    fig = px.area(over, x="month", y="ratings", title="Ratings per month")
    fig.update_layout(yaxis_title="number of ratings")
    st.plotly_chart(fig, key="over_time")
    st.caption("What am I looking at: Ratings per month: the leave-one-out protocols hold out each user's latest.")

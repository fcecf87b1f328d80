"""Home: the data at a glance, the device, the leaderboard of the shipped models."""

import plotly.express as px
import streamlit as st

from app_pages._shared import (
    METRIC_HELP,
    auto_build,
    broken_note,
    build_job,
    current_dataset,
    job_manager,
    lead_phrase,
    results,
    show_build_progress,
)
from recsys_core import catalog
from recsys_core.data import summary
from recsys_core.results import Results, hr_standard_error
from recsys_core.splits import describe
from recsys_core.train import describe_device


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


ds = current_dataset()
st.title("Recsys Explorer")
if ds is None:
    st.stop()
src = st.session_state["dataset"]

info = ds.info()
st.caption(
    f"Dataset **{ds.name}** · ratings from {info['first_rating']} to {info['last_rating']}"
    f" · fingerprint `{ds.fingerprint}`"
)
c = st.columns(5)
c[0].metric("Users", f"{ds.n_users:,}")
c[1].metric("Movies", f"{ds.n_items:,}")
c[2].metric("Ratings", f"{ds.n_ratings:,}")
c[3].metric("Density", f"{ds.density:.2%}", help="ratings / (users × movies)")
c[4].metric("Genres", len(ds.genres) if ds.has_genres else "none")
for note in ds.notes:
    st.caption(f"ℹ️ {note}")

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
    if (job is None and auto_build()) or (
        (job is None or not job.active) and st.button("Build the models now", key="build_home")
    ):
        job = build_job(src)
    if job is not None:
        show_build_progress(job)
else:
    if job is not None and job.active:
        show_build_progress(job)
    protocols = [p for p in ("loo-uniform", "loo-popularity", "full", "ratings") if p in set(board["protocol"])]
    tabs = st.tabs(protocols)
    for tab, p in zip(tabs, protocols):
        with tab:
            st.caption(
                describe(p)
                + (
                    ". Figures on the test set, best-epoch weights of the model trained with each "
                    "user's validation item held out (as RecBole does; `evaluate --refit` trains "
                    "on it too)."
                    if p != "ratings"
                    else "."
                )
            )
            sub = board[board["protocol"] == p]
            if p == "ratings":
                cols = ["model", "RMSE", "MAE", "train_seconds"]
                sub = sub.sort_values("RMSE")
            else:
                cols = [
                    "model",
                    "HR@10",
                    "NDCG@10",
                    "Recall@10",
                    "MRR@10",
                    "AUC",
                    "coverage",
                    "diversity",
                    "novelty",
                    "train_seconds",
                ]
                cols = [c for c in cols if c in sub]
                sub = sub.sort_values("NDCG@10", ascending=False)
                if "HR@10" in sub and len(sub):
                    se, n = hr_standard_error(ds, float(sub["HR@10"].max()))
                    st.caption(
                        f"{n:,} evaluated users: HR@10 has a standard error of about {se:.3f}, so gaps under"
                        f" {2 * se:.2f} between two models are within noise on this split."
                    )
            st.dataframe(
                sub[cols].set_index("model"),
                width="stretch",
                column_config={
                    "train_seconds": st.column_config.NumberColumn("train s", format="%.1f"),
                    **{c: st.column_config.NumberColumn(c, format="%.3f", help=METRIC_HELP.get(c)) for c in cols[1:-1]},
                },
            )
            if p != "ratings":
                st.caption(
                    "Coverage, diversity (1 − mean genre cosine within a list) and novelty (mean −log₂ popularity) are"
                    " computed on the full-ranking top-10 lists of the evaluated users, whatever the protocol."
                    " Click a column to sort."
                )
            if any(catalog.entry(m).family == "sequential" for m in sub["model"]):
                st.caption(
                    "SASRec and GRU4Rec read each user's history in order; for the test figures they read up to the"
                    " held-out movie, the validation movie included, without retraining (as SASRec's own evaluation"
                    " does)."
                )
            if p == "loo-uniform":
                order_note(res)
    with st.expander("What is cached"):
        cached = board[["model", "status", "built"]].drop_duplicates("model").set_index("model")
        broken = res.broken()
        cached["status"] = [
            "being rebuilt: a stored file failed its checksum" if m in broken else s
            for m, s in cached["status"].items()
        ]
        st.dataframe(cached, width="stretch")

st.caption(f"Training device: {describe_device()}")

# ------------------------------------------------------------------ dataset charts
st.subheader("The data")
left, right = st.columns(2)
with left:
    hist = summary.rating_histogram(ds)
    fig = px.bar(hist, x="rating", y="ratings", title="How people rate")
    fig.update_layout(xaxis_title="rating (stars)", yaxis_title="number of ratings", bargap=0.15)
    st.plotly_chart(fig, key="rating_hist")
    st.caption(
        "What am I looking at: How many ratings give each number of stars: the ratings the rating models learn to predict."
    )
with right:
    act = summary.activity(ds)
    fig = px.histogram(act, x="ratings", facet_col="who", log_y=True, nbins=50, title="Ratings per user and per movie")
    fig.update_xaxes(title="number of ratings", matches=None)
    fig.update_yaxes(title="count (log scale)")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    st.plotly_chart(fig, key="activity_hist")
    st.caption(
        "What am I looking at: How many users rated how many movies, and movies were rated how often (log scale): a few very active users and very popular movies, a long tail of both."
    )
    st.dataframe(summary.activity_stats(ds), width="stretch")

left, right = st.columns(2)
with left:
    genres = summary.genre_counts(ds)
    if len(genres):
        fig = px.bar(genres, x="ratings", y="genre", orientation="h", hover_data=["movies"], title="Ratings per genre")
        fig.update_layout(yaxis={"categoryorder": "total ascending"}, xaxis_title="number of ratings", height=520)
        st.plotly_chart(fig, key="genres")
        st.caption(
            "What am I looking at: Ratings per genre (a movie counts in each of its genres): what the genre-based lists and colours rest on."
        )
    else:
        st.info("This dataset has no genres, so genre charts and genre similarity are not available.")
with right:
    over = summary.ratings_over_time(ds)
    fig = px.area(over, x="month", y="ratings", title="Ratings per month")
    fig.update_layout(yaxis_title="number of ratings")
    st.plotly_chart(fig, key="over_time")
    st.caption("What am I looking at: Ratings per month: the leave-one-out protocols hold out each user's latest.")

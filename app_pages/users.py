"""Compare users: two models' top-10 lists side by side for one user."""

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages._colours import genre_colours
from app_pages._shared import cached_split, loaded_model, no_artifacts, page_start, ready, results
from app_pages._widgets import broken_note, index_from_url, publish, start_at, words
from recsys_core.data import summary
from recsys_core.data.lookup import find_user
from recsys_core.errors import RecsysError
from recsys_core.evaluation.paired import per_user
from recsys_core.runs import catalog, zoo
from recsys_core.runs.embeddings import because

SHOWN = 15  # the latest items of a sequential model's reading shown

MANY_USERS = 20_000  # above this the user picker lists the most active, and any other id is typed
LISTED = 2_000


def reading_panel(choice: str) -> None:
    """What a sequential model reads for this user: the latest items in order (the validation
    movie last: the test figures read it), and for the attention models (SASRec, BERT4Rec)
    how much the position the top recommendation is scored from attends to each."""
    run = res.run_of(choice)
    try:
        model = loaded_model(src, run.id)
    except RecsysError as e:
        st.warning(str(e))
        return
    items = model.read_items(user)
    if not len(items):
        st.caption(f"{res.label(choice)} reads no history for this user.")
        return
    attention = model.attention(user) if model.has_attention else None
    first = max(0, len(items) - SHOWN)
    df = pd.DataFrame(
        {
            "step": [f"-{len(items) - j - 1}" if j < len(items) - 1 else "latest" for j in range(first, len(items))],
            "movie": [ds.title_of(int(i)) for i in items[first:]],
        }
    )
    # the movie column a fixed share, so a long title never pushes the attention column out of view
    config = {
        "step": st.column_config.TextColumn("", width="small"),
        "movie": st.column_config.TextColumn(width="medium"),
    }
    if attention is not None:
        df["attention"] = attention[first:]
        top = int(df["attention"].idxmax())
        df.loc[top, "movie"] = "MOST ATTENDED: " + df.loc[top, "movie"]
        config["attention"] = st.column_config.ProgressColumn(
            "attention",
            min_value=0.0,
            max_value=float(max(df["attention"].max(), 1e-9)),
            format="%.3f",
            help="the last block's attention from the latest position, averaged over heads: what the top"
            " recommendation is scored from",
        )
    st.markdown(f"**What {res.label(choice)} reads** (the latest {len(df)} of {len(items)}, newest first)")
    height = 35 * (len(df) + 1) + 3  # every row shown, no inner scroll
    st.dataframe(df.iloc[::-1], hide_index=True, width="stretch", column_config=config, height=height)


def because_column(choice: str, items) -> list[str] | None:
    """'Toy Story (1995) · 0.62' per recommendation: the history movie that contributes most to
    it and how much (EASE's item-item weight; the factor models' cosine of the two movies'
    vectors; SASRec's and BERT4Rec's cosine weighted by their attention), None for a model that recommends
    without the user's history."""
    run = res.run_of(choice)
    if run is None or run.model in ("popularity", "genre") or not len(items):
        return None
    history = split.train.items[split.train.users == user]
    kw = {}
    try:
        if run.model == "ease":
            kw["weights"] = loaded_model(src, run.id).item_item(history, items)
        else:
            arrays = res.arrays(choice, "item_embeddings")
            if arrays is None:
                return None
            kw["vectors"] = arrays["vectors"]
            if zoo.CLASSES[run.model].has_attention:  # SASRec, BERT4Rec: the cosine weighted by the attention
                model = loaded_model(src, run.id)
                history = model.read_items(user)
                kw["attention"] = model.attention(user)
    except RecsysError:
        return None
    source, share = because(history, items, **kw)
    return [f"{ds.title_of(int(j))} · {s:.2f}" if j >= 0 and np.isfinite(s) else "–" for j, s in zip(source, share)]


ds, src = page_start("Compare users")
res = results(src)
broken_note(res)
ranked = res.choices("topk")
if not ranked:
    no_artifacts(src, "top-10 lists")
    st.stop()
split = cached_split(src)

ids = ds.users["user_id"].tolist()
c1, c2, c3 = st.columns([2, 1, 1])
NEW = -1
linked = index_from_url(ds, "user", "user")


def _typed_user() -> None:
    """A typed user id picks that user (the list holds only the most active on a large dataset)."""
    text = st.session_state.get("user_typed", "").strip()
    if text:
        try:
            st.session_state["user"] = find_user(ds, text)
        except RecsysError as e:
            st.session_state["user_typed_error"] = str(e)


if ds.n_users > MANY_USERS:  # 162,541 users in one list took seconds a rerun: the most active, or any typed
    c1.text_input(
        "User id",
        key="user_typed",
        on_change=_typed_user,
        placeholder="any user id, then Enter",
        help=f"The list below holds the {LISTED:,} most active of {ds.n_users:,} users; type any other id here.",
    )
    if "user_typed_error" in st.session_state:
        c1.warning(st.session_state.pop("user_typed_error"))
    listed = [int(u) for u in np.argsort(-ds.user_activity, kind="stable")[:LISTED]]
    kept = [u for u in (linked, st.session_state.get("user")) if isinstance(u, int) and u >= 0 and u not in listed]
    options = [NEW, *kept, *listed]
else:
    options = [NEW, *range(ds.n_users)]
user = c1.selectbox(
    "User",
    options,
    index=options.index(linked) if linked is not None and linked in options else 1,
    format_func=lambda u: "New user (no history: cold start)" if u == NEW else f"user {ids[u]}",
    key="user",
    filter_mode="contains",  # typing "user 19" or "19" finds user 19 (fuzzy matching jumped to user 1)
)
if user != NEW:
    st.query_params["user"] = ids[user]  # the address bar links to this user
elif "user" in st.query_params:
    del st.query_params["user"]
defaults = [m for m in ("ncf", "cdae", "autorec") if m in ranked] + ranked
start_at("model_a", ranked, defaults[0])
start_at("model_b", ranked, defaults[1] if len(defaults) > 1 else defaults[0])
model_a = c2.selectbox(
    "Model A",
    ranked,
    key="model_a",
    filter_mode="contains",
    format_func=res.label,
    help="the shipped models, then every finished run (Train page, sweeps, CLI), newest first",
)
model_b = c3.selectbox(
    "Model B",
    ranked,
    key="model_b",
    filter_mode="contains",
    format_func=res.label,
)
publish("model_a")
publish("model_b")
if not (ready(res, model_a, "topk") and ready(res, model_b, "topk")):
    st.stop()

if user == NEW:
    cold = res.cold_start_list("ncf")
    st.subheader("Cold start: what NCF recommends to a user with no history")
    if cold.empty:
        st.info("The NCF model is not built yet.")
    else:
        st.caption(
            "NCF trains a shared 'new user' embedding by mapping a share of training rows to it (the NCF study)."
        )
        st.dataframe(cold, hide_index=True, width="stretch")
    st.stop()

profile = summary.user_profile(ds, user)
w = words(ds)
n_metrics = 1 if ds.implicit else 2  # implicit data: every rating is 1, no mean to show
cols = st.columns(n_metrics + len(ds.demographics))
cols[0].metric("Interactions" if ds.implicit else "Ratings", profile["ratings"])
if not ds.implicit:
    cols[1].metric("Mean rating", profile["mean rating"])
for col, key in zip(cols[n_metrics:], ds.demographics):
    col.metric(key.capitalize(), str(profile[key]))
if ds.has_genres:
    st.caption(f"Favourite {w['categories']}: " + (", ".join(profile["favourite genres"]) or "none"))

test_item = int(split.test_items[user])
top, recent = summary.user_history(ds, user)
with st.expander(f"History: {'' if ds.implicit else 'highest rated and '}most recent {w['items']}", expanded=False):
    h1, h2 = st.columns(2)
    h1.dataframe(top, hide_index=True, width="stretch")
    h2.dataframe(recent, hide_index=True, width="stretch")
if test_item >= 0:
    st.caption(
        f"Held-out test {w['item']} (the user's latest, hidden from training): **{ds.title_of(test_item)}**."
        f" Lists are full-ranking top-10s with the user's training {w['items']} excluded."
    )

lists = {m: res.top_list(m, user, test_item) for m in (model_a, model_b)}
both = set(lists[model_a]["item"]) & set(lists[model_b]["item"])
union = set(lists[model_a]["item"]) | set(lists[model_b]["item"])
st.metric(
    "Overlap (Jaccard)",
    f"{len(both) / max(len(union), 1):.2f}",
    help=f"shared {w['items']} / all {w['items']} in the two lists",
)
left, right = st.columns(2)
for col, m in ((left, model_a), (right, model_b)):
    with col:
        df = lists[m]
        hit = bool(df["held-out test movie"].any())
        st.subheader(res.label(m))
        if hit:
            rank = int(df.loc[df["held-out test movie"], "rank"].iloc[0])
            st.markdown(f":green-badge[:material/check: hits the held-out {w['item']} at rank {rank}]")
        else:
            st.markdown(f":gray-badge[:material/close: misses the held-out {w['item']}]")
        # the held-out row is marked in the title itself (plain text every browser draws, no
        # emoji or checkbox glyph), and the in-both mark likewise
        marks = [
            ("HELD OUT: " if h else "") + ("• " if i in both else "") + t
            for i, h, t in zip(df["item"], df["held-out test movie"], df["title"])
        ]
        why = because_column(m, df["item"].to_numpy())
        # the score only orders the list: where the model says why, that takes its place (two
        # lists side by side keep every column in view at 1,400 px)
        shown = df.assign(title=marks)[["rank", "title", "score"]]  # genres: the genre mix below
        if why is not None:
            shown = shown.drop(columns="score").assign(**{"because you watched": why})
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "title": st.column_config.TextColumn("title", width="medium"),
                "because you watched": st.column_config.TextColumn(
                    "because you watched",
                    width="medium",
                    help="the history movie that contributes most to this one, and how much: EASE's item-item"
                    " weight; for the factor models the cosine of the two movies' vectors; for SASRec that cosine"
                    " weighted by its attention",
                ),
                "rank": st.column_config.NumberColumn("#", width=40),
                "score": st.column_config.NumberColumn(
                    "score", format="%.3f", width="small", help="the model's score; only the order matters"
                ),
            },
        )
st.caption("• = in both lists · HELD OUT = the user's latest movie, hidden from training: a hit")

sequential = [
    m
    for m in dict.fromkeys((model_a, model_b))
    if res.run_of(m) is not None and catalog.entry(res.run_of(m).model).family == "sequential"
]
if sequential:
    panels = st.columns(len(sequential))
    for col, m in zip(panels, sequential):
        with col:
            reading_panel(m)
    st.caption(
        "A sequential model scores what comes next after the movies it reads, newest first here; for the test"
        " figures it reads up to the held-out movie (the validation movie included, without retraining)."
    )

if ds.has_genres:
    hist_items = ds.ratings.loc[ds.ratings["user"] == user, "item"].to_numpy()
    mix = pd.DataFrame(
        {
            "history": summary.genre_mix(ds, hist_items),
            model_a: summary.genre_mix(ds, lists[model_a]["item"].to_numpy()),
            model_b + " " if model_b == model_a else model_b: summary.genre_mix(ds, lists[model_b]["item"].to_numpy()),
        }
    )
    long = mix.rename_axis("movie genre").reset_index().melt("movie genre", var_name="list", value_name="share")
    long = long[long["share"] > 0]
    fig = px.bar(
        long,
        x="share",
        y="list",
        color="movie genre",
        orientation="h",
        title="Genre mix: each list against the user's history",
        color_discrete_map=genre_colours(ds.genres),
    )
    fig.update_layout(xaxis_tickformat=".0%", height=300, legend={"orientation": "h", "y": -0.3})
    st.plotly_chart(fig, key="genre_mix")
    st.caption(
        "What am I looking at: the share of each genre in the user's history and in each model's top 10; one colour per genre on every page."
    )

# ------------------------------------------------------------------ over all users
st.subheader(f"Over every user: {res.label(model_a)} against {res.label(model_b)}")
if model_a == model_b:
    st.caption("Pick two different models to see how their per-user figures differ.")
else:
    test = res.paired(model_a, model_b, "full")
    if test is None:
        st.caption(
            "The per-user comparison needs both models' per-user ranks under full ranking (stored by the build, and"
            " for your own runs when they are trained)."
        )
    else:
        ua, xa = per_user(res.ranks(model_a, "full"), "NDCG@10")
        ub, xb = per_user(res.ranks(model_b, "full"), "NDCG@10")
        common, ia, ib = np.intersect1d(ua, ub, return_indices=True)
        diff = pd.DataFrame({"difference": xa[ia] - xb[ib]})
        mine = diff["difference"].to_numpy()[np.searchsorted(common, user)] if user in common else None
        changed = diff[diff["difference"] != 0]
        fig = px.histogram(changed, x="difference", nbins=40, height=280)
        fig.update_layout(
            margin={"t": 10, "b": 10},
            xaxis_title=f"NDCG@10 of {model_a} − {model_b}, per user (full ranking)",
            yaxis_title="users",
        )
        if mine is not None:
            fig.add_vline(x=float(mine), line_dash="dash", annotation_text="this user")
        st.plotly_chart(fig, key="per_user_diff")
        st.markdown(
            f"**{test.verdict()}**: {model_a} does better for {test.wins:,} users, worse for {test.losses:,},"
            f" the same for {test.ties:,} (mostly users neither model hits in its top 10)."
        )
        st.caption(
            "What am I looking at: for every user with a held-out movie, how much higher the first model ranks it"
            " than the second (NDCG@10, full ranking), users where both score the same left out of the bars. The"
            " verdict is the paired test over all of them (Wilcoxon signed-rank, 95% bootstrap interval)."
        )

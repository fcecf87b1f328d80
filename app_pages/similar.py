"""Similar movies: content (genres) beside collaborative (learned embeddings)."""

import pandas as pd
import streamlit as st

from app_pages._shared import item_words, no_artifacts, page_start, ready, results
from app_pages._widgets import broken_note, index_from_url, publish, start_at, words
from recsys_core.data import summary
from recsys_core.runs.embeddings import MIN_RATINGS, PANEL, VARIANTS, best_variant


@st.cache_data(max_entries=32, show_spinner="Measuring the neighbours ...")
def cached_quality(src: str, model: str, version) -> pd.DataFrame:
    """The neighbour measure of a model's vectors, once per store version."""
    return results(src).neighbour_quality(model)


ds, src = page_start(f"Similar {item_words()}")
w = words(ds)
titles = ds.items["title"].tolist()
order = sorted(range(ds.n_items), key=lambda i: -int(ds.item_popularity[i]))
default = order[0]
c1, c2 = st.columns([3, 1])
linked = index_from_url(ds, "movie", "movie")
item = c1.selectbox(
    f"{w['Item']} (type to search)",
    order,
    index=0 if linked is None else order.index(linked),
    format_func=lambda i: titles[i],
    key="movie",
    filter_mode="contains",  # a typed title or part of one finds it
    help="Listed by number of ratings; typing filters the titles.",
)
st.query_params["movie"] = ds.items["item_id"].iat[item]  # the address bar links to this movie
n = c2.slider("How many", 5, 30, 10, key="n_similar")
st.caption(
    f"**{titles[item]}** · {w['categories']}: {ds.items['genres'].iat[item].replace('|', ', ') or 'none'}"
    f" · {int(ds.item_popularity[item]):,} {'interactions' if ds.implicit else 'ratings'}"
)

pop = ds.item_popularity
rated = "interactions" if ds.implicit else "ratings"


def popularity_note(items_ratings) -> None:
    """How mainstream a list is: its mean number of ratings, beside the movie's own."""
    if len(items_ratings):
        st.caption(
            f"Mean popularity of this list: **{float(items_ratings.mean()):,.0f}** {rated} per {w['item']}"
            f" (the catalogue's median: {float(pd.Series(pop).median()):,.0f})."
        )


TABLE = {
    "similarity": st.column_config.ProgressColumn("similarity", min_value=0.0, max_value=1.0, format="%.2f"),
    "cosine": st.column_config.NumberColumn("cosine", format="%.3f", help=f"cosine of the two {w['items']}' vectors"),
    "weight": st.column_config.NumberColumn(
        "weight", format="%.3f", help=f"how much having the picked {w['item']} raises this one's score in EASE"
    ),
    "genres": st.column_config.TextColumn(w["categories"], width="medium"),
    "shared genres": st.column_config.TextColumn(
        f"shared {w['categories']}", width="medium", help=f"the why: {w['categories']} in common"
    ),
    "title": st.column_config.TextColumn("title", width="medium"),
    "ratings": st.column_config.NumberColumn(
        rated, width="small", help=f"how many people chose it: its {rated} (popularity)"
    ),
}
res = results(src)
broken_note(res)
# one list a row, the page's whole width: every column readable at 1,400 px (side by side,
# MovieLens's long titles pushed the why off the edge: measured by tests/test_browser.py)
left, middle = st.container(), st.container()
with left:
    st.subheader(f"Same {w['categories']}")
    if not ds.has_genres:
        st.info(f"This dataset has no {w['categories']}, so there is no {w['category']} similarity to show.")
    else:
        sim = summary.genre_neighbours(ds, item, n)
        st.caption(
            f"Cosine of {w['category']} vectors; ties go to the more chosen {w['item']}; shared {w['categories']} are"
            " the why."
        )
        shown = sim[["title", "similarity", "ratings", "shared genres"]]
        st.dataframe(shown, width="stretch", hide_index=True, column_config=TABLE)
        popularity_note(sim["ratings"])
        st.download_button(
            "Download as CSV",
            sim.to_csv(index=False),
            f"similar-{ds.items['item_id'].iat[item]}.csv",
            "text/csv",
            key="csv_genre",
        )
with middle:
    st.subheader("People who liked this also liked")
    if "ease" not in res.shipped:
        no_artifacts(src, "item-item weights")
    elif ready(res, "ease", "item_item"):
        also = res.also_liked(item, n)
        st.caption(f"The item-item model (EASE): the {w['items']} whose score having this one raises most.")
        st.dataframe(also, width="stretch", hide_index=True, column_config=TABLE)
        popularity_note(also["ratings"])
right, measure = st.container(), st.container()
with right:
    st.subheader("Near in a learned embedding")
    shipped = res.models_with("item_embeddings")
    models = [m for m in ("mf", "cdae", "ncf", "autorec", "embnet") if m in shipped]
    models += [c for c in res.choices("item_embeddings", with_embeddings=True) if c.startswith("run:")]
    if not models:
        no_artifacts(src, "embeddings")
    else:
        a, b = st.columns(2)
        start_at("emb_model", models, models[0])
        model = a.selectbox(
            "Embedding space",
            models,
            key="emb_model",
            filter_mode="contains",
            format_func=res.label,
            help="Item vectors a model learned from who watched what (collaborative).",
        )
        if not ready(res, model, "item_embeddings"):
            st.stop()
        judged = cached_quality(src, model, res.version)
        best = best_variant(judged)
        start_at("emb_debias", list(VARIANTS), best)
        debias = b.selectbox(
            "Popularity direction",
            list(VARIANTS),
            key="emb_debias",
            format_func=lambda v: VARIANTS[v] + (" (best measured)" if v == best else ""),
            help="In learned embeddings popular movies all point one way, so raw cosine favours blockbusters. "
            "The default is the variant whose neighbours share a genre most often over 50 well-known movies "
            "(the table beside).",
        )
        publish("emb_model")
        publish("emb_debias")
        min_ratings = MIN_RATINGS if debias != "none" else 0  # removing popularity lets noisy rare movies in
        near = res.embedding_neighbours(model, item, n, debias=debias, min_ratings=min_ratings)
        st.caption(
            f"Cosine of {res.label(model)} item vectors: {w['items']} chosen by the same people"
            + (f"; {w['items']} with at least {min_ratings} {rated}." if min_ratings else ".")
        )
        st.dataframe(near, width="stretch", hide_index=True, column_config=TABLE)
        popularity_note(near["ratings"])
        st.download_button(
            "Download as CSV", near.to_csv(index=False), f"similar-{model}.csv", "text/csv", key="csv_emb"
        )
        with measure:
            st.subheader("Which neighbours to trust")
            st.dataframe(
                judged.drop(columns=["variant"]),
                hide_index=True,
                width="stretch",
                column_config={
                    "shares a genre": st.column_config.ProgressColumn(
                        "shares a genre", min_value=0.0, max_value=1.0, format="percent"
                    ),
                    "median year gap": st.column_config.NumberColumn("median year gap", format="%.1f years"),
                },
            )
            st.caption(
                f"Measured, not picked by taste: for each of the {PANEL} most-rated movies, its 10 nearest movies by"
                f" {res.label(model)}'s vectors (or by EASE's item-item weights); the share that share a genre with"
                " it, and how many years apart they were released (median). The best is the default."
            )

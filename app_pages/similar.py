"""Similar movies: content (genres) beside collaborative (learned embeddings)."""

import streamlit as st

from app_pages._shared import index_from_url, no_artifacts, page_start, ready, results
from recsys_core.data import summary

ds, src = page_start("Similar movies")
titles = ds.items["title"].tolist()
order = sorted(range(ds.n_items), key=lambda i: -int(ds.item_popularity[i]))
default = order[0]
c1, c2 = st.columns([3, 1])
linked = index_from_url(ds, "movie", "movie")
item = c1.selectbox(
    "Movie (type to search)",
    order,
    index=0 if linked is None else order.index(linked),
    format_func=lambda i: titles[i],
    key="movie",
    help="Listed by number of ratings; typing filters the titles.",
)
st.query_params["movie"] = ds.items["item_id"].iat[item]  # the address bar links to this movie
n = c2.slider("How many", 5, 30, 10, key="n_similar")
st.caption(
    f"**{titles[item]}** · genres: {ds.items['genres'].iat[item].replace('|', ', ') or 'none'}"
    f" · {int(ds.item_popularity[item]):,} ratings"
)

left, right = st.columns(2)
with left:
    st.subheader("By genre")
    if not ds.has_genres:
        st.info("This dataset has no genres.")
    else:
        sim = summary.genre_neighbours(ds, item, n)
        st.caption("Cosine similarity of genre vectors; ties go to the more rated movie. Shared genres are the 'why'.")
        st.dataframe(
            sim.drop(columns=["movie_id"]),
            width="stretch",
            hide_index=True,
            column_config={
                "similarity": st.column_config.ProgressColumn(
                    "similarity", min_value=0.0, max_value=1.0, format="%.2f"
                ),
                "year": st.column_config.NumberColumn("year", format="%d"),
            },
        )
        st.download_button(
            "Download as CSV",
            sim.to_csv(index=False),
            f"similar-{ds.items['item_id'].iat[item]}.csv",
            "text/csv",
            key="csv_genre",
        )
with right:
    st.subheader("By learned embedding")
    res = results(src)
    shipped = res.models_with("item_embeddings")
    models = [m for m in ("ncf", "cdae", "autorec", "mf", "embnet") if m in shipped]
    models += [c for c in res.choices("item_embeddings", with_embeddings=True) if c.startswith("run:")]
    if not models:
        no_artifacts(src, "embeddings")
    else:
        model = st.selectbox(
            "Embedding space",
            models,
            key="emb_model",
            help="Item vectors the model learned from who watched what (collaborative).",
        )
        if not ready(res, model, "item_embeddings"):
            st.stop()
        near = res.embedding_neighbours(model, item, n)
        st.caption(
            f"Cosine similarity of {model} item vectors: movies watched by the same people, whatever their genre."
        )
        st.dataframe(
            near,
            width="stretch",
            hide_index=True,
            column_config={"cosine": st.column_config.NumberColumn("cosine", format="%.3f")},
        )
        st.download_button(
            "Download as CSV", near.to_csv(index=False), f"similar-{model}.csv", "text/csv", key="csv_emb"
        )

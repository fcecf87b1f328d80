"""Embedding map: PCA of a model's learned item (or user) vectors."""

import os

import plotly.express as px
import streamlit as st

from app_pages._shared import broken_note, no_artifacts, page_start, point_id, publish, ready, results, start_at
from recsys_core.data import summary

ds, src = page_start("Embedding map")
res = results(src)
broken_note(res)
shipped = res.models_with("item_embeddings")
first = ("ncf", "mf", "embnet", "cdae", "autorec", "genre")  # the studies' models first, then any other
models = [m for m in first if m in shipped] + [m for m in shipped if m not in first]
models += [c for c in res.choices("item_embeddings", with_embeddings=True) if c.startswith("run:")]
if not models:
    no_artifacts(src, "embeddings")
    st.stop()
c1, c2, c3, c4 = st.columns([2, 1, 1, 2])
start_at("map_model", models, models[0])
start_at("map_side", ["item", "user"], "item")
start_at("map_dims", [2, 3], 2)
model = c1.selectbox("Model", models, key="map_model", format_func=res.label)
if not ready(res, model, "item_embeddings"):
    st.stop()
side = c2.radio("Points", ["item", "user"], horizontal=True, key="map_side", format_func=lambda s: s + "s")
dims = c3.radio("Dimensions", [2, 3], horizontal=True, key="map_dims")
for k in ("map_model", "map_side", "map_dims"):
    publish(k)
found = res.embedding_map(model, side)
if found is None:
    st.info(f"{model} has no {side} embeddings.")
    st.stop()
df, explained = found
colour_options = ["primary genre", *(ds.genres if side == "item" else [])]
colour = c4.selectbox("Colour by", colour_options, key="map_colour")
if colour != "primary genre":
    j = ds.genres.index(colour)
    df[colour] = ["yes" if f else "no" for f in ds.genre_matrix[:, j]]
st.caption(
    "Explained variance: "
    + ", ".join(f"PC{j + 1} {v:.1%}" for j, v in enumerate(explained))
    + f" · {len(df):,} {side}s, sized by number of ratings · select a point (box or click) to list its neighbours"
)
st.caption(
    f"What am I looking at: each dot is a {side} placed by the two (or three) directions along which the model's "
    f"{side} vectors differ most; {side}s the model treats alike sit close together."
)
palette = summary.genre_colours(ds.genres) if colour == "primary genre" else {"yes": "#BE0032", "no": "#C8C8C8"}
kw = dict(
    color=colour,
    size="ratings",
    hover_name="title",
    custom_data=["id"],
    size_max=18,
    opacity=0.7,
    height=620,
    color_discrete_map=palette,
)
if dims == 3 and "PC3" in df:
    fig = px.scatter_3d(df, x="PC1", y="PC2", z="PC3", **kw)
    event = st.plotly_chart(fig, key=f"map3d-{model}-{side}", on_select="rerun", selection_mode="points")
else:
    webgl = len(df) > int(os.environ.get("RECSYS_WEBGL_POINTS", "1000"))  # WebGL draws large maps fast
    fig = px.scatter(df, x="PC1", y="PC2", render_mode="webgl" if webgl else "svg", **kw)
    fig.update_layout(legend={"itemsizing": "constant"})
    event = st.plotly_chart(
        fig, key=f"map2d-{model}-{side}", on_select="rerun", selection_mode=("points", "box", "lasso")
    )

points = [p for p in (event or {}).get("selection", {}).get("points", []) if point_id(p) is not None]
if points:
    # map back through custom_data (the id), never the point index: colour splits the traces
    picked = point_id(points[0])
    if len(points) > 1:
        st.caption(
            f"{len(points):,} points selected: "
            + ", ".join(df["title"].iat[point_id(p)] for p in points[:8])
            + (" ..." if len(points) > 8 else "")
            + f". Neighbours of the first, {df['title'].iat[picked]}:"
        )
    st.subheader(f"Nearest to {df['title'].iat[picked]} in {res.label(model)} space")
    st.dataframe(res.embedding_neighbours(model, picked, 10, side), hide_index=True, width="stretch")

if side == "item":
    st.subheader("What the components mean")
    st.caption("The movies at both ends of each component (the embedding-network study read PC1 as 'seriousness').")
    for comp in ("PC1", "PC2"):
        neg, pos = summary.component_ends(df, comp)
        a, b = st.columns(2)
        a.markdown(f"**{comp} −**\n\n" + "\n".join(f"- {t}" for t in neg))
        b.markdown(f"**{comp} +**\n\n" + "\n".join(f"- {t}" for t in pos))
    a, b = st.columns(2)  # the TSVs are made when a button is pressed, not on every rerun
    a.download_button(
        "Vectors (TensorBoard projector TSV)",
        lambda: res.projector_vectors(model),
        f"{model}-vectors.tsv",
        key="tsv_vec",
    )
    b.download_button("Metadata (TSV)", res.projector_metadata, f"{model}-metadata.tsv", key="tsv_meta")

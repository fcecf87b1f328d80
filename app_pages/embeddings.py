"""Embedding map: PCA of a model's learned item (or user) vectors."""

import os

import plotly.express as px
import streamlit as st

from app_pages._colours import genre_colours
from app_pages._shared import no_artifacts, page_start, ready, results
from app_pages._widgets import broken_note, point_id, publish, start_at, words
from recsys_core.data import summary


@st.cache_data(max_entries=8, show_spinner=False)
def projector_tsv(src: str, model: str | None, version) -> str:
    """A model's vectors (or, for None, the movies' metadata) in the projector's TSV format."""
    res = results(src)
    return res.projector_metadata() if model is None else res.projector_vectors(model)


def axis_sentence(corr: dict, neg_genres: list, pos_genres: list) -> str:
    """'mostly popularity (log ratings) (r = +0.81); mean rating r = +0.20, ...; − end: Drama; + end: Action'."""
    if not corr:
        return "no measure available."
    name, r = max(corr.items(), key=lambda kv: abs(kv[1]))
    strength = "mostly" if abs(r) >= 0.5 else "partly" if abs(r) >= 0.3 else "hardly at all"
    lead = (
        f"{strength} {name} (r = {r:+.2f})"
        if abs(r) >= 0.3
        else f"not popularity, rating or year (largest r {r:+.2f}, {name})"
    )
    rest = ", ".join(f"{k} r = {v:+.2f}" for k, v in corr.items() if k != name)
    ends = f"; − end leans {', '.join(neg_genres) or 'no genre'}, + end {', '.join(pos_genres) or 'no genre'}"
    return f"{lead}; {rest}{ends if neg_genres or pos_genres else ''}."


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
model = c1.selectbox("Model", models, key="map_model", format_func=res.label, filter_mode="contains")
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
w = words(ds)
PRIMARY = "primary genre"  # the column summary.embedding_map fills (a log's first category)
colour_options = [PRIMARY, *(ds.genres if side == "item" else [])]
colour = c4.selectbox(
    "Colour by",
    colour_options,
    key="map_colour",
    format_func=lambda c: f"primary {w['category']}" if c == PRIMARY else c,
)
if colour != PRIMARY:
    j = ds.genres.index(colour)
    df[colour] = ["yes" if f else "no" for f in ds.genre_matrix[:, j]]
st.caption(
    "Explained variance: "
    + ", ".join(f"PC{j + 1} {v:.1%}" for j, v in enumerate(explained))
    + f" · {len(df):,} {w['items'] if side == 'item' else 'users'}, sized by number of"
    f" {'interactions' if ds.implicit else 'ratings'} · select a point (box or click) to list its neighbours"
)
st.caption(
    f"What am I looking at: each dot is a {side} placed by the two (or three) directions along which the model's "
    f"{side} vectors differ most; {side}s the model treats alike sit close together."
)
palette = genre_colours(ds.genres) if colour == PRIMARY else {"yes": "#BE0032", "no": "#C8C8C8"}
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
    st.caption(
        "Measured on this map, not assumed: how each component goes with popularity, mean rating and release year"
        f" (correlation r over every {w['item']}), the {w['categories']} over-represented among the tenth of"
        f" {w['items']} at each end, and the {w['items']} at both ends. (The embedding-network study read its PC1 as 'seriousness'; here it is whatever"
        " the figures say.)"
    )
    for comp in ("PC1", "PC2"):
        neg, pos = summary.component_ends(df, comp)
        st.markdown(f"**{comp}**: {axis_sentence(*res.map_story(df, comp))}")
        a, b = st.columns(2)
        a.markdown(f"**{comp} −**\n\n" + "\n".join(f"- {t}" for t in neg))
        b.markdown(f"**{comp} +**\n\n" + "\n".join(f"- {t}" for t in pos))
    # the TSVs are made once per store version and handed over as data: a file named by its
    # content keeps its address across reruns, so a click while the page reruns never finds it
    # gone (a callable's file is dropped by the rerun: the failed download)
    a, b = st.columns(2)
    a.download_button(
        "Vectors (TensorBoard projector TSV)",
        projector_tsv(src, model, res.version),
        f"{model}-vectors.tsv",
        key="tsv_vec",
    )
    b.download_button("Metadata (TSV)", projector_tsv(src, None, res.version), f"{model}-metadata.tsv", key="tsv_meta")

"""Home: what the data is, at a glance."""

import plotly.express as px
import streamlit as st

from pages._shared import current_dataset
from recsys_core import views

ds = current_dataset()
st.title("Recsys Explorer")
if ds is None:
    st.stop()

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

left, right = st.columns(2)
with left:
    hist = views.rating_histogram(ds)
    fig = px.bar(hist, x="rating", y="ratings", title="How people rate")
    fig.update_layout(xaxis_title="rating (stars)", yaxis_title="number of ratings", bargap=0.15)
    st.plotly_chart(fig, key="rating_hist")
with right:
    act = views.activity(ds)
    fig = px.histogram(act, x="ratings", facet_col="who", log_y=True, nbins=50, title="Ratings per user and per movie")
    fig.update_xaxes(title="number of ratings", matches=None)
    fig.update_yaxes(title="count (log scale)")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    st.plotly_chart(fig, key="activity_hist")
    st.dataframe(views.activity_stats(ds), width="stretch")

left, right = st.columns(2)
with left:
    genres = views.genre_counts(ds)
    if len(genres):
        fig = px.bar(genres, x="ratings", y="genre", orientation="h", hover_data=["movies"], title="Ratings per genre")
        fig.update_layout(yaxis={"categoryorder": "total ascending"}, xaxis_title="number of ratings", height=520)
        st.plotly_chart(fig, key="genres")
    else:
        st.info("This dataset has no genres, so genre charts and genre similarity are not available.")
with right:
    over = views.ratings_over_time(ds)
    fig = px.area(over, x="month", y="ratings", title="Ratings per month")
    fig.update_layout(yaxis_title="number of ratings")
    st.plotly_chart(fig, key="over_time")

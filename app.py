"""Recsys Explorer: `streamlit run app.py`. The frame: page config, sidebar, navigation."""

import streamlit as st

from pages._shared import sidebar

st.set_page_config(page_title="Recsys Explorer", page_icon=":material/movie:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/similar.py", title="Similar movies", icon=":material/movie:"),
    st.Page("pages/users.py", title="Compare users", icon=":material/group:"),
    st.Page("pages/embeddings.py", title="Embedding map", icon=":material/scatter_plot:"),
    st.Page("pages/sweeps.py", title="Sweeps", icon=":material/monitoring:"),
]
nav = st.navigation(pages)
sidebar()
nav.run()

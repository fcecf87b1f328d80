"""Recsys Explorer: `streamlit run app.py`. The frame: page config, sidebar, navigation."""

import streamlit as st

from app_pages._shared import item_words, sidebar

st.set_page_config(page_title="Recsys Explorer", page_icon=":material/movie:", layout="wide")

pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/findings.py", title="Findings", icon=":material/lightbulb:"),
    st.Page("app_pages/similar.py", title=f"Similar {item_words()}", icon=":material/movie:"),
    st.Page("app_pages/users.py", title="Compare users", icon=":material/group:"),
    st.Page("app_pages/embeddings.py", title="Embedding map", icon=":material/scatter_plot:"),
    st.Page("app_pages/sweeps.py", title="Sweeps", icon=":material/monitoring:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/own_data.py", title="Your data", icon=":material/upload_file:"),
]
nav = st.navigation(pages)
sidebar()
nav.run()

"""Recsys Explorer: `streamlit run app.py`. The frame: page config, sidebar, navigation."""

import streamlit as st

from pages._shared import sidebar

st.set_page_config(page_title="Recsys Explorer", page_icon=":material/movie:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
]
nav = st.navigation(pages)
sidebar()
nav.run()

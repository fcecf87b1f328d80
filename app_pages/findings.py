"""Findings: what this dashboard has found on the picked dataset, each computed from the run
store (never written by hand), with its protocol, a chart and a link to the page behind it.
The page to open in front of stakeholders."""

import plotly.express as px
import streamlit as st

from app_pages._shared import page_link, page_start, results
from recsys_core.results import findings
from recsys_core.sweeps import all_sweeps

ds, src = page_start("Findings")
st.caption(
    f"What the models and sweeps stored for **{ds.name}** show. Every figure below is read from the run store and "
    "names the protocol it was measured under; a finding appears once the runs behind it exist."
)
found = findings(results(src), all_sweeps())
if not found:
    st.info("Nothing to report yet: the shipped models are still building (see the sidebar).")
    st.stop()
for j, f in enumerate(found):
    with st.container(border=True):
        st.subheader(f.title)
        st.markdown(f.text)
        st.caption(f"Protocol: {f.protocol}")
        numeric = [c for c in f.table.columns if f.table[c].dtype.kind == "f"]
        if numeric and len(f.table) > 1:
            label = f.table.columns[0]
            # a sweep's table names its points "value": the melted figures get a name of their own
            long = f.table.melt(label, numeric, var_name="figure", value_name="figure value")
            fig = px.bar(long, x=label, y="figure value", color="figure", barmode="group", height=280)
            fig.update_layout(margin={"t": 10, "b": 10}, legend_title_text="")
            st.plotly_chart(fig, key=f"finding_{j}")
            st.caption("What am I looking at: the figures of the finding above, one bar per row of its table.")
        else:
            st.dataframe(f.table, hide_index=True, width="stretch")
        page_link(f.page, "See it on its page", ":material/arrow_forward:", f.params)

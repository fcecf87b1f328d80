"""Findings: what this dashboard has found on the picked dataset, each computed from the run
store (never written by hand), with its protocol, a chart and a link to the page behind it.
The page to open in front of stakeholders."""

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages._shared import cached_dataset, page_start, results
from app_pages._widgets import page_link
from recsys_core.evaluation.paired import SEGMENT_KINDS, segment_context, segment_table
from recsys_core.evaluation.protocols import ALL_RANKING
from recsys_core.evaluation.splits import describe
from recsys_core.runs.findings import findings
from recsys_core.sweeps.registry import all_sweeps


@st.cache_resource(max_entries=4)
def cached_segment_context(src: str, protocol: str):
    return segment_context(cached_dataset(src), protocol)


ds, src = page_start("Findings")
st.caption(
    f"What the models and sweeps stored for **{ds.name}** show. Every figure below is read from the run store and "
    "names the protocol it was measured under; a finding appears once the runs behind it exist."
)
found = findings(results(src), all_sweeps())
if not found:
    st.info("Nothing to report yet: the shipped models are still building (see the sidebar).")
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
        page_link(f"app_pages/{f.page}.py", "See it on its page", ":material/arrow_forward:", f.params)

# ------------------------------------------------------------------ segments
st.subheader("For whom: two models, segment by segment")
res = results(src)
protocols = [p for p in ALL_RANKING if any(res.ranks(m, p) is not None for m in res.shipped)] or ["full"]
models = [m for m in res.shipped if res.ranks(m, protocols[0]) is not None]
if len(models) < 2:
    st.info("The segments need two built models with their per-user ranks stored (the build stores them).")
    st.stop()
c = st.columns(4)
protocol = c[0].selectbox("Protocol", protocols, key="seg_protocol", help="full ranking is the headline")
kind = c[1].selectbox(
    "Segments",
    SEGMENT_KINDS,
    key="seg_kind",
    format_func=lambda k: {
        "activity": "history length (quartiles)",
        "popularity": f"held-out {ds.item_noun}'s popularity",
        "recency": "how recently the user was active",
    }[k],
)
models = [m for m in res.shipped if res.ranks(m, protocol) is not None]
a = c[2].selectbox("Model A", models, index=0, key="seg_a")
b = c[3].selectbox("Model B", models, index=min(1, len(models) - 1), key="seg_b")
if a == b:
    st.info("Pick two different models.")
    st.stop()
train, ref = cached_segment_context(src, protocol)
rows = segment_table(kind, {a: res.ranks(a, protocol), b: res.ranks(b, protocol)}, train, ref, pair=(a, b))
table = pd.DataFrame(
    [
        {
            "segment": r["segment"],
            "users": r["users"],
            f"{a} NDCG@10": r[a],
            f"{b} NDCG@10": r[b],
            "A − B": r.get("diff"),
            "95% interval": f"{r['ci95'][0]:+.3f} to {r['ci95'][1]:+.3f}" if "ci95" in r else "–",
            "Wilcoxon p": r.get("p_value"),
            "verdict": ("✓ real gap" if r["significant"] else "≈ within noise") if "significant" in r else "–",
        }
        for r in rows
    ]
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        c: st.column_config.NumberColumn(c, format="%.3f") for c in (f"{a} NDCG@10", f"{b} NDCG@10", "A − B")
    }
    | {"Wilcoxon p": st.column_config.NumberColumn("Wilcoxon p", format="%.2g")},
)
long = table.melt("segment", [f"{a} NDCG@10", f"{b} NDCG@10"], var_name="model", value_name="NDCG@10")
fig = px.bar(long, x="segment", y="NDCG@10", color="model", barmode="group", height=300)
fig.update_layout(margin={"t": 10, "b": 10}, legend_title_text="", xaxis_title="")
st.plotly_chart(fig, key="segments_chart")
st.caption(
    "What am I looking at: each model's NDCG@10 inside each segment of users, and the paired test of the two inside"
    f" it (the same users, 2,000 bootstrap resamples). Protocol {protocol}: {describe(protocol)}. Head {ds.item_noun}s"
    " are the most chosen that make up 20% of the training interactions, tail the least chosen 20%. `python -m recsys_core compare"
    f" {a} {b} --protocol {protocol} --by {kind}` gives the same table."
)

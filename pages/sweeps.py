"""Sweeps: loss curves per epoch, one line per value, and seed 000's table."""

import pandas as pd
import plotly.express as px
import streamlit as st

from pages._shared import current_dataset, job_manager, store
from recsys_core import views
from recsys_core.sweeps import all_sweeps, report, run_sweep

st.title("Sweeps")
ds = current_dataset()
if ds is None:
    st.stop()
src = st.session_state["dataset"]
sweeps = all_sweeps()
c1, c2, c3 = st.columns([2, 2, 1])
name = c1.selectbox("Sweep", list(sweeps), key="sweep", format_func=lambda n: f"{n} ({sweeps[n].model})")
sweep = sweeps[name]
st.caption(f"{sweep.description or sweep.source} · protocol **{sweep.protocol}** · one run per {sweep.param} value")
curves = views.sweep_curves(store(), ds, sweep)
rows = report(sweep, ds, store())
label = f"sweep {name} {src}"
job = job_manager().find(label)

can_run = any(r["status"] == "not run" for r in rows) and (job is None or not job.active)
if can_run and st.button(f"Run this sweep ({len(sweep.points)} points, background)", key="run_sweep"):

    def work(job, sweep=sweep):
        from recsys_core.data import load_dataset

        def progress(j, n, point, out):
            job.report(done=j, total=n, current=point)

        job.report(done=0, total=len(sweep.points), current="starting")
        run_sweep(sweep, load_dataset(src), store(), progress=progress)

    job = job_manager().submit(label, work)
if job is not None and job.active:

    @st.fragment(run_every=1.0)
    def _progress():
        p = job.progress
        if job.active:
            st.progress(p.get("done", 0) / max(p.get("total", 1), 1), text=f"Running {name}: point {p.get('current')}")
        else:
            st.rerun()

    _progress()

if curves.empty:
    st.info("This sweep has not run on this dataset yet.")
    st.stop()
metrics = [m for m in ("loss", "HR@10", "NDCG@10", "RMSE") if m == "loss" or m in curves]
m1, m2 = c2.selectbox("Metric", metrics, key="sweep_metric"), c3.toggle("Log scale", key="log_y")
if m1 == "loss":
    long = curves.melt(["epoch", "value", "status"], ["train_loss", "valid_loss"], var_name="split", value_name="loss")
    long["split"] = long["split"].str.replace("_loss", "")
    fig = px.line(long, x="epoch", y="loss", color="value", line_dash="split", markers=True, log_y=m2,
                  title=f"Train (solid) and validation (dashed) loss per epoch, by {sweep.param}")  # fmt: skip
else:
    fig = px.line(curves, x="epoch", y=m1, color="value", markers=True, log_y=m2,
                  title=f"Validation {m1} per epoch, by {sweep.param}")  # fmt: skip
st.plotly_chart(fig, key="curves")

table = pd.DataFrame(rows)
table.insert(0, "", ["★ best" if r.get("best") else "" for r in rows])
table = table.drop(columns=[c for c in ("best", "run") if c in table])
st.subheader("Final figures (seed 000's table)")
st.caption(
    "Losses at the best epoch (the weights kept); test metric under the sweep's protocol. Diverged runs are shown, not hidden."
)
st.dataframe(table.rename(columns={"value": sweep.param}), hide_index=True, width="stretch")

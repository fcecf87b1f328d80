"""Sweeps: loss curves per epoch, one line per value, and a table of final figures (seed
000's layout); every run of a model in parallel coordinates; and the runs started from the
Train page ("my runs")."""

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages._shared import (
    job_manager,
    metric_help,
    page_link,
    page_start,
    publish,
    readable,
    results,
    start_at,
    store,
)
from recsys_core.catalog import neural_models
from recsys_core.errors import RecsysError
from recsys_core.jobs import resubmit, submit_sweep
from recsys_core.splits import describe
from recsys_core.sweeps import all_sweeps


def parcoords_axis(values, name: str) -> dict:
    """One parallel-coordinates axis: categories as ticks, rates on a log scale."""
    label = name.replace("valid ", "valid<br>").replace("best-epoch", "best epoch").replace("last-epoch", "last epoch")
    if not pd.api.types.is_numeric_dtype(values):
        cats = sorted(values.astype(str).unique())
        return {
            "label": label,
            "values": [cats.index(v) for v in values.astype(str)],
            "tickvals": list(range(len(cats))),
            "ticktext": cats,
        }
    if name in ("lr", "weight_decay") and (values > 0).all():
        ticks = sorted(values.unique())
        return {
            "label": f"{name} (log)",
            "values": np.log10(values).tolist(),
            "tickvals": np.log10(ticks).tolist(),
            "ticktext": [f"{t:g}" for t in ticks],
        }
    return {"label": label, "values": values.tolist()}


ds, src = page_start("Sweeps")
sweeps = all_sweeps()
tab_sweep, tab_all, tab_mine = st.tabs(["Sweep curves", "All runs of a model", "My runs"])

# ------------------------------------------------------------------ one sweep
with tab_sweep:
    c1, c2, c3 = st.columns([2, 2, 1])
    start_at("sweep", list(sweeps), next(iter(sweeps)))
    name = c1.selectbox("Sweep", list(sweeps), key="sweep", format_func=lambda n: f"{n} ({sweeps[n].model})")
    publish("sweep")
    sweep = sweeps[name]
    st.caption(
        f"{sweep.description or sweep.source} · protocol **{sweep.protocol}**: {describe(sweep.protocol)} ·"
        f" one run per {sweep.param} value"
    )
    res = results(src)
    curves = res.sweep_curves(sweep)
    rows = res.sweep_report(sweep)
    label = f"sweep {name} {src}"
    job = job_manager().find(label)

    can_run = any(r["status"] == "not run" for r in rows) and (job is None or not job.active)
    if can_run and st.button(f"Run this sweep ({sweep.size} points, background)", key="run_sweep"):
        job = submit_sweep(job_manager(), store(), src, sweep)
    if job is not None and job.active:

        @st.fragment(run_every=1.0)
        def _progress():
            p = job.progress
            if job.status == "queued":
                st.info(f"Queued behind {job_manager().position(job) - 1} job(s) on {job.device}.")
            elif job.active:
                text = f"Running {name}: point {p.get('current')}"
                st.progress(p.get("done", 0) / max(p.get("total", 1), 1), text=text)
            else:
                st.rerun()

        _progress()

    if curves.empty:
        st.info("This sweep has not run on this dataset yet.")
    else:
        metrics = [m for m in ("loss", "HR@10", "NDCG@10", "RMSE") if m == "loss" or m in curves]
        start_at("sweep_metric", metrics, metrics[0])
        m1, m2 = c2.selectbox("Metric", metrics, key="sweep_metric"), c3.toggle("Log scale", key="log_y")
        publish("sweep_metric")
        if m1 == "loss":
            long = curves.melt(
                ["epoch", "value", "status"], ["train_loss", "valid_loss"], var_name="split", value_name="loss"
            )
            long["split"] = long["split"].str.replace("_loss", "")
            fig = px.line(
                long,
                x="epoch",
                y="loss",
                color="value",
                line_dash="split",
                markers=True,
                log_y=m2,
                title=f"Train (solid) and validation (dashed) loss per epoch, by {sweep.param}",
            )
            if len({getattr(cfg, "loss", None) for _, cfg in sweep.configs()}) > 1:
                st.caption(
                    "The points train with different losses (BCE, BPR, sampled softmax over their own number of "
                    "negatives), which are not on one scale: compare them by a validation metric."
                )
        else:
            fig = px.line(
                curves,
                x="epoch",
                y=m1,
                color="value",
                markers=True,
                log_y=m2,
                title=f"Validation {m1} per epoch, by {sweep.param}",
            )
            for value, grp in curves[curves["status"] == "pruned"].groupby("value"):
                last = grp.sort_values("epoch").iloc[-1]  # where the pruner stopped it: a cross
                fig.add_scatter(
                    x=[last["epoch"]],
                    y=[last[m1]],
                    mode="markers",
                    name=f"{value}: pruned",
                    marker={"symbol": "x", "size": 14, "color": "black"},
                )
        st.plotly_chart(fig, key="curves")
        st.caption(
            "What am I looking at: one line per value of the swept setting, per epoch; the best epoch of each run is what its row in the table below reports."
        )

        table = pd.DataFrame(rows)
        table.insert(0, "", ["★ best" if r.get("best") else "" for r in rows])
        table = table.drop(columns=[c for c in ("best", "run") if c in table])
        st.subheader(f"Final figures, one row per {sweep.param}")
        st.caption(
            "Losses and the validation metric at the best epoch (the weights kept); ★ marks the best value on "
            "validation, never on test. Test figures under the sweep's protocol. Diverged runs are shown, not "
            "hidden, and runs whose loss rose far above its best, or that ended worse than they started, are "
            "marked unstable."
        )
        st.dataframe(
            readable(table.rename(columns={"value": sweep.param})),
            hide_index=True,
            width="stretch",
            column_config=metric_help(table.columns),
        )
        best = next((r for r in rows if r.get("best")), None)
        if sweep.claim and best is not None:
            study = sweep.description.split(":")[0]
            st.info(
                f"**What {study} found:** {sweep.claim}.\n\n**Here**, on {ds.name} under {sweep.protocol}: the best "
                f"{sweep.param} on validation is **{best['value']}**."
            )

# ------------------------------------------------------------------ every run of a model
with tab_all:
    neural = neural_models()
    start_at("pc_model", neural, sweep.model if sweep.model in neural else neural[0])
    model = st.selectbox("Model", neural, key="pc_model")
    publish("pc_model")
    runs = res.model_runs(model)
    if runs.empty:
        st.info(f"No finished {model} run on this dataset yet: run a sweep or a training first.")
    else:
        outcomes = [c for c in runs.columns if c.split(" ")[0] in ("best-epoch", "last-epoch", "test")]
        settings = [c for c in runs.columns if c not in ("run", "source", "status", "epochs run", *outcomes)]
        # the settings that vary most first: at most six axes of them by default, so labels stay readable
        settings.sort(key=lambda c: -runs[c].nunique(dropna=False))
        picked = st.multiselect(
            "Settings shown as axes",
            settings,
            default=settings[:6],
            key=f"pc_axes_{model}",
            help="Every setting that differs between these runs; pick the ones to compare.",
        )
        names = [*picked, *outcomes]
        color = next(c for c in names if c.startswith("test "))
        st.caption(
            f"{len(runs)} finished {model} runs (shipped, sweeps, my runs), one line each. Axes: the settings "
            "that differ between runs, the validation metric at the best epoch (the weights kept) and at the last "
            f"epoch, and the test figure ({color[5:]}; colour). Drag along an axis to filter."
        )
        fig = go.Figure(
            go.Parcoords(
                dimensions=[parcoords_axis(runs[c], c) for c in names],
                line={
                    "color": runs[color].tolist(),
                    "colorscale": "Viridis",
                    "showscale": True,
                    "colorbar": {"title": color},
                },
            )
        )
        fig.update_layout(margin={"l": 60, "r": 60, "t": 80, "b": 30}, height=480, font={"size": 13})
        st.plotly_chart(fig, key="parallel")
        st.caption(
            "What am I looking at: one line per run through its settings and results; drag along an axis to keep only the runs in that range."
        )
        st.dataframe(readable(runs), hide_index=True, width="stretch")

# ------------------------------------------------------------------ my runs
with tab_mine:
    mine = res.my_runs()
    if mine.empty:
        st.info("No runs from the Train page on this dataset yet.")
        page_link("app_pages/train.py", "Train a model with your own settings", ":material/model_training:")
    else:
        st.caption("Runs started from the Train page, newest first. Test figures under each run's protocol.")
        st.dataframe(
            readable(mine),
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format="%.4f") for c in ("HR@10", "NDCG@10", "RMSE", "s/epoch")
            },
        )
        names = {r.run: f"run {r.run}: {r.model} {r.changes} ({r.status})" for r in mine.itertuples()}
        pick = st.multiselect(
            "Runs to plot", list(names), default=list(names)[:3], format_func=names.get, key="my_runs_pick"
        )
        if pick:
            curves = res.run_curves(pick, names)
            ys = [c for c in ("NDCG@10", "HR@10", "RMSE", "train_loss", "valid_loss") if c in curves]
            if ys:
                y = st.segmented_control("Curve", ys, default=ys[0], key="my_runs_curve") or ys[0]
                title = f"{y.replace('_', ' ')} per epoch" if "loss" in y else f"validation {y} per epoch"
                st.plotly_chart(
                    px.line(curves, x="epoch", y=y, color="run", markers=True, title=title), key="my_runs_curves"
                )
        again = mine[mine["status"].isin(["interrupted", "failed", "cancelled"])]
        if not again.empty:
            rid = st.selectbox("Resubmit a run that did not finish", again["run"], format_func=names.get, key="again")
            if st.button("Resubmit", key="resubmit"):
                try:
                    job = resubmit(job_manager(), store(), int(rid))
                    st.session_state["train_job"] = job.id
                    st.success(f"Queued again as run {job.run_id}; follow it on the Train page.")
                except RecsysError as e:
                    st.error(str(e))

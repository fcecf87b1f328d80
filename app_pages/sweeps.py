"""Sweeps: loss curves per epoch, one line per value, and a table of final figures (the NCF
study's layout); every run of a model in parallel coordinates; the runs started from the
Train page ("my runs"); and a form that starts a new sweep (grid, random or TPE search) in
the background, on this server or a Ray cluster (`RECSYS_RAY_ADDRESS`)."""

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages._shared import caller, job_manager, jobs_panel, page_start, refused, results, store
from app_pages._sweep_form import sweep_form
from app_pages._widgets import metric_help, page_link, publish, readable, start_at
from recsys_core.errors import RecsysError
from recsys_core.evaluation.splits import describe
from recsys_core.jobs.access import AccessDenied
from recsys_core.jobs.work import delete_run, delete_user_sweep, resubmit, submit_sweep, submit_user_sweep
from recsys_core.runs.catalog import neural_models
from recsys_core.sweeps.executors import PoolExecutor
from recsys_core.sweeps.ray_cluster import RayExecutor, configured_address, ray_available
from recsys_core.sweeps.registry import all_sweeps

LOG_SETTINGS = {"lr", "weight_decay"}  # log-scale settings (config metadata "log")


def parcoords_axis(values, name: str) -> dict:
    """One parallel-coordinates axis: categories as ticks; rates on a log scale with a tick at
    each power of ten (never one label per point, which piled up); whole numbers as integers."""
    label = name.replace("valid ", "valid<br>").replace("best-epoch", "best epoch").replace("last-epoch", "last epoch")
    if not pd.api.types.is_numeric_dtype(values):
        cats = sorted(values.astype(str).unique())
        return {
            "label": label,
            "values": [cats.index(v) for v in values.astype(str)],
            "tickvals": list(range(len(cats))),
            "ticktext": cats,
        }
    v = values.astype(float)
    if (name in LOG_SETTINGS or name.endswith("(log)")) and (v > 0).all():
        logs = np.log10(v)
        decades = list(range(int(np.floor(logs.min())), int(np.ceil(logs.max())) + 1))
        return {
            "label": f"{name} (log)",
            "values": logs.tolist(),
            "tickvals": decades,
            "ticktext": [f"{10.0**d:g}" for d in decades],
            "range": [decades[0], decades[-1]] if len(decades) > 1 else None,
        }
    if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
        return {"label": label, "values": v.tolist(), "tickformat": "d"}  # 20, not 20.0000
    return {"label": label, "values": v.tolist(), "tickformat": ".3~g"}


def parcoords(runs: pd.DataFrame, names: list[str], color: str, title: str | None = None) -> go.Figure:
    """Runs in parallel coordinates: one axis per column of `names`, coloured by `color`;
    axis titles under the axes, clear of the top ticks."""
    dims = [{k: x for k, x in parcoords_axis(runs[c], c).items() if x is not None} for c in names]
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            labelside="bottom",
            line={
                "color": runs[color].tolist(),
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": color},
            },
        )
    )
    fig.update_layout(
        margin={"l": 60, "r": 60, "t": 80 if title else 40, "b": 70}, height=500, font={"size": 13}, title=title
    )
    return fig


def sweep_parcoords(runs: pd.DataFrame, varied: list[str], label: str) -> go.Figure:
    """A search's points: the settings it varied, then the validation figure at the best
    epoch and the test figure (colour)."""
    outcomes = [c for c in runs.columns if c.startswith("best-epoch valid") or c.startswith("test ")]
    color = next((c for c in outcomes if c.startswith("test ")), outcomes[-1])
    return parcoords(runs, [c for c in varied if c in runs] + outcomes, color, label)


ds, src = page_start("Sweeps")
jobs_panel("sweeps")
sweeps = all_sweeps()
tab_sweep, tab_all, tab_mine, tab_new = st.tabs(["Sweep curves", "All runs of a model", "My runs", "New sweep"])

# ------------------------------------------------------------------ one sweep
with tab_sweep:
    c1, c2, c3 = st.columns([2, 2, 1])
    if st.session_state.get("_new_sweep") in sweeps:  # a sweep just started from the form: show it
        st.session_state["sweep"] = st.session_state.pop("_new_sweep")
    start_at("sweep", list(sweeps), next(iter(sweeps)))
    name = c1.selectbox("Sweep", list(sweeps), key="sweep", format_func=lambda n: f"{n} ({sweeps[n].model})")
    publish("sweep")
    sweep = sweeps[name]
    if sweep.source != "shipped" and caller().editor:
        with c1.popover("Delete this sweep", icon=":material/delete:"):
            st.caption(f"Deletes the sweep {name}, every run it made and their stored files.")
            if st.button(f"Delete {name}", key="delete_sweep_go", type="primary"):
                try:
                    gone = delete_user_sweep(job_manager(), store(), name, caller())
                    st.session_state.pop("sweep", None)
                    st.session_state["_new_sweep_note"] = f"Deleted the sweep {name} and its {gone} runs."
                    st.rerun()
                except RecsysError as e:
                    refused(e)
    kind = {"tpe": "a TPE search (Optuna)", "random": "a random search"}.get(sweep.search.get("method", "random"))
    shape = f"{kind} of {sweep.size} points" if sweep.search or "=" in (sweep.points or [("", {})])[0][0] else ""
    st.caption(
        f"{sweep.description or sweep.source} · protocol **{sweep.protocol}**: {describe(sweep.protocol)} ·"
        f" {shape or f'one run per {sweep.param} value'}" + (" · median pruning" if sweep.prune else "")
    )
    res = results(src)
    curves = res.sweep_curves(sweep)
    rows = res.sweep_report(sweep)
    label = f"sweep {name} {src}"
    job = job_manager().find(label)

    can_run = any(r["status"] == "not run" for r in rows) and (job is None or not job.active)
    if can_run and st.button(f"Run this sweep ({sweep.size} points, background)", key="run_sweep"):
        try:
            job = submit_sweep(job_manager(), store(), src, sweep, caller=caller())
        except RecsysError as e:
            refused(e)
    if job is not None and job.active:

        @st.fragment(run_every=1.0)
        def _progress():
            p = job.progress
            if job.status == "queued":
                st.info(job_manager().queue_text(job))
            elif job.active:
                on = " on the Ray cluster" if p.get("executor") == "ray" else ""
                text = f"Running {name}{on}: {p.get('done', 0)} of {p.get('total', '?')} points done; now {p.get('current')}"
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
        if len(sweep.varied) > 1 or sweep.search:
            mine = res.model_runs(sweep.model)
            mine = mine[mine["source"] == sweep.name] if not mine.empty else mine
            if len(mine) > 1:
                st.plotly_chart(
                    sweep_parcoords(mine, sorted(sweep.varied), f"{sweep.name}: every point, settings to results"),
                    key="sweep_parallel",
                )
                st.caption(
                    "What am I looking at: one line per point of this sweep, through the settings it varied, its "
                    "validation figure at the best epoch and its test figure (colour); drag along an axis to filter."
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
        st.plotly_chart(parcoords(runs, names, color), key="parallel")
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
        shown = mine if mine["message"].astype(bool).any() else mine.drop(columns="message")  # no empty column
        st.dataframe(
            readable(shown),
            hide_index=True,
            width="stretch",
            column_config={
                **{c: st.column_config.NumberColumn(format="%.4f") for c in ("HR@10", "NDCG@10", "RMSE", "s/epoch")},
                "started": st.column_config.DatetimeColumn(format="D MMM HH:mm"),  # fits beside the rest at 1,400 px
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
                    job = resubmit(job_manager(), store(), int(rid), caller())
                    st.session_state["train_job"] = job.id
                    st.success(f"Queued again as run {job.run_id}; follow it on the Train page.")
                except RecsysError as e:
                    st.error(str(e))
        if caller().editor:
            with st.expander("Delete a run"):
                rid = st.selectbox("Run to delete", mine["run"], format_func=names.get, key="delete_run")
                sure = st.checkbox("Yes: delete this run, its curves and its stored files", key="delete_run_sure")
                if st.button("Delete the run", disabled=not sure, key="delete_run_go", icon=":material/delete:"):
                    try:
                        delete_run(job_manager(), store(), int(rid), caller())
                        st.session_state["delete_run_sure"] = False
                        st.rerun()
                    except RecsysError as e:
                        refused(e)

# ------------------------------------------------------------------ a new sweep
with tab_new:
    address = configured_address() if ray_available() else None
    st.caption(
        "Describe a sweep: the settings it varies, their values (a grid) or ranges (a random or TPE search with a "
        "budget of points), and where it runs. It is checked as the Train page checks a setting, kept among your "
        "sweeps (a JSON file, resumable: a rerun never trains a finished point again) and started in the background."
        + (
            ""
            if address
            else " Set RECSYS_RAY_ADDRESS (and install requirements-ray.txt) to run sweeps on a Ray cluster."
        )
    )
    if st.session_state.get("_new_sweep_note"):
        st.success(st.session_state.pop("_new_sweep_note"))
    try:
        asked = sweep_form(src, [n for n in sweeps if sweeps[n].source != "shipped"], address)
        if asked is not None:
            spec, where, workers = asked
            executor = {"pool": lambda: PoolExecutor(workers), "ray": lambda: RayExecutor(address)}.get(where)
            new, _ = submit_user_sweep(job_manager(), store(), src, spec, executor() if executor else None, caller())
            st.session_state["_new_sweep"] = new.name
            st.session_state["_new_sweep_note"] = (
                f"Started **{new.name}** ({new.size} points, {where}): follow it under Sweep curves, where it is picked."
            )
            st.rerun()
    except AccessDenied as e:
        refused(e)
    except RecsysError as e:
        st.error(str(e))

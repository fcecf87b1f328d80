"""Train: rerun a small training with sliders. The run is a background job (one at a time
per device, queued otherwise); this page only submits it and polls its progress."""

from dataclasses import asdict

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages._form import config_form, keep, reset, save, shown
from app_pages._shared import caller, job_manager, jobs_panel, page_start, refused, results, store
from app_pages._widgets import page_link
from recsys_core.errors import RecsysError
from recsys_core.evaluation.splits import describe
from recsys_core.jobs.access import AccessDenied
from recsys_core.jobs.work import submit_training
from recsys_core.runs import zoo
from recsys_core.runs.catalog import SPLIT_TUNED, TUNED, neural_models, split_of
from recsys_core.runs.reports import closest_sweep
from recsys_core.sweeps.registry import all_sweeps
from recsys_core.training import devices
from recsys_core.training.devices import describe_device, pick_device

MODELS = neural_models()
CURVES_EVERY = 4.0  # seconds between redraws of the live curves (the progress bar: every second)

ds, src = page_start("Train")
jobs = job_manager()
st.caption(
    "Rerun a small training with your own hyperparameters. It runs in the background (the rest of the app stays "
    "usable), one job at a time per device; the run is kept in the store and listed on the Sweeps page under "
    "**my runs**."
)
device_line = st.empty()  # filled once the model and its settings are read: small steps train on one thread

# the model picker spans the page: eight models' buttons do not fit the settings column
keep("train_model", "ncf")
model = st.segmented_control("Model", MODELS, key="train_model", help="the shipped neural models") or "ncf"
save("train_model")
left, right = st.columns([1, 1.35], gap="large")


with left:
    entry = zoo.entry(model)
    st.caption(f"**{model}**: {entry.summary}. Sliders start at the shipped defaults.")
    # a rating model starts on the protocol it is tuned and judged on; its top-10 lists second
    ranking = ["full", "temporal", "loo-uniform", "loo-popularity"]  # full ranking first: the headline
    protocols = ["ratings", *ranking] if entry.task == "rating" else ranking
    keep(f"{model}:protocol", protocols[0])
    protocol = st.selectbox(
        "Evaluated under", protocols, key=f"{model}:protocol", help="the protocol of the validation and test figures"
    )
    save(f"{model}:protocol")
    st.caption(describe(protocol))
    actions = st.container()  # Train / Reset, filled in below once the settings are read

    split = split_of([protocol])
    cfg = zoo.config_for(model, dataset=ds.name, split=split)  # this dataset's and split's shipped defaults
    split_note = st.container()  # filled once the settings are read
    ov = config_form(model, cfg, ds.has_genres, mixed=devices.bf16_here(pick_device()))
    device = describe_device(cap=devices.useful_threads(model, asdict(cfg) | ov))
    device_line.markdown(f":material/memory: This run will use **{device}**.")
    own = SPLIT_TUNED.get(split or "", {}).get(model, {}) if split else TUNED.get(ds.name, {}).get(model, {})
    if own:  # a split's or dataset's own shipped settings: said, never put in the person's sliders unasked
        shipped = "; ".join(shown(model, k, v) for k, v in own.items())
        differs = any(ov.get(k) != v for k, v in own.items())
        where = f"Under the {split} split" if split else f"On {ds.name}"
        picked = "that split's own validation" if split else "this dataset's leave-one-out validation"
        split_note.caption(
            f":material/info: {where} the shipped {model} differs from its default, as {picked} picked: **{shipped}**"
            + (". Your settings differ: Reset to defaults takes it." if differs else ".")
        )

    with actions:
        problems = []
        if ov["patience"] >= ov["epochs"]:
            problems.append(f"patience {ov['patience']} ≥ epochs {ov['epochs']}: early stopping cannot end the run")
        if ov["batch_size"] > ds.n_ratings:
            problems.append(f"batch size {ov['batch_size']:,} is larger than the {ds.n_ratings:,} ratings: one batch")
        for p in problems:
            st.caption(f":material/info: {p}")
        error = None
        try:
            zoo.config_for(model, ov)
        except RecsysError as e:
            error = str(e).splitlines()[0]
            st.error(f"This combination is not valid: {error}")
        c1, c2 = st.columns(2)
        if c1.button("Train", type="primary", disabled=error is not None, icon=":material/play_arrow:", key="train"):
            try:
                job = submit_training(jobs, store(), src, model, ov, protocol, caller=caller())
                st.session_state["train_job"] = job.id
            except AccessDenied as e:
                refused(e)
            except RecsysError as e:
                st.error(str(e))
        if c2.button("Reset to defaults", key="reset"):
            reset(model, spare=[f"{model}:protocol"])  # the defaults of the protocol chosen
            st.rerun()


def _job():
    """This session's training job (a reload of the page finds it again); another session's
    jobs are only listed in the queue line, never shown as this visitor's."""
    return jobs.get(st.session_state.get("train_job"))


def _curves(job_id: int, history: list[dict], pretrain: list[dict], metric: str) -> None:
    """Live loss and validation curves; NeuMF's pre-training phases (GMF, MLP) as their own
    lines. The figures are made again only when an epoch lands (the page polls every second,
    and building them each time took CPU from the training itself)."""
    figures = _live_figures(job_id, len(history), len(pretrain), history, pretrain, metric)
    if figures is None:
        return
    a, b = st.columns(2)
    a.plotly_chart(figures[0], key="live_loss")
    if figures[1] is not None:
        b.plotly_chart(figures[1], key="live_metric")
    st.caption(
        "What am I looking at: each epoch's training and validation loss (left) and the validation metric "
        "that early stopping watches (right); the best epoch's weights are kept."
    )


@st.cache_data(max_entries=4, show_spinner=False, hash_funcs={list: lambda _: 0})
def _live_figures(job_id: int, n_rows: int, n_pre: int, history: list[dict], pretrain: list[dict], metric: str):
    """(loss figure, metric figure or None) of a job with `n_rows` epochs (+ `n_pre` of
    pre-training) so far: cached on those counts; the row lists themselves are not hashed."""
    h = pd.DataFrame([*pretrain, *({**r, "phase": "run"} for r in history)])
    if h.empty:
        return None
    loss = h.melt(
        ["epoch", "phase"], [c for c in ("train_loss", "valid_loss") if c in h], var_name="split", value_name="loss"
    )
    loss["split"] = loss["split"].str.replace("_loss", "")
    fig_loss = px.line(
        loss, x="epoch", y="loss", color="split", line_dash="phase", markers=True, height=300, title="Loss per epoch"
    )
    fig_metric = None
    if metric in h:
        fig_metric = px.line(
            h, x="epoch", y=metric, color="phase", markers=True, height=300, title=f"Validation {metric} per epoch"
        )
    return fig_loss, fig_metric


with right:
    job = _job()
    jobs_panel("train")
    if job is None:
        st.info("Pick hyperparameters on the left and press **Train**. Progress and live curves appear here.")
        st.stop()
    meta = job.meta
    rating = meta.get("protocol", "").startswith("ratings")
    metric = "RMSE" if rating else "NDCG@10"
    st.subheader(f"{meta.get('model')}: {meta.get('label', job.label)}")
    st.caption(f"{describe(meta.get('protocol', 'loo-uniform'))} · device {job.device} · run {job.run_id}")

    @st.fragment(run_every=1.0 if job.active else None)
    def live():
        p = job.progress
        if job.status == "queued":
            st.info(jobs.queue_text(job))
        elif job.status == "running":
            epochs, epoch = p.get("epochs") or 1, p.get("epoch") or 0
            nb, batch = p.get("n_batches") or 1, p.get("batch") or 0
            frac = min(max((epoch - 1 + batch / nb) / epochs, 0.0), 1.0) if epoch else 0.0
            phase = p.get("phase", "starting")
            text = (
                f"Epoch {epoch}/{epochs} · batch {batch}/{nb} · loss {p['loss']:.4f}"
                if epoch and "loss" in p
                else phase + " ..."
            )
            if phase.startswith("pre-training"):
                text = f"{phase.capitalize()} (NeuMF's initialisation) · {text}"
            st.progress(frac, text=text)
            hist, pre = p.get("history") or [], p.get("pretrain") or []
            if hist or pre:
                last_rows = hist or pre
                last = last_rows[-1]
                c = st.columns(4)
                c[0].metric("Epochs done" if hist else "Pre-training epochs", len(last_rows))
                c[1].metric("Train loss", f"{last['train_loss']:.4f}")
                c[2].metric(f"Valid {metric}", f"{last.get(metric, float('nan')):.4f}")
                c[3].metric("Seconds / epoch", f"{sum(r['seconds'] for r in last_rows) / len(last_rows):.2f}")
        else:
            st.rerun()  # finished: redraw the page without polling
        if job.active and st.button("Cancel", icon=":material/stop:", key=f"cancel_{job.id}"):
            jobs.cancel(job.id)
            st.toast("Cancelling: the run stops within a second.")

    # the curves redraw every few seconds, not every second: each redraw makes the browser
    # draw two charts again, and on a machine that also trains that took 30 % of the epoch time
    @st.fragment(run_every=CURVES_EVERY if job.active else None)
    def live_curves():
        p = job.progress
        if job.status == "running":
            _curves(job.id, p.get("history") or [], p.get("pretrain") or [], metric)

    if job.active:
        live()
        live_curves()
        st.stop()

    run = store().run(job.run_id) if job.run_id else None
    status = run.status if run else job.status
    if status == "done":
        st.success(f"Finished in {run.seconds:.1f} s on {run.device}; best epoch {run.best_epoch}.")
    elif status == "diverged":
        st.warning(f"Diverged: {job.error or run.error}")
    elif status == "cancelled":
        st.info(f"Cancelled: {job.error or run.error}")
    else:
        st.error(f"The run {status}: {job.error or (run.error if run else None)}")
    if run is None:
        st.stop()
    protocol = meta.get("protocol", "loo-uniform")
    mine = run.metrics.get(protocol, {})
    res = results(src)
    board = res.leaderboard()
    shipped = board[(board["model"] == run.model) & (board["protocol"] == protocol)]
    cols = ["RMSE", "MAE"] if rating else ["HR@10", "NDCG@10", "Recall@10", "coverage", "diversity"]
    rows = []
    if mine:
        rows.append({"": "this run", **{c: mine.get(c) for c in cols}})
    if not shipped.empty:
        rows.append({"": "shipped defaults", **{c: shipped.iloc[0].get(c) for c in cols}})
    if rows:
        st.markdown(f"**Test figures** ({protocol})")
        st.dataframe(
            pd.DataFrame(rows).set_index(""),
            width="stretch",
            column_config={c: st.column_config.NumberColumn(format="%.4f") for c in cols},
        )
    sweep = closest_sweep(run.model, run.meta.get("overrides", {}), all_sweeps())
    lines = [res.run_curves([run.id], {run.id: "this run"})]
    ship = res.shipped_run(run.model)
    if ship is not None:
        lines.append(res.run_curves([ship.id], {ship.id: "shipped defaults"}))
    swept = False  # the closest sweep, drawn only where it has runs under this run's protocol
    if sweep is not None and sweep.protocol == protocol:
        sc = res.sweep_curves(sweep)
        if not sc.empty:
            sc["run"] = f"{sweep.name} = " + sc["value"].astype(str)
            lines.append(sc)
            swept = True
    frames = [f for f in lines if not f.empty]  # a run cancelled in its first epoch has none
    curves = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not curves.empty:
        what = (
            st.segmented_control(
                "Curve", ["valid " + metric, "train loss", "valid loss"], default="valid " + metric, key="result_curve"
            )
            or "valid " + metric
        )
        y = {"train loss": "train_loss", "valid loss": "valid_loss"}.get(what, metric)
        if y in curves:
            beside = f"sweep **{sweep.name}** ({sweep.description})" if swept else "the shipped model"
            title = f"{what} per epoch: this run (bold) beside {beside}"
            fig = px.line(curves, x="epoch", y=y, color="run", markers=True, height=380)
            fig.update_traces(line_width=1.5, opacity=0.7)
            fig.update_traces(selector={"name": "this run"}, line_width=4, opacity=1.0)
            st.markdown(title)
            st.plotly_chart(fig, key="result_curves")
            st.caption(
                "What am I looking at: this run (bold) per epoch beside the runs it is compared with; higher NDCG or lower loss is better."
            )
    if sweep is None:
        st.caption(f"No shipped sweep varies {run.model}; compared with the shipped defaults only.")
    elif not swept and sweep.protocol == protocol:
        st.caption(
            f"The closest shipped sweep, **{sweep.name}**, has not been run on {ds.name} yet (the Sweeps page runs it)."
        )
    page_link("app_pages/sweeps.py", "All my runs are on the Sweeps page", ":material/monitoring:")

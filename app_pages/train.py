"""Train: rerun a small training with sliders. The run is a background job (one at a time
per device, queued otherwise); this page only submits it and polls its progress."""

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages._shared import job_manager, page_link, page_start, results, store
from recsys_core import zoo
from recsys_core.errors import RecsysError
from recsys_core.jobs import submit_training
from recsys_core.results import closest_sweep
from recsys_core.splits import describe
from recsys_core.sweeps import all_sweeps
from recsys_core.train import describe_device

MODELS = ["ncf", "mf", "autorec", "cdae", "embnet"]
LRS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]
BATCHES = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
DECAYS = [0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2]
SIZES = [2, 3, 4, 8, 10, 16, 25, 32, 50, 64, 100, 128, 200, 256, 512, 1024]
HALF_LIVES = [0.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0]
AVERAGE_HALF_LIVES = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0]
AUTOREC_LAYERS = ["128", "256", "512", "128-256-256", "500-500-1000"]
EMBNET_HIDDEN = ["100", "100-50", "200-100", "500-250", "1000-500-250"]

ds, src = page_start("Train")
jobs = job_manager()
st.caption(
    "Rerun a small training with your own hyperparameters. It runs in the background (the rest of the app stays "
    "usable), one job at a time per device; the run is kept in the store and listed on the Sweeps page under "
    "**my runs**."
)
device = describe_device()
st.markdown(f":material/memory: This run will use **{device}**.")

left, right = st.columns([1, 1.35], gap="large")


def _opts(options, default):
    return sorted(set(options) | {default})


LOSS_NAMES = {"bce": "BCE", "bpr": "BPR", "softmax": "sampled softmax"}


def _pick(label, options, default, **kw):
    """A selectbox that starts at the shipped default (not at the first option)."""
    return st.selectbox(label, options, index=list(options).index(default), **kw)


def _fmt_lr(v):
    return f"{v:g}"


with left:
    model = st.segmented_control("Model", MODELS, default="ncf", key="train_model", help="the shipped neural models")
    model = model or "ncf"
    entry = zoo.entry(model)
    cfg = entry.config
    st.caption(f"**{model}**: {entry.summary}. Sliders start at the shipped defaults.")
    # a rating model starts on the protocol it is tuned and judged on; its top-10 lists second
    protocols = ["ratings", "loo-uniform"] if entry.task == "rating" else ["loo-uniform"]
    protocol = st.selectbox(
        "Evaluated under", protocols, key=f"{model}:protocol", help="the protocol of the validation and test figures"
    )
    st.caption(describe(protocol))
    actions = st.container()  # Train / Reset, filled in below once the settings are read

    def k(name):
        return f"{model}:{name}"

    ov = {}
    a, b = st.columns(2)
    with a:
        st.markdown("**Model**")
        if model in ("ncf",):
            ov["variant"] = _pick("Variant", ["neumf", "gmf", "mlp"], cfg.variant, key=k("variant"),
                                  help="NeuMF = GMF and the MLP tower, concatenated (the content + NCF study)")  # fmt: skip
            if ov["variant"] != "mlp":
                ov["mf_dim"] = st.select_slider("GMF embedding", _opts(SIZES, cfg.mf_dim), cfg.mf_dim, key=k("mf_dim"))
            if ov["variant"] != "gmf":
                e = st.select_slider("MLP embedding", _opts(SIZES, cfg.layers[0] // 2), cfg.layers[0] // 2,
                                     key=k("mlp_dim"), help="the tower's first layer is 2 x this")  # fmt: skip
                depth = st.slider("Tower depth", 1, 5, len(cfg.layers), key=k("depth"), help="each layer halves")
                ov["layers"] = tuple(max(2 * e // 2**j, 1) for j in range(depth))
                st.caption(f"Tower: {'-'.join(map(str, ov['layers']))}")
            ov["dropout"] = st.slider("Dropout", 0.0, 0.9, cfg.dropout, 0.05, key=k("dropout"))
            ov["genre_features"] = st.toggle("Genre features", cfg.genre_features, key=k("genres"),
                                             disabled=not ds.has_genres,
                                             help="an item genre embedding on the item side (the NCF study)")  # fmt: skip
            ov["user_dropout"] = st.slider("User-id dropout", 0.0, 0.5, cfg.user_dropout, 0.05, key=k("udrop"),
                                           help="share of rows trained as the shared 'new user' (cold start)")  # fmt: skip
            ov["diversity_weight"] = st.select_slider("Diversity weight", _opts([0.0, 0.01, 0.1, 0.5, 1.0, 5.0],
                                                      cfg.diversity_weight), cfg.diversity_weight, key=k("div"),
                                                      disabled=not ds.has_genres,
                                                      help="the content + NCF study's genre-diversity regulariser")  # fmt: skip
            ov["pretrain"] = st.toggle("Pre-train GMF and MLP", cfg.pretrain, key=k("pretrain"),
                                       disabled=ov["variant"] != "neumf",
                                       help="the NCF paper's initialisation; about 3x the training time")  # fmt: skip
            if ov["variant"] != "neumf":
                ov["pretrain"] = False
        if model == "mf":
            ov["dim"] = st.select_slider("Embedding size", _opts(SIZES, cfg.dim), cfg.dim, key=k("dim"))
        if model in ("ncf", "mf"):
            ov["loss"] = _pick("Loss", ["bce", "bpr", "softmax"], cfg.loss, key=k("loss"), format_func=LOSS_NAMES.get,
                               help="BCE on each positive and negative alone, BPR on each (positive, negative) "
                                    "pair, or sampled softmax: each positive against its negatives at once")  # fmt: skip
            ov["n_negatives"] = st.slider("Negatives per positive", 1, 20, cfg.n_negatives, key=k("neg"))
            ov["sampler"] = _pick("Negative sampler", ["uniform", "popularity", "inverse-popularity"], cfg.sampler,
                                  key=k("sampler"))  # fmt: skip
        if model == "autorec":
            default = "-".join(map(str, cfg.layers))
            shape = st.selectbox("Encoder layers", _opts(AUTOREC_LAYERS, default), key=k("layers"),
                                 index=_opts(AUTOREC_LAYERS, default).index(default),
                                 help="the AutoRec study: 1-layer 128/256/512, 3-layer 128-256-256")  # fmt: skip
            ov["layers"] = tuple(int(x) for x in shape.split("-"))
            ov["dropout"] = st.slider("Encoder dropout", 0.0, 0.9, cfg.dropout, 0.05, key=k("dropout"))
            ov["tied"] = st.toggle("Tied decoder weights", cfg.tied, key=k("tied"), help="W_d = W_e^T")
            ov["refeeding"] = st.toggle("Dense re-feeding", cfg.refeeding, key=k("refeed"))
        if model == "cdae":
            ov["hidden"] = st.select_slider("Hidden units", _opts(SIZES, cfg.hidden), cfg.hidden, key=k("hidden"))
            ov["corruption"] = st.slider("Input corruption", 0.0, 0.9, cfg.corruption, 0.05, key=k("corrupt"))
            ov["pos_weight"] = st.toggle("Rare-item positive weights", cfg.pos_weight, key=k("posw"))
        if model in ("ncf", "mf", "cdae"):
            ov["recency_half_life"] = st.select_slider(
                "Recency half-life", _opts(HALF_LIVES, cfg.recency_half_life), cfg.recency_half_life,
                format_func=lambda v: "off" if v == 0 else f"{v:g}", key=k("recency"),
                help="a user's interaction weighs half as much after this many later interactions of theirs",
            )  # fmt: skip
        if model == "embnet":
            ov["dim"] = st.select_slider("Embedding size", _opts(SIZES, cfg.dim), cfg.dim, key=k("dim"))
            ov["embedding_dropout"] = st.slider("Embedding dropout", 0.0, 0.5, cfg.embedding_dropout, 0.01,
                                                key=k("edrop"))  # fmt: skip
            default = "-".join(map(str, cfg.hidden))
            shape = st.selectbox("Hidden layers", _opts(EMBNET_HIDDEN, default), key=k("hidden"),
                                 index=_opts(EMBNET_HIDDEN, default).index(default))  # fmt: skip
            ov["hidden"] = tuple(int(x) for x in shape.split("-"))
            d = st.slider("Hidden dropout", 0.0, 0.9, cfg.dropouts[0] if cfg.dropouts else 0.0, 0.05, key=k("hdrop"))
            ov["dropouts"] = (d,) * len(ov["hidden"])
    with b:
        st.markdown("**Training**")
        ov["lr"] = st.select_slider("Learning rate", _opts(LRS, cfg.lr), cfg.lr, format_func=_fmt_lr, key=k("lr"),
                                    help="log scale; the NCF study's lr 1 diverges or trains badly")  # fmt: skip
        ov["epochs"] = st.slider("Epochs (at most)", 1, 100, min(cfg.epochs, 100), key=k("epochs"))
        ov["patience"] = st.slider("Early-stopping patience", 1, 20, cfg.patience, key=k("patience"),
                                   help="validation checks without improvement before stopping")  # fmt: skip
        ov["batch_size"] = st.select_slider("Batch size", _opts(BATCHES, cfg.batch_size), cfg.batch_size,
                                            key=k("batch"))  # fmt: skip
        ov["weight_decay"] = st.select_slider("Weight decay", _opts(DECAYS, cfg.weight_decay), cfg.weight_decay,
                                              format_func=_fmt_lr, key=k("wd"))  # fmt: skip
        ov["optimizer"] = _pick("Optimizer", ["adam", "sgd"], cfg.optimizer, key=k("opt"))
        if ov["optimizer"] == "sgd":
            ov["momentum"] = st.slider("Momentum", 0.0, 0.99, cfg.momentum, 0.01, key=k("momentum"))
        ov["schedule"] = _pick("LR schedule", ["none", "cosine-restarts"], cfg.schedule, key=k("sched"),
                               help="cosine annealing with warm restarts (the embedding-network study)")  # fmt: skip
        ov["average_half_life"] = st.select_slider(
            "Weight averaging (half-life, epochs)", _opts(AVERAGE_HALF_LIVES, cfg.average_half_life),
            cfg.average_half_life, format_func=lambda v: "off" if v == 0 else f"{v:g}", key=k("average"),
            help="validate and keep a moving average of the weights instead of the last step's",
        )  # fmt: skip

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
                job = submit_training(jobs, store(), src, model, ov, protocol)
                st.session_state["train_job"] = job.id
            except RecsysError as e:
                st.error(str(e))
        if c2.button("Reset to defaults", key="reset"):
            for key in [key for key in st.session_state if str(key).startswith(f"{model}:")]:
                del st.session_state[key]
            st.rerun()


def _job():
    """This session's job, else the newest training job on this dataset (a reload finds it)."""
    job = jobs.get(st.session_state.get("train_job"))
    if job is None:
        mine = [j for j in jobs.jobs(kind="train") if j.meta.get("src") == src]
        active = [j for j in mine if j.active]
        job = (active or mine or [None])[-1]
    return job


def _curves(history: list[dict], pretrain: list[dict], metric: str) -> None:
    """Live loss and validation curves; NeuMF's pre-training phases (GMF, MLP) as their own lines."""
    h = pd.DataFrame([*pretrain, *({**r, "phase": "run"} for r in history)])
    if h.empty:
        return
    loss = h.melt(["epoch", "phase"], [c for c in ("train_loss", "valid_loss") if c in h], var_name="split",
                  value_name="loss")  # fmt: skip
    loss["split"] = loss["split"].str.replace("_loss", "")
    a, b = st.columns(2)
    a.plotly_chart(px.line(loss, x="epoch", y="loss", color="split", line_dash="phase", markers=True, height=300,
                           title="Loss per epoch"), key="live_loss")  # fmt: skip
    if metric in h:
        b.plotly_chart(px.line(h, x="epoch", y=metric, color="phase", markers=True, height=300,
                               title=f"Validation {metric} per epoch"), key="live_metric")  # fmt: skip


with right:
    job = _job()
    queue = [j for j in jobs.jobs() if j.active]
    if queue:
        st.caption(
            "Queue: "
            + " · ".join(f"{'▶ ' if j.status == 'running' else f'#{jobs.position(j)} '}{j.label}" for j in queue)
        )
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
            st.info(f"Queued: position {jobs.position(job)} on {job.device}; it starts when the job ahead finishes.")
        elif job.status == "running":
            epochs, epoch = p.get("epochs") or 1, p.get("epoch") or 0
            nb, batch = p.get("n_batches") or 1, p.get("batch") or 0
            frac = min(max((epoch - 1 + batch / nb) / epochs, 0.0), 1.0) if epoch else 0.0
            phase = p.get("phase", "starting")
            text = (f"Epoch {epoch}/{epochs} · batch {batch}/{nb} · loss {p['loss']:.4f}" if epoch and "loss" in p
                    else phase + " ...")  # fmt: skip
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
            _curves(hist, pre, metric)
        else:
            st.rerun()  # finished: redraw the page without polling
        if job.active and st.button("Cancel", icon=":material/stop:", key=f"cancel_{job.id}"):
            jobs.cancel(job.id)
            st.toast("Cancelling: the run stops within a second.")

    if job.active:
        live()
        st.stop()

    run = store().run(job.run_id) if job.run_id else None
    status = run["status"] if run else job.status
    if status == "done":
        st.success(f"Finished in {run['seconds']:.1f} s on {run['device']}; best epoch {run['best_epoch']}.")
    elif status == "diverged":
        st.warning(f"Diverged: {job.error or run['error']}")
    elif status == "cancelled":
        st.info(f"Cancelled: {job.error or run['error']}")
    else:
        st.error(f"The run {status}: {job.error or (run or {}).get('error')}")
    if run is None:
        st.stop()
    protocol = meta.get("protocol", "loo-uniform")
    mine = run["metrics"].get(protocol, {})
    res = results(src)
    board = res.leaderboard()
    shipped = board[(board["model"] == run["model"]) & (board["protocol"] == protocol)]
    cols = ["RMSE", "MAE"] if rating else ["HR@10", "NDCG@10", "Recall@10", "coverage", "diversity"]
    rows = []
    if mine:
        rows.append({"": "this run", **{c: mine.get(c) for c in cols}})
    if not shipped.empty:
        rows.append({"": "shipped defaults", **{c: shipped.iloc[0].get(c) for c in cols}})
    if rows:
        st.markdown(f"**Test figures** ({protocol})")
        st.dataframe(pd.DataFrame(rows).set_index(""), width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.4f") for c in cols})  # fmt: skip
    sweep = closest_sweep(run["model"], run["meta"].get("overrides", {}), all_sweeps())
    lines = [res.run_curves([run["id"]], {run["id"]: "this run"})]
    ship = res.shipped_run(run["model"])
    if ship is not None:
        lines.append(res.run_curves([ship["id"]], {ship["id"]: "shipped defaults"}))
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
        what = st.segmented_control("Curve", ["valid " + metric, "train loss", "valid loss"],
                                    default="valid " + metric, key="result_curve") or "valid " + metric  # fmt: skip
        y = {"train loss": "train_loss", "valid loss": "valid_loss"}.get(what, metric)
        if y in curves:
            beside = f"sweep **{sweep.name}** ({sweep.description})" if swept else "the shipped model"
            title = f"{what} per epoch: this run (bold) beside {beside}"
            fig = px.line(curves, x="epoch", y=y, color="run", markers=True, height=380)
            fig.update_traces(line_width=1.5, opacity=0.7)
            fig.update_traces(selector={"name": "this run"}, line_width=4, opacity=1.0)
            st.markdown(title)
            st.plotly_chart(fig, key="result_curves")
    if sweep is None:
        st.caption(f"No shipped sweep varies {run['model']}; compared with the shipped defaults only.")
    elif not swept and sweep.protocol == protocol:
        st.caption(
            f"The closest shipped sweep, **{sweep.name}**, has not been run on {ds.name} yet (the Sweeps page runs it)."
        )
    page_link("app_pages/sweeps.py", "All my runs are on the Sweeps page", ":material/monitoring:")

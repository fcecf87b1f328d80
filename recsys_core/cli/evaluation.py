"""`evaluate`, `compare`, `similar`, `recommend`: figures and lists, from a fit or a stored run."""

from __future__ import annotations

import sys

from recsys_core.cli.common import check_model, check_protocol, metrics_table, parse_sets, print_json, raise_config


def cmd_evaluate(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.evaluation.splits import describe
    from recsys_core.runs.experiment import fit_and_evaluate

    if args.run is not None:
        return _evaluate_run(args)
    if not args.model:
        raise_config("evaluate needs a model (or --run ID for a stored run)")
    check_model(args.model)
    ds = load_dataset(args.dataset)
    protocols = check_protocol(args.model, args.protocol or "full")
    shares = {k: v for k, v in (("test_share", args.test_share), ("valid_share", args.valid_share)) if v is not None}
    if shares and "temporal" not in protocols:
        raise_config("--test-share and --valid-share set the temporal split: add --protocol temporal")
    res = fit_and_evaluate(args.model, ds, protocols, args.k, parse_sets(args.set), refit=args.refit, temporal=shares)
    segments = _segments(args, ds, res.ranks) if args.by else {}
    if args.json:
        out = [res.to_json(p, args.k) | ({"segments": segments[p]} if p in segments else {}) for p in res.metrics]
        print_json(out[0] if len(out) == 1 else out)
        return 0
    print(f"{args.model} on {ds.name} ({ds.n_users:,} users, {ds.n_items:,} movies)")
    for p in protocols:
        print(f"  {p}: {describe(p, refit=res.refit)}")
    print(metrics_table(res.metrics, args.k))
    if "temporal" in res.metrics:
        print(_temporal_counts(res.metrics["temporal"]))
    print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in res.seconds.items()))
    print("beyond-accuracy columns (coverage ...) are on the full-ranking top-K lists of the evaluated users")
    _print_segments(segments, args.by)
    return 0


def _temporal_counts(m: dict) -> str:
    return (
        f"temporal: {m['users']:,.0f} users with {m['targets']:,.0f} test-window interactions ranked; left out: "
        f"{m['cold_users']:,.0f} users with no training history ({m['cold_user_targets']:,.0f} interactions), "
        f"{m['repeat_targets']:,.0f} repeats of an earlier item; {m['new_item_targets']:,.0f} targets are items "
        "no one had in training"
    )


def _segments(args, ds, ranks: dict, pair=None) -> dict[str, list[dict]]:
    """protocol -> the segment table of `args.by` (one model's ranks, or a pair's)."""
    from recsys_core.evaluation.paired import segment_context, segment_table

    out = {}
    for protocol, r in ranks.items():
        train, ref = segment_context(ds, protocol)
        metric = getattr(args, "metric", None) or f"NDCG@{args.k}"
        table = r if isinstance(r, dict) else {args.model: r}
        out[protocol] = segment_table(args.by, table, train, ref, metric, pair)
    return out


def _print_segments(segments: dict[str, list[dict]], by: str | None) -> None:
    for protocol, rows in segments.items():
        print(f"\n{protocol}, by {by}:")
        for row in rows:
            figures = ", ".join(
                f"{k} {v:.4f}"
                for k, v in row.items()
                if k not in ("segment", "users", "targets", "diff", "p_value") and _is_number(v)
            )
            extra = f" ({row['targets']:,} targets)" if row["targets"] != row["users"] else ""
            sig = ""
            if "p_value" in row:
                sig = f"; 95% interval {row['ci95'][0]:+.4f} to {row['ci95'][1]:+.4f}, p = {row['p_value']:.3g}"
                sig += ", significant" if row["significant"] else ", within noise"
            print(f"  {row['segment']}: {row['users']:,} users{extra}; {figures}{sig}")


def _is_number(v) -> bool:
    return isinstance(v, float) and not isinstance(v, bool)


def cmd_compare(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.evaluation.paired import paired, parse_metric
    from recsys_core.evaluation.protocols import protocol as protocol_record
    from recsys_core.runs.life import ranks_of
    from recsys_core.runs.store import Store

    parse_metric(args.metric)  # a bad metric is said before anything is loaded or trained
    record = protocol_record(args.protocol)
    if not record.ranking:
        raise_config(
            f"compare needs a ranking protocol (full, temporal, loo-uniform, loo-popularity), not {record.name}"
        )
    if args.resamples < 100:
        raise_config(f"--resamples {args.resamples}: at least 100 for a 95% interval")
    ds = load_dataset(args.dataset)
    store = Store()

    def say(msg):
        print(msg, file=sys.stderr, flush=True)

    _, ra = ranks_of(store, ds, args.a, args.protocol, say)
    _, rb = ranks_of(store, ds, args.b, args.protocol, say)
    result = paired(ra, rb, args.metric, (args.a, args.b), args.protocol, args.resamples, args.seed)
    args.k = parse_metric(args.metric)[1]
    segments = _segments(args, ds, {args.protocol: {args.a: ra, args.b: rb}}, (args.a, args.b)) if args.by else {}
    if args.json:
        out = result.to_json()
        if segments:
            out["segments"] = segments[args.protocol]
        print_json(out)
        return 0
    r = result
    print(f"{r.a} vs {r.b} on {ds.name}, {r.protocol} ({record.description}), {r.metric} per user")
    print(f"  mean {r.a} {r.mean_a:.4f}, {r.b} {r.mean_b:.4f}; difference {r.diff:+.4f}")
    print(f"  95% paired bootstrap interval {r.ci95[0]:+.4f} to {r.ci95[1]:+.4f} ({args.resamples:,} resamples)")
    print(
        f"  Wilcoxon signed-rank p = {r.p_value:.3g}; {r.a} wins {r.wins:,}, ties {r.ties:,}, loses {r.losses:,} of {r.users:,} users"
    )
    print(f"  {r.verdict()}")
    _print_segments(segments, args.by)
    return 0


def _run_protocols(args, run, ranking) -> list[str]:
    """The protocols `evaluate --run` scores: the run's own, or those `--protocol` asks for
    that test on the split the run was trained on (any leave-one-out ranking protocol when it
    was trained on that split). Settings that would need a new fit are refused, not ignored."""
    unused = [f for f, v in (("--refit", args.refit), ("--test-share", args.test_share)) if v]
    _as_stored(args, run, unused + ["--valid-share"] * (args.valid_share is not None))
    own = [p for p in run.meta.get("protocols", []) if p != "ratings-5fold"] or list(ranking)
    if args.protocol is None:
        return own
    split_of_run = set(own) | (set(ranking) if set(own) & set(ranking) else set())
    asked = check_protocol(run.model, args.protocol)
    other = [p for p in asked if p not in split_of_run]
    if other and (args.protocol != "all" or len(other) == len(asked)):
        raise_config(
            f"run {run.id} was trained for {', '.join(own)}; {', '.join(other)} tests on another split, so"
            f" it needs its own fit: python -m recsys_core evaluate {run.model} --protocol {other[0]}"
        )
    if other:
        print(f"(run {run.id} was trained for {', '.join(own)}: left out {', '.join(other)})", file=sys.stderr)
    return [p for p in asked if p in split_of_run]


def _as_stored(args, run, unused=()) -> None:
    """Refuse, with a message, what a stored run cannot honour: settings of a new fit
    (`--set`, and `unused`) or a model name other than the run's. Nothing is ignored."""
    unused = (["--set"] if args.set else []) + list(unused)
    if unused:
        raise_config(f"{', '.join(unused)} would need a new fit: run {run.id} is used as it was trained")
    if args.model and args.model != run.model:
        raise_config(f"run {run.id} is a {run.model} run, not {args.model}: give the run or the model, not both")


def _stored_run(args):
    """(run, dataset, store) of `--run ID`: the dataset the run was trained on unless
    --dataset names another source of the same data."""
    from recsys_core.data import load_dataset
    from recsys_core.runs.store import Store

    store = Store()
    run = store.run(args.run)
    if run is None:
        raise_config(f"no run {args.run} in {store.path}")
    src = args.dataset if args.dataset_given else (run.meta.get("src") or run.dataset)
    return run, load_dataset(src), store


def _evaluate_run(args) -> int:
    from recsys_core.evaluation.protocols import RANKING
    from recsys_core.evaluation.scoring import evaluate_many, evaluate_ratings, evaluate_temporal
    from recsys_core.evaluation.splits import describe, loo_split, ratings_split
    from recsys_core.evaluation.temporal import temporal_split
    from recsys_core.runs.artifacts import load_model

    run, ds, store = _stored_run(args)
    protocols = _run_protocols(args, run, RANKING)
    model = load_model(store, run, ds)
    ranking = [p for p in protocols if p in RANKING]
    metrics, ranks = {}, {}
    if ranking:
        metrics, _, _, ranks = evaluate_many(model, loo_split(ds), ranking, args.k)
    if "temporal" in protocols:
        metrics["temporal"], _, _, ranks["temporal"] = evaluate_temporal(model, temporal_split(ds), args.k)
    if "ratings" in protocols:
        metrics["ratings"] = evaluate_ratings(model, ratings_split(ds).test)
    args.model = run.model
    segments = _segments(args, ds, ranks) if args.by else {}
    if args.json:
        print_json(
            {
                "run": run.id,
                "model": run.model,
                "dataset": ds.name,
                "k": args.k,
                "protocols": {p: describe(p) for p in metrics},
                "metrics": metrics,
                **({"segments": segments} if segments else {}),
            }
        )
        return 0
    print(f"run {run.id}: {run.model} ({run.label or 'defaults'}) on {ds.name}, reloaded from the store")
    for p in metrics:
        print(f"  {p}: {describe(p)}")
    print(metrics_table(metrics, args.k))
    _print_segments(segments, args.by)
    return 0


def cmd_similar(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.data.interactions import interactions
    from recsys_core.data.lookup import find_movie
    from recsys_core.runs.zoo import make

    ds = load_dataset(args.dataset)
    item = find_movie(ds, args.movie)
    model = make("genre", ds.n_users, ds.n_items, {"tfidf": str(args.tfidf)})
    model.fit(interactions(ds))  # closed form
    items, sims = model.similar(item, args.k)
    rows = []
    for j, sim in zip(items, sims):
        shared = [g for g, f in zip(ds.genres, model.shared_genres(item, j)) if f]
        rows.append(
            {
                "title": ds.title_of(j),
                "similarity": round(float(sim), 4),
                "shared_genres": shared,
                "ratings": int(ds.item_popularity[j]),
            }
        )
    if args.json:
        print_json({"movie": ds.title_of(item), "genres": ds.items["genres"].iat[item].split("|"), "similar": rows})
        return 0
    print(f"{ds.title_of(item)}  [{ds.items['genres'].iat[item].replace('|', ', ')}]")
    for r in rows:
        print(f"  {r['similarity']:.3f}  {r['title']:<50} shared: {', '.join(r['shared_genres'])}")
    return 0


def cmd_recommend(args) -> int:
    from recsys_core.data import load_dataset
    from recsys_core.data.lookup import find_user
    from recsys_core.evaluation.splits import loo_split
    from recsys_core.runs.artifacts import load_model
    from recsys_core.runs.zoo import make
    from recsys_core.training.fitting import fit_model

    if args.run is not None:
        run, ds, store = _stored_run(args)
        _as_stored(args, run)
        model, source = load_model(store, run, ds), f"run {run.id} ({run.model}, {run.label or 'defaults'})"
    elif args.model:
        check_model(args.model)
        ds = load_dataset(args.dataset)
        model = make(args.model, ds.n_users, ds.n_items, parse_sets(args.set))
        split = loo_split(ds)
        fit_model(model, split.train, split)
        source = f"{args.model}, trained now on the leave-one-out train split"
    else:
        raise_config("recommend needs a model (trained now) or --run ID (a stored run)")
    user = find_user(ds, args.user)
    items, scores = model.recommend(user, args.k)
    test = int(loo_split(ds).test_items[user])
    rows = [
        {
            "movie_id": ds.items["item_id"].iat[i],
            "title": ds.title_of(i),
            "score": round(float(s), 4),
            "genres": ds.items["genres"].iat[i].split("|"),
            "held_out": bool(i == test),
        }
        for i, s in zip(items, scores)
        if i >= 0
    ]
    if args.json:
        print_json(rows)
        return 0
    print(f"top {args.k} for user {args.user} from {source}")
    for r in rows:
        mark = "  <- held-out test movie" if r["held_out"] else ""
        print(f"  {r['score']:>8.4f}  {r['title']}{mark}")
    if not rows:
        print("  (no unseen movie left to recommend)")
    return 0

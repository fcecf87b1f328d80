"""Findings: what the store says about a dataset, in the order a demo tells it. Every
finding is computed from the stored runs (never written by hand), names its protocol, carries
a small table to chart and the page that shows the detail; one whose runs are not stored yet
is left out. Verdicts ("leads", "within noise") come from paired tests over the same users
(`recsys_core.evaluation.paired`) where the runs' per-user ranks are stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys_core.data.summary import component_ends
from recsys_core.evaluation.paired import segment_context, segment_table
from recsys_core.evaluation.protocols import ALL_RANKING, TEMPORAL
from recsys_core.evaluation.splits import describe
from recsys_core.runs.catalog import ZOO
from recsys_core.runs.results import Results, hr_standard_error


@dataclass
class Finding:
    """One thing this dashboard found, computed from the store: a headline, the figures
    behind it (a small table to chart), the protocol they were measured under, and the page
    (its id, "home" or "users", and its link parameters) that shows the detail; the app maps
    the id to its page file."""

    title: str
    text: str
    protocol: str
    table: pd.DataFrame
    page: str
    params: dict = field(default_factory=dict)


def lead_finding(res: Results, sub: pd.DataFrame, protocol: str) -> Finding:
    """Who leads a board, and whether the lead over the runner-up is real: the paired test on
    NDCG@10 over the same users, Holm-corrected over the board's gaps as Home's board is, when
    the models' ranks are stored, else the standard error of the gap (two standard errors
    either way). Reads the same whichever model is ahead."""
    first, second = sub.iloc[0], sub.iloc[1]
    gaps = res.gaps(protocol, list(sub["model"]))  # the same tests as Home's board, Holm-corrected over it
    gap = float(first["NDCG@10"] - second["NDCG@10"])
    if gaps[0] is not None:
        test, p_holm = gaps[0]["test"], gaps[0]["p_holm"]
        clear = gaps[0]["significant"]
        n = len([g for g in gaps if g is not None])
        why = f"{test.verdict()}; corrected for the board's {n} gaps (Holm), p = {p_holm:.3g}: " + (
            "a real lead." if clear else "not a lead one can claim."
        )
    else:  # no per-user ranks: the binomial standard error of HR@10's gap, whichever sign it has
        se, n = hr_standard_error(res.ds, float(first["HR@10"]))
        hr_gap = float(first["HR@10"] - second["HR@10"])
        clear = abs(hr_gap) > 2 * se * np.sqrt(2)
        why = (
            f"HR@10 {first['HR@10']:.3f} against {second['HR@10']:.3f} ({hr_gap:+.3f}; standard error of a gap about "
            f"{se * np.sqrt(2):.3f} over {n:,} users): {'a clear gap' if clear else 'within noise'}, not a paired test."
        )
    title = f"{first['model']} leads" if clear else f"{first['model']} and {second['model']} share the lead"
    return Finding(
        f"{title} under {protocol}",
        f"{first['model']} ranks first by NDCG@10 ({first['NDCG@10']:.3f}, {gap:+.3f} over {second['model']}). {why}",
        f"{protocol}: {describe(protocol)}",
        sub[["model", "HR@10", "NDCG@10"]].reset_index(drop=True),
        "home",
    )


def order_changes(ranking: pd.DataFrame) -> list[Finding]:
    """Pairs of models whose order by NDCG@10 flips between full ranking and a sampled
    protocol, and between leave-one-out and the temporal split."""
    out = []
    for a, b, why in (
        ("full", "loo-uniform", "sampled metrics can reorder models (Krichene and Rendle 2020)"),
        ("full", "loo-popularity", "sampled metrics can reorder models (Krichene and Rendle 2020)"),
        ("full", TEMPORAL, "leave-one-out lets a model train on later interactions than other users' tests"),
    ):
        x = ranking[ranking["protocol"] == a].set_index("model")["NDCG@10"]
        y = ranking[ranking["protocol"] == b].set_index("model")["NDCG@10"]
        common = [m for m in x.index if m in y.index]
        if len(common) < 2:
            continue
        flips = [
            (m, n)
            for j, m in enumerate(common)
            for n in common[j + 1 :]
            if (x[m] - x[n]) * (y[m] - y[n]) < 0  # ahead under one, behind under the other
        ]
        rows = pd.DataFrame(
            {
                "model": common,
                f"rank under {a}": x[common].rank(ascending=False).astype(int).to_numpy(),
                f"rank under {b}": y[common].rank(ascending=False).astype(int).to_numpy(),
                f"NDCG@10 {a}": x[common].to_numpy(),
                f"NDCG@10 {b}": y[common].to_numpy(),
            }
        ).sort_values(f"rank under {a}")
        said = "; ".join(
            f"{m} {'above' if x[m] > x[n] else 'below'} {n} under {a}, {'below' if x[m] > x[n] else 'above'} under {b}"
            for m, n in flips[:6]
        )
        text = (
            f"{len(flips)} of {len(common) * (len(common) - 1) // 2} pairs of models change order between {a} and {b}"
            + (
                f": {said}" + (f"; and {len(flips) - 6} more" if len(flips) > 6 else "") + "."
                if flips
                else ": the order holds."
            )
            + f" Why it can: {why}."
        )
        out.append(
            Finding(
                f"Does the order hold from {a} to {b}?",
                text,
                f"{a} against {b}",
                rows.drop(columns=[f"rank under {a}", f"rank under {b}"]).reset_index(drop=True),
                "home",
            )
        )
    return out


def segment_findings(res: Results, protocol: str = "full") -> list[Finding]:
    """Where popularity's score comes from (its NDCG@10 by the held-out item's popularity),
    and in which user segment (history length) the sequential models gain most over the
    best order-blind model, each inside-segment gap paired."""
    out = []
    pop = res.ranks("popularity", protocol)
    if pop is not None:
        train, ref = segment_context(res.ds, protocol)
        rows = segment_table("popularity", {"popularity": pop}, train, ref)
        best = max(rows, key=lambda r: r["popularity"])
        share = best["popularity"] * best["users"] / max(sum(r["popularity"] * r["users"] for r in rows), 1e-12)
        out.append(
            Finding(
                "Where the popularity baseline's score comes from",
                f"{share:.0%} of its NDCG@10 is earned on users whose held-out {res.ds.item_noun} is among the"
                f" {best['segment']}"
                f" ({best['users']:,} of {sum(r['users'] for r in rows):,} users): "
                + ", ".join(f"{r['segment']} {r['popularity']:.3f}" for r in rows)
                + f". Head items: the most chosen {res.ds.item_noun}s that make up 20% of the training interactions;"
                " tail: the least.",
                f"{protocol}: {describe(protocol)}",
                pd.DataFrame(
                    [{"segment": r["segment"], "users": r["users"], "NDCG@10": r["popularity"]} for r in rows]
                ),
                "findings",
            )
        )
    board = res.leaderboard()
    if board.empty:
        return out
    sub = board[(board["protocol"] == protocol) & (board["task"] == "ranking")]
    seq = [m for m in sub["model"] if ZOO[m].family == "sequential"]
    blind = sub[~sub["model"].isin(seq)].sort_values("NDCG@10", ascending=False)
    if seq and not blind.empty:
        a = sub[sub["model"].isin(seq)].sort_values("NDCG@10", ascending=False).iloc[0]["model"]
        b = blind.iloc[0]["model"]
        ra, rb = res.ranks(a, protocol), res.ranks(b, protocol)
        if ra is not None and rb is not None:
            train, ref = segment_context(res.ds, protocol)
            rows = segment_table("activity", {a: ra, b: rb}, train, ref, pair=(a, b))
            top = max(rows, key=lambda r: r.get("diff", -np.inf))
            out.append(
                Finding(
                    f"Where {a} gains most over {b}",
                    f"By history length, {a}'s lead over the best order-blind model on NDCG@10 is largest for"
                    f" {top['segment']} ({top['diff']:+.3f}, 95% interval {top['ci95'][0]:+.3f} to"
                    f" {top['ci95'][1]:+.3f}): "
                    + "; ".join(f"{r['segment']} {r['diff']:+.3f}{' ✓' if r['significant'] else ' ≈'}" for r in rows)
                    + " (✓ a real gap inside the segment, ≈ within noise).",
                    f"{protocol}: {describe(protocol)}",
                    pd.DataFrame([{"segment": r["segment"], "users": r["users"], a: r[a], b: r[b]} for r in rows]),
                    "findings",
                )
            )
    return out


def mf_against_neumf(ranking: pd.DataFrame) -> list[Finding]:
    """Plain MF against NeuMF under loo-uniform, as Rendle et al. (2020) asked."""
    out: list[Finding] = []
    if not ranking.empty and {"mf", "ncf"} <= set(ranking["model"]):
        sub = ranking[(ranking["protocol"] == "loo-uniform") & ranking["model"].isin(["mf", "ncf"])]
        if len(sub) == 2:
            mf, ncf = (sub[sub["model"] == m].iloc[0] for m in ("mf", "ncf"))
            better = "beats" if mf["NDCG@10"] > ncf["NDCG@10"] else "does not beat"
            out.append(
                Finding(
                    f"Plain matrix factorisation {better} NeuMF",
                    f"MF: HR@10 {mf['HR@10']:.3f}, NDCG@10 {mf['NDCG@10']:.3f}; NeuMF: {ncf['HR@10']:.3f}, "
                    f"{ncf['NDCG@10']:.3f}. A well-tuned dot product holds its own against the MLP tower, as Rendle et "
                    "al. (2020) found.",
                    f"loo-uniform: {describe('loo-uniform')}",
                    sub[["model", "HR@10", "NDCG@10"]].reset_index(drop=True),
                    "users",
                    {"model_a": "mf", "model_b": "ncf"},
                )
            )
    return out


def recency_findings(res: Results) -> list[Finding]:
    """What recency weights did to each model with runs both with and without them."""
    out: list[Finding] = []
    for model in ("mf", "ncf", "cdae", "ease"):
        runs = res.model_runs(model) if model != "ease" else pd.DataFrame()
        metric = "best-epoch valid NDCG@10"
        if runs.empty or "recency_half_life" not in runs or metric not in runs:
            continue
        off, on = runs[runs["recency_half_life"] == 0], runs[runs["recency_half_life"] > 0]
        if off.empty or on.empty:
            continue
        a, b = float(off[metric].max()), float(on[metric].max())
        out.append(
            Finding(
                f"Recency weights and {model}",
                f"Best validation NDCG@10 of {model} runs without recency weights {a:.3f}, with them {b:.3f} ({b - a:+.3f}):"
                " the latest interactions are held out, and recent taste predicts them.",
                "loo-uniform (validation item)",
                pd.DataFrame({"recency weights": ["off", "on"], "best valid NDCG@10": [a, b]}),
                "sweeps",
                {"pc_model": model},
            )
        )
    return out


def map_finding(res: Results) -> list[Finding]:
    """What the first direction of the first item map means (its two ends)."""
    out: list[Finding] = []
    for model in res.models_with("item_embeddings"):
        found = res.embedding_map(model)
        if found is None or model == "genre":
            continue
        df, explained = found
        neg, pos = component_ends(df, "PC1", 5)
        out.append(
            Finding(
                f"What the first direction of {model}'s {res.ds.item_noun} map means",
                f"PC1 explains {explained[0]:.0%} of the variance. At one end: {', '.join(neg)}; at the other: "
                f"{', '.join(pos)}.",
                "train split of leave-one-out",
                pd.DataFrame({"one end": neg, "the other end": pos}),
                "embeddings",
                {"map_model": model},
            )
        )
        break  # the first model with a map
    return out


def settings_that_matter(res: Results, sweeps: dict) -> list[Finding]:
    """Which sweep moves the validation metric most (its spread between best and worst)."""
    out: list[Finding] = []
    spread = []
    for sweep in sweeps.values():
        rows = [r for r in res.sweep_report(sweep) if r.get("status") == "done"]
        valid = [
            v for r in rows for k, v in r.items() if k.startswith("valid ") and k != "valid_loss" and v is not None
        ]
        if len(valid) >= 2:
            spread.append(
                {
                    "sweep": sweep.name,
                    "setting": sweep.param,
                    "spread of the validation metric": max(valid) - min(valid),
                }
            )
    if spread:
        table = pd.DataFrame(spread).sort_values("spread of the validation metric", ascending=False)
        top = table.iloc[0]
        out.append(
            Finding(
                "Which settings matter most",
                f"Across the sweeps run here, {top['setting']} ({top['sweep']}) moves the validation metric most: "
                f"{top['spread of the validation metric']:.3f} between its best and worst value.",
                "each sweep's own protocol, validation",
                table.reset_index(drop=True),
                "sweeps",
                {"sweep": str(top["sweep"])},
            )
        )
    return out


def study_findings(res: Results, sweeps: dict) -> list[Finding]:
    """Each write-up's claim beside this dataset's best point of the sweep that replays it."""
    out: list[Finding] = []
    for sweep in sweeps.values():
        if not sweep.claim:
            continue
        best = next((r for r in res.sweep_report(sweep) if r.get("best")), None)
        if best is None:
            continue
        study = sweep.description.split(":")[0]
        out.append(
            Finding(
                f"{study[0].upper() + study[1:]}: {sweep.param}",
                f"The write-up: {sweep.claim}. Here, the best {sweep.param} on validation is {best['value']}.",
                sweep.protocol,
                pd.DataFrame(res.sweep_report(sweep))[["value", *[k for k in best if k.startswith("valid ")]]],
                "sweeps",
                {"sweep": sweep.name},
            )
        )
    return out


def findings(res: Results, sweeps: dict) -> list[Finding]:
    """What the store says about this dataset, in the order a demo tells it; a finding whose
    runs are not in the store yet is left out (never written by hand)."""
    out: list[Finding] = []
    board = res.leaderboard()
    ranking = board[(board["protocol"] != "ratings") & (board["task"] == "ranking")] if not board.empty else board
    for protocol in [p for p in ALL_RANKING if not ranking.empty and p in set(ranking["protocol"])]:
        sub = ranking[ranking["protocol"] == protocol].sort_values("NDCG@10", ascending=False)
        if len(sub) < 2:
            continue
        out.append(lead_finding(res, sub, protocol))
    out += order_changes(ranking)
    out += segment_findings(res)
    out += mf_against_neumf(ranking)
    out += recency_findings(res)
    out += map_finding(res)
    out += settings_that_matter(res, sweeps)
    out += study_findings(res, sweeps)
    return out

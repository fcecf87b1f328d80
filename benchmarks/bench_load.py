"""Training under load: the CLI's build and the app's build of the same shipped models, on
an idle machine and beside a CPU hog (one busy-loop process, a core's worth of other work),
in one run. Prints the four build times, the models' figures in each (the same to the bit
when the thread count is the same), and the ratios the issue sets: the app within 1.3x of
the CLI (idle and loaded), the loaded CLI within 2.5x of the idle one.

The app's build is the one a newcomer gets: `streamlit run app.py` with fresh artifacts, the
models built by the app itself in the background, Home open in a headless chromium. Times
are from the store's own rows: the first run's start to the last run's end.

    python benchmarks/bench_load.py [--models popularity,ease,mf,ncf,cdae,sasrec] [--dataset ml-100k]
    python benchmarks/bench_load.py --wait-policy ACTIVE     # torch's default: threads spin while waiting
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CHROMIUM_ARGS, ROOT, start_app, table, wait_healthy

from recsys_core.runs.catalog import ZOO

HOG = "while True: pass"


def build_times(artifacts: Path) -> tuple[float, dict]:
    """(first start to last end of the store's finished runs, model -> (device line, HR@10 under `full`))."""
    with sqlite3.connect(artifacts / "runs.sqlite") as db:
        rows = db.execute("SELECT model, started, finished, device, metrics FROM runs WHERE status = 'done'").fetchall()
    span = max(r[2] for r in rows) - min(r[1] for r in rows)
    figures = {}
    for model, _, _, device, metrics in rows:
        m = json.loads(metrics or "{}")
        full = m.get("full", {}).get("NDCG@10")
        figures[model] = (device or "", full)
    return span, figures


def cli_build(models: str, dataset: str, env: dict) -> tuple[float, dict]:
    arts = Path(tempfile.mkdtemp(prefix="load-cli-"))
    try:
        cmd = [sys.executable, "-m", "recsys_core", "build", "--dataset", dataset, "--models", models]
        subprocess.run(cmd, cwd=ROOT, env={**env, "RECSYS_ARTIFACTS": str(arts)}, check=True, capture_output=True)
        return build_times(arts)
    finally:
        shutil.rmtree(arts, ignore_errors=True)


def app_build(models: str, dataset: str, env: dict, timeout: float) -> tuple[float, dict]:
    from playwright.sync_api import sync_playwright

    arts = Path(tempfile.mkdtemp(prefix="load-app-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app_env = {
        **env,
        "RECSYS_ARTIFACTS": str(arts),
        "RECSYS_BUILD_MODELS": models,
        "RECSYS_AUTO_BUILD": "1",
        "RECSYS_AUTO_FETCH": "1",
        "RECSYS_DATASETS": "",
    }
    wanted = set(models.split(","))
    proc = start_app(port, app_env)
    try:
        if not wait_healthy(port, 60):
            raise SystemExit("the app did not start")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/?dataset={dataset}")
            end = time.monotonic() + timeout
            while time.monotonic() < end:  # the page stays open while the app builds
                try:
                    span, figures = build_times(arts)
                    if wanted <= set(figures):
                        break
                except (sqlite3.Error, ValueError, FileNotFoundError):
                    pass
                page.wait_for_timeout(1000)
            else:
                raise SystemExit(f"the app's build did not finish in {timeout:.0f} s")
            browser.close()
        return span, figures
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(arts, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="popularity,ease,mf,ncf,cdae,sasrec")
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--threads", default="", help="RECSYS_THREADS for every build (default: the project's rule)")
    ap.add_argument("--wait-policy", default="", help="OMP_WAIT_POLICY (default: the project's, PASSIVE)")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    for m in args.models.split(","):
        if m not in ZOO:
            raise SystemExit(f"unknown model {m!r}")
    env = {k: v for k, v in os.environ.items() if k not in ("RECSYS_THREADS", "OMP_WAIT_POLICY")}
    env["PYTHONPATH"] = str(ROOT)
    if args.threads:
        env["RECSYS_THREADS"] = args.threads
    if args.wait_policy:
        env["OMP_WAIT_POLICY"] = args.wait_policy
    results = {}
    for load in ("idle", "hog"):
        hog = subprocess.Popen([sys.executable, "-c", HOG]) if load == "hog" else None
        try:
            results["CLI", load] = cli_build(args.models, args.dataset, env)
            results["app", load] = app_build(args.models, args.dataset, env, args.timeout)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    rows = []
    for (where, load), (span, figures) in results.items():
        threads = sorted({d for d, _ in figures.values() if d.startswith("CPU")})
        rows.append({"build": where, "load": load, "seconds": f"{span:.1f}", "device lines": "; ".join(threads)})
    print(
        f"{args.dataset}, models {args.models}, OMP_WAIT_POLICY={args.wait_policy or 'project default (PASSIVE)'}, "
        f"RECSYS_THREADS={args.threads or 'rule'}"
    )
    print(table(rows))
    s = {k: v[0] for k, v in results.items()}
    print(f"app / CLI idle {s['app', 'idle'] / s['CLI', 'idle']:.2f}x (target <= 1.3)")
    print(f"app / CLI hog  {s['app', 'hog'] / s['CLI', 'hog']:.2f}x (target <= 1.3)")
    print(f"CLI hog / idle {s['CLI', 'hog'] / s['CLI', 'idle']:.2f}x (target <= 2.5)")
    base = results["CLI", "idle"][1]
    same = all(
        results[k][1].get(m, (None, None))[1] == base[m][1] for k in results for m in base
    )  # full-ranking NDCG@10, to the bit
    print(f"figures (full NDCG@10 of every model) identical in all four builds: {same}")
    for m, (_, v) in sorted(base.items()):
        print(f"  {m}: {v}")


if __name__ == "__main__":
    main()

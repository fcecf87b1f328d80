"""Train page timings: from pressing Train to the first epoch drawn, and seconds per epoch.

    python benchmarks/bench_train_job.py [--dataset ml-100k] [--model ncf] [--no-browser]

Two measurements of one default training each, in a temporary store:
1. the job manager alone (what the page polls): submit -> first epoch in the job's
   progress, per-epoch seconds, total, and the test figures;
2. the real page in headless chromium (skipped without /usr/bin/chromium): click Train ->
   the first epoch's metrics drawn (the page polls once a second), and -> "Finished".
An epoch of NeuMF's pre-training (GMF, then MLP) counts as the first epoch: the page draws it.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import CHROMIUM_ARGS, table

from recsys_core.jobs.manager import JobManager
from recsys_core.jobs.work import submit_training
from recsys_core.runs.store import Store
from recsys_core.training.devices import describe_device

ROOT = Path(__file__).resolve().parent.parent


def manager_timing(src: str, model: str) -> dict:
    store = Store(tempfile.mkdtemp(prefix="bench-train-"))
    jobs = JobManager(store)
    t = time.perf_counter()
    job = submit_training(jobs, store, src, model)
    first_batch = first_epoch = None
    while job.active:
        p = job.progress
        if first_batch is None and p.get("batch"):
            first_batch = time.perf_counter() - t
        if first_epoch is None and (p.get("history") or p.get("pretrain")):
            first_epoch = time.perf_counter() - t
        time.sleep(0.005)
    total = time.perf_counter() - t
    hist = job.progress["history"]
    run = store.run(job.run_id)
    m = run.metrics.get("loo-uniform", {})
    return {
        "path": "job manager",
        "submit -> first batch s": f"{first_batch:.2f}",
        "-> first epoch s": f"{first_epoch:.2f}",
        "s / epoch": f"{sum(r['seconds'] for r in hist) / len(hist):.2f}",
        "epochs": len(hist),
        "-> finished s": f"{total:.1f}",
        "HR@10 / NDCG@10": f"{m.get('HR@10', float('nan')):.3f} / {m.get('NDCG@10', float('nan')):.3f}",
    }


def browser_timing(src: str, model: str) -> dict | None:
    if not os.path.exists("/usr/bin/chromium"):
        print("(no /usr/bin/chromium: browser timing skipped)")
        return None
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    arts = tempfile.mkdtemp(prefix="bench-train-ui-")
    env = dict(os.environ, RECSYS_ARTIFACTS=arts, RECSYS_AUTO_BUILD="0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/train")
            page.wait_for_selector("text=This run will use", timeout=120_000)
            page.get_by_role("radio", name=model, exact=True).click()
            page.wait_for_timeout(1500)
            t = time.perf_counter()
            page.get_by_role("button", name="Train", exact=True).click()
            page.wait_for_selector("text=Seconds / epoch", timeout=120_000)
            first = time.perf_counter() - t
            page.wait_for_selector("text=Finished in", timeout=600_000)
            total = time.perf_counter() - t
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    store = Store(arts)
    run = store.runs()[-1]  # what the job itself recorded: its epochs' seconds, and its whole run
    hist = store.epochs(run.id)
    m = run.metrics.get("loo-uniform", {})
    return {
        "path": f"Train page in chromium (the run itself: {run.seconds:.1f} s)",
        "submit -> first batch s": "",
        "-> first epoch s": f"{first:.2f}",
        "s / epoch": f"{sum(r['seconds'] for r in hist) / max(len(hist), 1):.2f}",
        "epochs": len(hist),
        "-> finished s": f"{total:.1f}",
        "HR@10 / NDCG@10": f"{m.get('HR@10', float('nan')):.3f} / {m.get('NDCG@10', float('nan')):.3f}",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--model", default="ncf")
    ap.add_argument("--no-browser", action="store_true")
    a = ap.parse_args()
    rows = [manager_timing(a.dataset, a.model)]
    if not a.no_browser:
        row = browser_timing(a.dataset, a.model)
        if row:
            rows.append(row)
    print(f"{a.model} with its shipped defaults on {a.dataset}, loo-uniform; device: {describe_device()}")
    print(table(rows))


if __name__ == "__main__":
    main()

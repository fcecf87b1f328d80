"""Many viewers at once: N browser sessions (headless chromium, one context each) walk Home,
Compare users, the Embedding map and Sweeps while one training runs in the app, for N = 1, 4
and 8. Prints, per N, each page's time to content (from navigation to the page's content
drawn and the script run ended: median and worst over the sessions), the exception boxes
seen (must be 0) and the server's peak resident memory (its training children apart).

Needs a built store for the dataset (`python -m recsys_core build`): the pages read it.

    python benchmarks/bench_viewers.py [--sessions 1,4,8] [--dataset ml-100k]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import threading
import time

import psutil
from _common import CHROMIUM_ARGS, start_app, table, wait_healthy

PAGES = {  # path -> what shows the page has its content
    "": '[data-testid="stDataFrame"]',
    "users": '[data-testid="stDataFrame"]',
    "embeddings": ".js-plotly-plot",
    "sweeps": '[data-testid="stSelectbox"]',  # its picker: the sweep's curves come once it has run
}


def walk(port: int, n: int, times: dict, errors: list) -> None:
    """N sessions at once (asyncio: one browser, one context each), each walking every page."""
    import asyncio

    from playwright.async_api import async_playwright, expect

    async def one(browser):
        page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
        for path, content in PAGES.items():
            t = time.perf_counter()
            await page.goto(f"http://127.0.0.1:{port}/{path}")
            await expect(page.locator(f"{content} >> visible=true").first).to_be_visible(timeout=180_000)
            await expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=180_000)
            times.setdefault(path or "home", []).append(time.perf_counter() - t)
            errors.append(await page.locator('[data-testid="stException"]').count())

    async def run():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            await asyncio.gather(*(one(browser) for _ in range(n)))
            await browser.close()

    asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", default="1,4,8")
    ap.add_argument("--dataset", default="ml-100k")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RECSYS_AUTO_BUILD": "0", "RECSYS_DATASETS": ""}
    proc = start_app(port, env)
    rows = []
    try:
        assert wait_healthy(port, 60), "the app did not start"
        server = psutil.Process(proc.pid)
        peak = [0]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], server.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.2)

        threading.Thread(target=watch, daemon=True).start()
        for n in (int(x) for x in args.sessions.split(",")):
            trainer = _start_training(port)
            times: dict = {}
            errors: list = []
            peak[0] = 0
            walk(port, n, times, errors)
            trainer.join()
            for page, ts in times.items():
                rows.append(
                    {
                        "sessions": n,
                        "page": page,
                        "median s": f"{statistics.median(ts):.2f}",
                        "worst s": f"{max(ts):.2f}",
                        "exception boxes": sum(errors),
                        "server peak MiB": f"{peak[0] / 2**20:,.0f}",
                    }
                )
            print(rows[-1], flush=True)
        stop.set()
    finally:
        proc.terminate()
        proc.wait(20)
    print(f"{args.dataset}; one NeuMF training running in the app during each walk; 2-core CPU")
    print(table(rows))


def _start_training(port: int) -> threading.Thread:
    """Press Train on the Train page (the app's own training, in its child process)."""

    def press():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/train")
            page.get_by_role("button", name="Train").first.click()
            page.get_by_text("Queued", exact=False).or_(page.get_by_text("Epoch", exact=False)).first.wait_for(
                timeout=120_000
            )
            browser.close()

    t = threading.Thread(target=press)
    t.start()
    return t


if __name__ == "__main__":
    main()

"""The app as a server for the browser tests (and the benchmarks that drive a browser):
Debian's chromium flags, `streamlit run app.py` on a port, and a wait on its health check."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Debian's chromium, headless, with nothing reaching out to the network
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def start_app(port: int, env: dict, log=None) -> subprocess.Popen:
    """`streamlit run app.py`, headless on `port`, from the checkout; its output to `log`
    (an open file), or discarded."""
    out = log if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
    )


def wait_healthy(port: int, seconds: float) -> bool:
    """Whether the server on `port` answers its health check within `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            return True
        except OSError:
            time.sleep(0.25)
    return False

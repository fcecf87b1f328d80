"""Helpers shared by the benchmark scripts: timing and table printing."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Debian's chromium, headless, with nothing reaching out to the network
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def best_of(fn, repeat: int = 3) -> float:
    """Best wall time of `repeat` calls, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def table(rows: list[dict]) -> str:
    """A GitHub-markdown table, so the output pastes into the README as is."""
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    out += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(out)


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


def built_models(artifacts: Path) -> dict[str, tuple[float, float]]:
    """model -> (started, finished) of the finished runs in a run store (none yet: {})."""
    import sqlite3

    try:
        with sqlite3.connect(artifacts / "runs.sqlite") as db:
            rows = db.execute("SELECT model, started, finished FROM runs WHERE status = 'done'").fetchall()
    except sqlite3.Error:
        return {}
    return {m: (a, b) for m, a, b in rows}

"""Helpers shared by the benchmark scripts: timing and table printing; the app server and the
browser flags come from the browser tests' own helper (tests/app_server.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app_server import CHROMIUM_ARGS, start_app, wait_healthy  # noqa: E402 - the checkout on sys.path first

__all__ = ["CHROMIUM_ARGS", "ROOT", "best_of", "built_models", "start_app", "table", "wait_healthy"]


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


def built_models(artifacts: Path) -> dict[str, tuple[float, float]]:
    """model -> (started, finished) of the finished runs in a run store (none yet: {})."""
    import sqlite3

    try:
        with sqlite3.connect(artifacts / "runs.sqlite") as db:
            rows = db.execute("SELECT model, started, finished FROM runs WHERE status = 'done'").fetchall()
    except sqlite3.Error:
        return {}
    return {m: (a, b) for m, a, b in rows}

"""Page timings on ml-100k with the built store, driven by Streamlit's AppTest.

    python benchmarks/bench_pages.py [--dataset ml-100k] [--repeat 5]

Times the script runs the server does for: a warm page switch (the page's script with its
caches filled, through app.py's navigation and sidebar) and a selection on a page (another
user, another movie, another model). AppTest runs the script in-process without a browser,
so these are the server-side times; the browser adds its drawing on top. Targets (issue 6):
warm switch < 1 s, selection < 0.3 s. Needs `make build` (the store) first.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import table

from recsys_core.data import load_dataset
from recsys_core.runs.catalog import shipped_runs
from recsys_core.runs.store import Store

PAGES = ["home", "similar", "users", "embeddings", "sweeps", "train"]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    from streamlit.testing.v1 import AppTest

    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    if len(shipped_runs(Store(), ds)) < 8:
        raise SystemExit(f"the store has not every shipped model for {a.dataset}: run `make build` first")

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.session_state["dataset"] = a.dataset
    rows = []
    cold = {}
    for page in PAGES:  # first visit of each page fills its caches
        cold[page] = timed(lambda page=page: at.switch_page(f"app_pages/{page}.py").run())
        assert not at.exception, (page, [e.value for e in at.exception])
    for page in PAGES:
        warm = [timed(lambda page=page: at.switch_page(f"app_pages/{page}.py").run()) for _ in range(a.repeat)]
        rows.append(
            {
                "action": f"switch to {page}",
                "first visit s": f"{cold[page]:.2f}",
                "warm median s": f"{statistics.median(warm):.3f}",
                "warm max s": f"{max(warm):.3f}",
            }
        )

    def select(page: str, key: str, values: list, kind: str = "selectbox") -> dict:
        at.switch_page(f"app_pages/{page}.py").run()
        times = []
        for v in values:
            widget = getattr(at, kind)(key=key)
            times.append(timed(lambda widget=widget, v=v: widget.set_value(v).run()))
            assert not at.exception, (page, key, v, [e.value for e in at.exception])
        return {
            "action": f"{page}: pick another {key.replace('_', ' ')}",
            "first visit s": "",
            "warm median s": f"{statistics.median(times):.3f}",
            "warm max s": f"{max(times):.3f}",
        }

    busiest = ds.user_activity.argsort()[::-1]
    popular = ds.item_popularity.argsort()[::-1]
    rows.append(select("users", "user", [int(u) for u in busiest[1 : a.repeat + 1]]))
    rows.append(select("similar", "movie", [int(i) for i in popular[1 : a.repeat + 1]]))
    rows.append(select("embeddings", "map_model", ["ncf", "mf", "cdae", "embnet", "ncf"][: a.repeat]))
    print(f"Page timings, {a.dataset}, AppTest (server-side script runs), {a.repeat} repeats")
    print(table(rows))


if __name__ == "__main__":
    main()

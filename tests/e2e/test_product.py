"""Issue 5 in a real browser: the demo database, viewers and an analyst.

A viewer sees every page with no write button; an analyst signs in from the sidebar,
retrains on Monitoring and fits on Model fitting, both as background jobs the pages poll.
Its screenshots of every page are the README's (`make screenshots` writes them to
docs/screenshots/; a test run writes them to build/screenshots/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.auth import hash_password
from tests.e2e.conftest import (
    SCREENSHOTS,
    Server,
    assert_no_exception,
    prepare_demo_database,
    screenshot,
    start_server,
    stop_server,
    wait_idle,
)

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-analyst-password"
LONG = 240_000  # ms: the machine is shared and slow; a retrain job takes a while
PAGES = {  # url path -> the page title
    "": "Overview",
    "explorer?symbol=MSFT": "Data explorer · MSFT",
    "fitting?symbol=MSFT": "Model fitting · MSFT",
    "forecast?symbol=MSFT": "Forecast · MSFT",
    "monitoring?symbol=MSFT": "Monitoring · MSFT",
}
WRITE_BUTTONS = ("Load demo", "Fetch latest", "Import CSV", "Fit and backtest",
                 "Save as challenger", "Promote", "Roll back", "Retrain", "Cancel")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`streamlit run` on a demo database (MSFT, a champion, 40 replayed days), with an
    analyst password so that anyone not signed in is a viewer."""
    workdir = tmp_path_factory.mktemp("product")
    prepare_demo_database(workdir, extra=[["demo", "--days", "40"]])
    srv = start_server(workdir, {"ANALYST_PASSWORD_HASH": hash_password(PASSWORD)})
    yield srv
    stop_server(srv)


@pytest.fixture
def page(browser, server: Server) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(60_000)
    pg = context.new_page()
    yield pg
    context.close()


def _open(page, server: Server, path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/{path}")
    wait_idle(page, timeout_ms=LONG)
    assert_no_exception(page)


def _go(page, title: str) -> None:  # type: ignore[no-untyped-def]
    """Navigate in the same session (a new URL would be a new session, signed out)."""
    page.locator("[data-testid='stSidebarNavLink']").filter(has_text=title).first.click()
    wait_idle(page, timeout_ms=LONG)
    assert_no_exception(page)


def _main(page):  # type: ignore[no-untyped-def]
    return page.locator("[data-testid='stMain']")


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, SCREENSHOTS / f"{name}.png")


def _assert_read_only(page) -> None:  # type: ignore[no-untyped-def]
    for name in WRITE_BUTTONS:
        # include_hidden: a button in a collapsed expander counts too
        buttons = page.get_by_role("button", name=re.compile(re.escape(name)),
                                   include_hidden=True)
        assert buttons.count() == 0, f"a viewer sees the {name!r} button"


def test_viewer_sees_every_page_read_only(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _open(page, server, "")
    main = _main(page)
    main.get_by_text("Overview").first.wait_for()
    main.get_by_text(re.compile("Next forecast")).first.wait_for()
    main.get_by_text("30-day MAE ratio to naive").first.wait_for()
    page.get_by_text("Viewer mode (read-only)").first.wait_for()
    _assert_read_only(page)

    _open(page, server, "explorer?symbol=MSFT")
    main.get_by_text(PAGES["explorer?symbol=MSFT"]).first.wait_for()
    main.locator("[data-testid='stPlotlyChart']").first.wait_for()
    main.get_by_text("Import data").first.click()  # the expander with Fetch and Import
    main.get_by_text("Importing data needs an analyst sign-in").first.wait_for()
    _assert_read_only(page)

    _open(page, server, "fitting?symbol=MSFT")
    main.get_by_text(PAGES["fitting?symbol=MSFT"]).first.wait_for()
    main.get_by_text("Saved models").first.wait_for()
    main.get_by_text(re.compile("needs an analyst sign-in")).first.wait_for()
    _assert_read_only(page)

    _open(page, server, "forecast?symbol=MSFT")
    main.get_by_text(PAGES["forecast?symbol=MSFT"]).first.wait_for()
    main.locator("[data-testid='stPlotlyChart']").first.wait_for()
    main.get_by_text("95% range").first.wait_for()
    _assert_read_only(page)

    _open(page, server, "monitoring?symbol=MSFT")
    main.get_by_text(PAGES["monitoring?symbol=MSFT"]).first.wait_for()
    main.get_by_text("Scored forecasts").first.wait_for()
    main.get_by_text("Retraining needs an analyst sign-in").first.wait_for()
    _assert_read_only(page)


def test_analyst_signs_in_retrains_and_fits(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _open(page, server, "monitoring?symbol=MSFT")
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_label("Analyst password").fill(PASSWORD)
    sidebar.get_by_role("button", name="Sign in as analyst").click()
    sidebar.get_by_text("Signed in as").first.wait_for()
    wait_idle(page, timeout_ms=LONG)
    assert_no_exception(page)

    # Retrain runs as a job; the page polls it and refreshes once it is done.
    main = _main(page)
    main.get_by_role("button", name="Retrain").click()
    main.get_by_text(re.compile(r"Retrain job #\d+ · succeeded")).first.wait_for(timeout=LONG)
    main.get_by_text(re.compile(r"challenger #\d+ .* saved")).first.wait_for()
    wait_idle(page, timeout_ms=LONG)
    assert_no_exception(page)
    challenger = re.search(r"challenger #(\d+)", main.inner_text()).group(1)  # type: ignore[union-attr]
    main.get_by_role("button", name=f"Promote challenger #{challenger}").wait_for()
    _shot(page, "monitoring")

    # The new challenger is listed on Model fitting, ready to promote.
    _go(page, "Model fitting")
    main.get_by_text(PAGES["fitting?symbol=MSFT"]).first.wait_for()
    main.get_by_text("Promote a challenger").first.wait_for()
    main.get_by_role("button", name="Promote").first.wait_for()

    # A fit is a background job too: progress, then the results and the draft to save.
    main.get_by_role("button", name="Fit and backtest").click()
    main.get_by_text(re.compile(r"Beats naive")).first.wait_for(timeout=LONG)
    wait_idle(page, timeout_ms=LONG)
    assert_no_exception(page)
    main.get_by_text(re.compile(r"Fit job #\d+ .* not saved yet")).first.wait_for()
    main.get_by_role("button", name="Save as challenger").wait_for()
    _shot(page, "fitting")

    for title, shot in (("Overview", "overview"), ("Data explorer", "explorer"),
                        ("Forecast", "forecast")):
        _go(page, title)
        if shot == "explorer":
            main.locator(".js-plotly-plot .candlestick, .js-plotly-plot g.trace.boxes").first \
                .wait_for(state="attached", timeout=LONG)
        elif shot == "forecast":
            main.get_by_text("95% range").first.wait_for()
        else:
            main.get_by_text(re.compile("Next forecast")).first.wait_for()
        sidebar.get_by_text("Signed in as").first.wait_for()  # still the same signed-in session
        _shot(page, shot)

"""The product in a real browser: explorer, fit, forecast and retrain on the sample data."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("e2e")
    prepare_demo_database(workdir)
    srv = start_server(workdir)
    yield srv
    stop_server(srv)


@pytest.fixture
def page(browser, server: Server) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def _open(page, server: Server, path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/{path}")
    wait_idle(page)
    assert_no_exception(page)


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """This suite's pictures go to a folder of their own (the product suite's are the
    README's), so the two suites never write the same files."""
    screenshot(page, SCREENSHOTS / "browser" / f"{name}.png")


def test_explorer_shows_the_candlestick(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _open(page, server, "explorer?symbol=MSFT")
    page.get_by_text("Data explorer · MSFT").first.wait_for()
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.wait_for()
    page.locator(".js-plotly-plot .candlestick, .js-plotly-plot g.trace.boxes").first.wait_for(
        state="attached", timeout=60_000)
    _shot(page, "explorer")


def test_fit_save_then_forecast(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _open(page, server, "fitting?symbol=MSFT")
    page.get_by_role("button", name="Fit and backtest").click()
    page.get_by_text(re.compile(r"Beats naive")).first.wait_for(timeout=180_000)
    wait_idle(page)
    assert_no_exception(page)
    page.get_by_role("button", name="Save as challenger").click()
    page.get_by_text(re.compile(r"Saved model \d+ as champion")).wait_for(timeout=60_000)
    _shot(page, "fitting")

    _open(page, server, "forecast?symbol=MSFT")
    page.get_by_text("Forecast · MSFT").first.wait_for()
    page.locator("[data-testid='stPlotlyChart']").first.wait_for()
    page.get_by_text("95% range").wait_for()
    _shot(page, "forecast")


def test_overview_card_links_to_the_symbol(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _open(page, server, "")
    page.get_by_text(re.compile("Next forecast")).first.wait_for()
    _shot(page, "overview")
    # One card per bundled symbol: follow MSFT's own Forecast link.
    page.locator("a[href*='forecast'][href*='symbol=MSFT']").first.click()
    wait_idle(page)
    page.get_by_text("Forecast · MSFT").first.wait_for()
    assert_no_exception(page)


def test_retrain_runs_in_the_background(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _open(page, server, "monitoring?symbol=MSFT")
    page.get_by_role("button", name="Retrain").click()
    page.get_by_text(re.compile(r"Retrain job #\d+ · succeeded")).wait_for(timeout=240_000)
    # The champion saved above was fitted on every stored day: a retrain says so and saves
    # nothing (no new data since its training end).
    page.get_by_text("no new data since the champion's training end").wait_for()
    wait_idle(page)
    assert_no_exception(page)
    _shot(page, "monitoring")


def test_unknown_symbol_in_the_link_is_explained(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _open(page, server, "explorer?symbol=NOPE")
    page.get_by_text("is not a stored symbol").wait_for()
    # A fresh session falls back to the first stored symbol (the bundle: AAPL, GOOG, IBM, MSFT).
    page.get_by_text("Data explorer · AAPL").first.wait_for()


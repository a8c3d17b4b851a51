"""`make run`'s data step in a real browser: every bundled symbol on the Overview with a
champion, a next forecast and a plain "bundled sample" label (no red age)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.market.sample import SAMPLE_SYMBOLS
from tests.e2e.conftest import (
    Server,
    assert_no_exception,
    prepare_demo_database,
    start_server,
    stop_server,
    wait_idle,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("bundled")
    # The Makefile's run target, with a shorter replay: --if-empty, then the demo.
    prepare_demo_database(workdir, extra=[["ingest", "--source", "sample", "--if-empty"],
                                          ["demo", "--days", "5"]])
    srv = start_server(workdir)
    yield srv
    stop_server(srv)


def test_overview_shows_every_bundled_symbol(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 1400})
    page = context.new_page()
    try:
        page.goto(server.url)
        wait_idle(page)
        assert_no_exception(page)
        text = page.locator("[data-testid='stMain']").inner_text()
        for symbol in SAMPLE_SYMBOLS:
            assert symbol in text
        assert text.count("Next forecast") == len(SAMPLE_SYMBOLS)
        assert text.count("Bundled sample data") == len(SAMPLE_SYMBOLS)
        assert "trading days old" not in text and "No champion model yet" not in text
        assert "Load demo" not in text
    finally:
        context.close()

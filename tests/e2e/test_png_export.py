"""Each page's chart in a real browser and as the PNG it exports: labels inside the image,
axis titles clear of the tick labels, legends and view buttons clear of the title.

Three looks at every chart: as the page draws it (what the modebar's camera saves), drawn
again by plotly.js at the export size (1400 x 720), and the PNG the page's "Render chart
as PNG" button makes with kaleido, whose outer ring of pixels must be blank: a label cut
by the image's edge leaves ink there.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    SCREENSHOTS,
    Server,
    assert_no_exception,
    prepare_demo_database,
    start_server,
    stop_server,
    wait_idle,
)
from tests.e2e.plotly_layout import layout_problems, measure_on_page, measure_page_chart_at

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 1400, 720  # widgets.png_export's size
LONG = 180_000  # ms: kaleido starts a Chromium of its own on a shared, busy machine
# page -> (url path, what to open before the PNG button shows)
PAGES = {
    "explorer": ("explorer?symbol=MSFT", ("expander", "Data table")),
    "forecast": ("forecast?symbol=MSFT", None),
    "monitoring": ("monitoring?symbol=MSFT", ("tab", "Ledger")),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo database: bundled histories, a champion each, replayed monitoring days."""
    workdir = tmp_path_factory.mktemp("png")
    prepare_demo_database(workdir, extra=[["demo", "--days", "20"]])
    srv = start_server(workdir)
    yield srv
    stop_server(srv)


@pytest.fixture
def page(browser, server: Server) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(60_000)
    pg = context.new_page()
    yield pg
    context.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return int(width), int(height)


def inked_edges(data: bytes, ring: int = 3, threshold: int = 235) -> list[str]:
    """Which edges of the image carry non-background pixels within ``ring`` pixels."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("L")
    w, h = image.size
    edges = {"left": (0, 0, ring, h), "right": (w - ring, 0, w, h),
             "top": (0, 0, w, ring), "bottom": (0, h - ring, w, h)}
    return [name for name, box in edges.items()
            if min(image.crop(box).get_flattened_data()) < threshold]


def _open(page, server: Server, path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/{path}")
    wait_idle(page)
    assert_no_exception(page)
    page.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=LONG)
    page.wait_for_timeout(800)  # plotly draws after the script run has finished


@pytest.mark.parametrize("name", list(PAGES))
def test_each_pages_chart_exports_a_clean_png(page, server: Server, name: str) -> None:  # type: ignore[no-untyped-def]
    path, reveal = PAGES[name]
    _open(page, server, path)
    charts = page.locator(".js-plotly-plot")
    problems: list[str] = []
    for i in range(charts.count()):
        boxes, width, height = measure_on_page(page, i)
        if width and height:  # charts in closed tabs or expanders are not drawn
            problems += [f"chart {i} on the page: {p}"
                         for p in layout_problems(boxes, width, height)]
        at_export = measure_page_chart_at(page, i, WIDTH, HEIGHT)
        assert at_export, f"chart {i} drew no text at {WIDTH}x{HEIGHT}"
        problems += [f"chart {i} at {WIDTH}x{HEIGHT}: {p}"
                     for p in layout_problems(at_export, WIDTH, HEIGHT)]
    assert not problems, problems

    if reveal is not None:
        kind, label = reveal
        if kind == "tab":
            page.get_by_role("tab", name=label).click()
        else:
            page.get_by_text(label, exact=True).first.click()
    page.get_by_role("button", name="Render chart as PNG").click()
    download = page.get_by_role("button", name="Download PNG")
    download.wait_for(timeout=LONG)
    assert_no_exception(page)
    with page.expect_download() as info:
        download.click()
    data = Path(info.value.path()).read_bytes()
    (SCREENSHOTS / "png").mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "png" / f"{name}.png").write_bytes(data)  # for a look, never tracked
    assert png_size(data) == (WIDTH, HEIGHT)
    assert not inked_edges(data), f"{name}'s PNG has ink on its edge: a label is cut"


def _fan_with_overlays(n: int):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    from dashboard import charts

    days = pd.bdate_range("2016-01-01", periods=300)
    close = 80 + np.cumsum(np.random.default_rng(0).standard_normal(300)) * 0.5
    dates = pd.bdate_range(days[-1] + pd.Timedelta(days=1), periods=20)
    mean, s = np.full(20, close[-1]), np.sqrt(np.arange(1, 21))
    fc = pd.DataFrame({"date": dates, "mean": mean, "lo80": mean - s, "hi80": mean + s,
                       "lo95": mean - 2 * s, "hi95": mean + 2 * s})
    overlays = {f"model {i} · auto_arima (1,1,{i}) log": fc.assign(mean=fc["mean"] + i)
                for i in range(n)}
    return charts.forecast_fan(pd.Series(close, index=days), fc, overlays=overlays,
                               title="MSFT · auto_arima · 20 days forecast")


@pytest.mark.parametrize(("what", "width", "height"), [
    ("fan", 700, 480), ("fan", 1400, 720), ("gauge", 300, 240), ("gauge", 1400, 720),
])
def test_layouts_hold_in_narrow_columns_and_at_export_size(  # type: ignore[no-untyped-def]
    browser, what: str, width: int, height: int
) -> None:
    """The cases a user hit: eight overlays' legend against the title, a gauge in a narrow
    column against its "100" label (the previous layouts failed both)."""
    from dashboard import charts
    from tests.e2e.plotly_layout import measure, open_probe

    fig = (_fan_with_overlays(8) if what == "fan"
           else charts.coverage_gauge(1.0, 0.95, 0.90, 0.98, label="95% interval coverage"))
    page = browser.new_page()
    try:
        open_probe(page)
        boxes = measure(page, fig.to_json(), width, height)
    finally:
        page.close()
    assert boxes
    assert not layout_problems(boxes, width, height)

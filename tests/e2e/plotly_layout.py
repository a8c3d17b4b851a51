"""Where plotly.js puts a figure's text at export size, measured in a real Chromium.

kaleido renders a PNG by running plotly.js in a headless Chromium at the export size; doing
the same in a Playwright page gives every label's bounding box, so a test can assert that
tick labels, axis titles, the title and the legend lie inside the image and do not overlap.
Shared by the real-browser tests (a module of its own, not conftest.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import plotly

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

# Text boxes of a drawn figure (a plotly graph div), by the class names plotly.js gives them,
# relative to the div's top-left corner.
_BOXES = """
(div) => {
  const base = div.getBoundingClientRect();
  const boxes = [];
  const add = (kind, el) => {
    const r = el.getBoundingClientRect();
    const text = (el.textContent || '').trim();
    if (!text || r.width === 0 || r.height === 0) return;
    boxes.push({kind, text, x0: r.left - base.left, y0: r.top - base.top,
                x1: r.right - base.left, y1: r.bottom - base.top});
  };
  div.querySelectorAll('.xtick text').forEach(el => add('xtick', el));
  div.querySelectorAll('.ytick text').forEach(el => add('ytick', el));
  div.querySelectorAll('[class^="g-x"][class$="title"] text').forEach(el => add('xtitle', el));
  div.querySelectorAll('[class^="g-y"][class$="title"] text').forEach(el => add('ytitle', el));
  div.querySelectorAll('.gtitle').forEach(el => add('title', el));
  div.querySelectorAll('.legend .legendtext').forEach(el => add('legend', el));
  div.querySelectorAll('.angular .tick text, .angularaxis text, .indicatorlayer .tick text')
    .forEach(el => add('gauge_tick', el));
  div.querySelectorAll('.rangeselector .selector-text, .updatemenu-button text')
    .forEach(el => add('button', el));
  div.querySelectorAll('.indicatorlayer .title, .indicatorlayer .number')
    .forEach(el => add('gauge_text', el));
  return {width: base.width, height: base.height, boxes};
}
"""

# Draw a figure into a fresh div at the given size and measure it. ``source`` is either a
# figure ({data, layout}) or the index of a chart already on the page to copy.
_PROBE = """
([source, width, height, boxesFn]) => {
  let fig = source;
  if (typeof source === 'number') {
    const gd = document.querySelectorAll('.js-plotly-plot')[source];
    fig = {data: gd.data, layout: gd.layout};
  }
  const div = document.createElement('div');
  div.style.cssText = 'position:fixed;left:0;top:0;z-index:99999;background:white';
  document.body.appendChild(div);
  const layout = Object.assign({}, fig.layout, {width, height, autosize: false});
  return Plotly.newPlot(div, fig.data, layout, {staticPlot: true}).then(() => {
    const out = eval(boxesFn)(div);
    Plotly.purge(div);
    div.remove();
    return out;
  });
}
"""


@dataclass(frozen=True)
class Box:
    kind: str
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    def inside(self, width: float, height: float, slack: float = 0.5) -> bool:
        return (self.x0 >= -slack and self.y0 >= -slack and self.x1 <= width + slack
                and self.y1 <= height + slack)

    def overlaps(self, other: Box, slack: float = 1.0) -> bool:
        return not (self.x1 - slack <= other.x0 or other.x1 - slack <= self.x0
                    or self.y1 - slack <= other.y0 or other.y1 - slack <= self.y0)


def open_probe(page: object) -> None:
    """Load plotly.js (the copy plotly.py ships, the one kaleido uses) into a blank page."""
    page.set_content("<html><body style='margin:0'></body></html>")  # type: ignore[attr-defined]
    add_plotly(page)


def add_plotly(page: object) -> None:
    """Make ``window.Plotly`` available (Streamlit bundles plotly.js without exposing it)."""
    if not page.evaluate("() => typeof window.Plotly !== 'undefined'"):  # type: ignore[attr-defined]
        page.add_script_tag(path=str(PLOTLY_JS))  # type: ignore[attr-defined]


def _boxes(raw: dict[str, object]) -> list[Box]:
    return [Box(**b) for b in raw["boxes"]]  # type: ignore[attr-defined, arg-type]


def measure(page: object, fig_json: str, width: int = 1400, height: int = 720) -> list[Box]:
    """Bounding boxes of the text of a figure (``fig.to_json()``) drawn at ``width`` x
    ``height``, the PNG export size."""
    fig = json.loads(fig_json)
    raw = page.evaluate(_PROBE, [fig, width, height, _BOXES])  # type: ignore[attr-defined]
    return _boxes(raw)


def measure_on_page(page: object, index: int) -> tuple[list[Box], float, float]:
    """The text boxes of the ``index``-th plotly chart as the page shows it, and its size."""
    chart = page.locator(".js-plotly-plot").nth(index)  # type: ignore[attr-defined]
    raw = chart.evaluate(_BOXES)
    return _boxes(raw), float(raw["width"]), float(raw["height"])


def measure_page_chart_at(page: object, index: int, width: int = 1400,
                          height: int = 720) -> list[Box]:
    """The ``index``-th chart of the page (its data and layout as plotly holds them) drawn
    again at ``width`` x ``height``: what an export at that size shows."""
    add_plotly(page)
    raw = page.evaluate(_PROBE, [index, width, height, _BOXES])  # type: ignore[attr-defined]
    return _boxes(raw)


def layout_problems(boxes: list[Box], width: int, height: int) -> list[str]:
    """What a reader would see as broken: text cut by the image's edge, an axis title on
    its tick labels, the legend or the range buttons on the title."""
    problems = [f"{b.kind} {b.text!r} leaves the {width}x{height} image: "
                f"({b.x0:.0f},{b.y0:.0f})-({b.x1:.0f},{b.y1:.0f})"
                for b in boxes if not b.inside(width, height)]
    ticks = [b for b in boxes if b.kind in ("xtick", "ytick")]
    for title in (b for b in boxes if b.kind in ("xtitle", "ytitle")):
        problems += [f"axis title {title.text!r} overlaps tick label {t.text!r}"
                     for t in ticks if title.overlaps(t)]
    for title in (b for b in boxes if b.kind == "title"):
        problems += [f"{b.kind} {b.text!r} covers the title {title.text!r}"
                     for b in boxes if b.kind in ("legend", "button", "ytick", "ytitle")
                     and title.overlaps(b)]
    legends = [b for b in boxes if b.kind == "legend"]
    for button in (b for b in boxes if b.kind == "button"):
        problems += [f"range button {button.text!r} overlaps legend {lg.text!r}"
                     for lg in legends if button.overlaps(lg)]
    return problems

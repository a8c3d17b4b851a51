"""The model lifecycle in a real browser: promote, override, roll back two steps, and an
ARIMAX champion's Forecast page, with the state on screen checked after every click.

The database is prepared before the server starts: the bundled sample data, on MSFT a
champion (a poor MA(1) on prices) and two challengers, drift (passes the gate) and a
constant mean (fails it), and on AAPL an ARIMAX champion fitted with volume at horizon 5.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dashboard import keys
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
CLICK_TIMEOUT = 120_000  # a gate verdict backtests both models on 2 folds; 2 busy cores


@dataclass(frozen=True)
class Prepared:
    server: Server
    url: str  # DATABASE_URL, to read the audit trail
    poor: int  # MSFT's champion at the start
    drift: int  # a challenger that passes the gate
    mean: int  # a challenger that fails it
    arimax: int  # AAPL's champion


def _prepare(workdir: Path) -> tuple[str, int, int, int, int]:
    from core.auth import SYSTEM
    from core.db.engine import Database
    from core.forecast.service import FitRequest, fit_model, save_model
    from core.settings import Settings

    env = prepare_demo_database(workdir)
    settings = Settings.from_env(env)
    db = Database.connect(env["DATABASE_URL"])

    def save(symbol: str, kind: str, start: dt.date, folds: int, **options: Any) -> int:
        request = FitRequest(symbol=symbol, kind=kind, options=options, start=start,
                             folds=folds, horizon=5)
        return save_model(db, settings, fit_model(db, settings, request), SYSTEM).id

    msft = dt.date(2015, 1, 1)
    try:
        poor = save("MSFT", "arima", msft, 2, order=[0, 0, 1], log=False, with_constant=True)
        drift = save("MSFT", "drift", msft, 2)
        mean = save("MSFT", "arima", msft, 2, order=[0, 0, 0], log=False, with_constant=True)
        # the bundled AAPL ends in 2013
        arimax = save("AAPL", "arimax", dt.date(2009, 1, 1), 0, exog=["volume"], horizon=5)
    finally:
        db.dispose()
    return env["DATABASE_URL"], poor, drift, mean, arimax


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prepared]:
    workdir = tmp_path_factory.mktemp("e2e-lifecycle")
    url, poor, drift, mean, arimax = _prepare(workdir)
    srv = start_server(workdir)
    yield Prepared(srv, url, poor, drift, mean, arimax)
    stop_server(srv)


@pytest.fixture
def page(browser, prepared: Prepared) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def _shot(page: Any, name: str) -> None:
    screenshot(page, SCREENSHOTS / "lifecycle" / f"{name}.png")


def _settle(page: Any) -> None:
    """After a click: the rerun it starts has finished, no element is left stale (a rerun
    shows the old elements beside the new until it ends), and there is no exception."""
    page.wait_for_timeout(300)  # let the rerun start; wait_idle alone may see the old state
    wait_idle(page)
    page.wait_for_function(
        "() => document.querySelectorAll(\"[data-testid='stElementContainer']"
        "[data-stale='true']\").length === 0", timeout=CLICK_TIMEOUT)
    assert_no_exception(page)


def _roles_on_screen(page: Any) -> dict[int, str]:
    """id -> role from the saved-models table (the first dataframe; its accessible grid)."""
    table = page.locator("[data-testid='stDataFrame']").first
    table.scroll_into_view_if_needed()
    table.locator("[role='gridcell']").first.wait_for(state="attached")
    roles: dict[int, str] = {}
    for row in table.locator("[role='row']").all()[1:]:  # the first row is the header
        cells = row.locator("[role='gridcell']").all_inner_texts()
        roles[int(cells[0])] = cells[1]
    return roles


def _expect_roles(page: Any, expected: dict[int, str]) -> None:
    """The table shows ``expected`` (polled for a few seconds: the script has finished, the
    grid repaints after it; a table one write behind would never match)."""
    deadline = time.monotonic() + 10
    while (seen := _roles_on_screen(page)) != expected and time.monotonic() < deadline:
        page.wait_for_timeout(300)
    assert seen == expected


def _open_options(page: Any, key: str) -> Any:
    """Open the selectbox with widget key ``key``; returns its options. Its popover closes
    when the page scrolls or reflows under it (react-aria), as it may just after a rerun:
    scroll it into view, click, and try again if no option shows."""
    box = page.locator(f".st-key-{key}")
    options = page.locator("[role='option']")
    for _ in range(4):
        box.scroll_into_view_if_needed()
        page.wait_for_timeout(400)
        box.locator("input").click()
        try:
            options.first.wait_for(timeout=3_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            continue
        return options
    raise AssertionError(f"the selectbox {key} shows no options")


def _choose(page: Any, key: str, option: str | re.Pattern[str]) -> None:
    """Pick an option of the selectbox with widget key ``key``."""
    text = re.compile(rf"^{re.escape(option)}$") if isinstance(option, str) else option
    _open_options(page, key).filter(has_text=text).click()
    _settle(page)


def _options(page: Any, key: str) -> list[str]:
    found = _open_options(page, key).all_inner_texts()
    page.keyboard.press("Escape")
    return [o.strip() for o in found]


def _click(page: Any, key: str, label: str) -> None:
    """Press the button with widget key ``key``, once it is the only one and says ``label``
    (a button with a tooltip also has a hidden copy, used to measure it: not that one)."""
    button = page.locator(f".st-key-{key} button:visible")
    deadline = time.monotonic() + 30
    while button.count() != 1 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert button.inner_text().strip().endswith(label)  # after its icon's name
    button.click()


def _wait_text(page: Any, text: str | re.Pattern[str]) -> None:
    page.get_by_text(text).first.wait_for(timeout=CLICK_TIMEOUT)
    _settle(page)


def _audit(prepared: Prepared) -> list[tuple[str, int, int | None, bool | None, str]]:
    """The symbol's promote and rollback events: action, version, previous, gate, note."""
    from core.db.engine import Database
    from core.forecast import registry

    db = Database.connect(prepared.url)
    try:
        with db.read() as s:
            return [(e.action, e.version_id, e.previous_id, e.gate_passed, e.note or "")
                    for e in registry.events(s, "MSFT") if e.action != "create"]
    finally:
        db.dispose()


def test_promote_override_and_roll_back_two_steps(page: Any, prepared: Prepared) -> None:
    poor, drift, mean = prepared.poor, prepared.drift, prepared.mean
    page.goto(f"{prepared.server.url}/fitting?symbol=MSFT")
    page.get_by_text("Saved models").first.wait_for(timeout=CLICK_TIMEOUT)
    _settle(page)
    _expect_roles(page, {mean: "challenger", drift: "challenger", poor: "champion"})

    # Promote the passing challenger: verdict first, nothing changes until confirmed.
    # Challengers are named ("model 12 · drift"), not bare ids.
    _choose(page, keys.FIT_CHALLENGER, re.compile(rf"^model {drift} · "))
    _click(page, keys.FIT_PROMOTE, "Promote…")
    _wait_text(page, re.compile(r"Gate: challenger RMSE .* not worse than the champion"))
    assert _roles_on_screen(page)[poor] == "champion"
    _click(page, keys.FIT_PROMOTE_CONFIRM, f"Confirm promotion model {drift}")
    _wait_text(page, f"Model {drift} is now the champion.")
    _expect_roles(page, {mean: "challenger", drift: "champion", poor: "retired"})
    assert [int(o.split(" ")[1]) for o in _options(page, keys.FIT_CHALLENGER)] == [mean]

    # The failing one: the verdict says so, the override needs a reason.
    _click(page, keys.FIT_PROMOTE, "Promote…")
    _wait_text(page, re.compile(r"Gate: challenger RMSE .* worse than the champion"))
    reason = page.locator(f".st-key-{keys.FIT_OVERRIDE} input")
    assert reason.input_value() == ""
    _click(page, keys.FIT_PROMOTE_CONFIRM, f"Override the gate and promote model {mean}")
    _wait_text(page, re.compile("promotion refused"))
    assert _roles_on_screen(page)[mean] == "challenger"
    reason.fill("compare it live for a week")
    reason.press("Enter")
    _settle(page)
    _click(page, keys.FIT_PROMOTE_CONFIRM, f"Override the gate and promote model {mean}")
    _wait_text(page, f"Model {mean} is now the champion (gate overridden).")
    _expect_roles(page, {mean: "champion", drift: "retired", poor: "retired"})
    audit = _audit(prepared)
    assert [e[:4] for e in audit] == [("promote", poor, None, None),  # the first model saved
                                      ("promote", drift, poor, True),
                                      ("promote", mean, drift, False)]
    assert "compare it live for a week" in audit[-1][4]  # the reason, against this version
    _shot(page, "override")

    # Roll back one step: to drift, the champion before the override.
    options = _options(page, keys.FIT_ROLLBACK_TO)
    assert [int(o.split(" ")[1]) for o in options] == [drift, poor]
    _choose(page, keys.FIT_ROLLBACK_TO, re.compile(rf"^model {drift} "))
    _click(page, keys.FIT_ROLLBACK, "Roll back…")
    _wait_text(page, re.compile(r"Gate: challenger RMSE .* not worse than the champion"))
    assert _roles_on_screen(page)[mean] == "champion"
    _click(page, keys.FIT_ROLLBACK_CONFIRM, f"Confirm: restore model {drift} as champion")
    _wait_text(page, f"Model {drift} is the champion again.")
    _expect_roles(page, {mean: "retired", drift: "champion", poor: "retired"})
    assert page.locator(f".st-key-{keys.FIT_ROLLBACK_CONFIRM}").count() == 0  # asks again

    # And a second step: to the first champion, which the gate says is worse.
    _choose(page, keys.FIT_ROLLBACK_TO, re.compile(rf"^model {poor} "))
    _click(page, keys.FIT_ROLLBACK, "Roll back…")
    _wait_text(page, re.compile(r"Gate: challenger RMSE .* worse than the champion"))
    assert _roles_on_screen(page)[drift] == "champion"
    _click(page, keys.FIT_ROLLBACK_CONFIRM, f"Confirm: restore model {poor} as champion")
    _wait_text(page, f"Model {poor} is the champion again.")
    _expect_roles(page, {mean: "retired", drift: "retired", poor: "champion"})
    assert [e[:3] for e in _audit(prepared)][3:] == [("rollback", drift, mean),
                                                     ("rollback", poor, drift)]
    _shot(page, "rolled-back")


def test_an_arimax_champions_forecast_page_bounds_the_slider(
    page: Any, prepared: Prepared
) -> None:
    page.goto(f"{prepared.server.url}/forecast?symbol=AAPL")
    page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=CLICK_TIMEOUT)
    _settle(page)
    page.get_by_text("At most 5 trading days").first.wait_for()
    slider = page.get_by_role("slider", name="Horizon (trading days)")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("1", "5")
    assert slider.input_value() == "5"  # opens at the longest it can do, not at 20
    slider.focus()
    slider.press("End")  # as far right as the slider goes
    slider.press("ArrowRight")
    _settle(page)
    assert slider.input_value() == "5"
    page.get_by_text("Mean in 5 days").wait_for()
    slider.press("Home")
    page.get_by_text("Mean in 1 day", exact=True).wait_for(timeout=CLICK_TIMEOUT)
    _settle(page)
    assert slider.input_value() == "1"
    assert page.locator("[data-testid='stAlert']").filter(
        has_text=re.compile("at most 5 days ahead")).count() == 0
    _shot(page, "arimax-forecast")

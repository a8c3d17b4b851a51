"""Bad ticks, 100x unit errors and bad splits at ingest, on yfinance's own repair test files
(tests/data/yfinance, Apache-2.0, see its README)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.market.calendar import trading_calendar
from core.market.csv_import import read_bars_csv
from core.market.sample import load_sample_bars
from core.market.validation import validate_bars

DATA = Path(__file__).resolve().parents[1] / "data" / "yfinance"


def _warnings(name: str, exchange: str = "XLON") -> dict[str, tuple[str, ...]]:
    _, report = read_bars_csv((DATA / name).read_bytes(), "X",
                              calendar=trading_calendar(exchange))
    assert report.ok  # warnings, never a blocked write: the bars may be real
    return {i.code: i.dates for i in report.warnings}


def test_100x_unit_error_warns_on_both_boundaries() -> None:
    found = _warnings("AET-L-1d-100x-error.csv")
    assert found["unit_jump"] == ("2022-05-09", "2022-05-20")
    assert "bad_tick" not in found


def test_split_applied_a_day_early_and_a_wrong_ratio() -> None:
    found = _warnings("CNE-L-1d-bad-stock-split.csv")
    assert found["bad_tick"] == ("2023-05-09",)
    assert found["split_unexplained"] == ("2023-05-16",)


def test_split_recorded_days_after_the_move() -> None:
    found = _warnings("DEX-AX-1d-bad-stock-split.csv", "XASX")
    assert found["unrecorded_split"] == ("2023-05-22",)
    assert found["split_unexplained"] == ("2023-05-30",)


@pytest.mark.parametrize(
    ("exchange", "missing"),
    [
        pytest.param("XLON", None, id="london-calendar"),
        # 2022-06-02/03 were London holidays (the Jubilee), not New York ones.
        pytest.param("XNYS", ("2022-06-02", "2022-06-03"), id="new-york-calendar"),
    ],
)
def test_a_london_file_is_checked_against_the_london_calendar(
    exchange: str, missing: tuple[str, ...] | None
) -> None:
    assert _warnings("AET-L-1d-100x-error.csv", exchange).get("missing_sessions") == missing


def test_real_history_raises_no_move_warnings() -> None:
    # 7,983 days of MSFT including the 1987 crash (-30%): no false alarms.
    report = validate_bars(load_sample_bars(), "MSFT")
    codes = {i.code for i in report.warnings}
    assert not codes & {"unit_jump", "bad_tick", "unrecorded_split", "split_unexplained"}


def test_a_reverting_spike_is_a_bad_tick() -> None:
    dates = trading_calendar().sessions("2024-01-02", "2024-03-01")
    close = [100.0 + (i % 3) * 0.5 for i in range(len(dates))]
    close[20] = 160.0
    frame = pd.DataFrame({"date": dates, "open": close, "high": close, "low": close,
                          "close": close, "volume": 1000})
    report = validate_bars(frame, "X")
    issue = next(i for i in report.warnings if i.code == "bad_tick")
    assert issue.dates == (str(dates[20].date()),)

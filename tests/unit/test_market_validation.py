"""ValidationReport and validate_bars: errors block, warnings are recorded."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from core.market.calendar import trading_calendar
from core.market.validation import ValidationReport, prepare_bars, validate_bars


def _frame(n: int = 5, start: str = "2024-03-04") -> pd.DataFrame:
    dates = trading_calendar().sessions(start, "2024-12-31")[:n]
    return pd.DataFrame(
        {
            "date": dates,
            "open": 10.0,
            "high": 11.0,
            "low": 9.0,
            "close": 10.5,
            "volume": 1000,
        }
    )


def _codes(report: ValidationReport, level: str) -> set[str]:
    return {i.code for i in report.issues if i.level == level}


def test_clean_frame_is_ok_and_json_able() -> None:
    frame, report = prepare_bars(_frame(), "MSFT", calendar=trading_calendar())
    assert report.ok and not report.issues
    assert len(frame) == 5 and frame["split_ratio"].eq(1.0).all()
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True


def _with(**changes: object) -> pd.DataFrame:
    frame = _frame()
    for key, value in changes.items():
        col, row = key.rsplit("_", 1)
        frame[col] = frame[col].astype(object)
        frame.loc[int(row), col] = value
    return frame


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param(_frame(0), "empty", id="empty"),
        pytest.param(_frame().drop(columns=["volume"]), "missing_columns", id="missing-volume"),
        pytest.param(_with(close_2="abc"), "bad_numbers", id="text-in-close"),
        pytest.param(_with(date_1="not a date"), "bad_dates", id="bad-date"),
        pytest.param(_with(low_3=0.0), "non_positive_price", id="zero-price"),
        pytest.param(_with(open_3=-1.0), "non_positive_price", id="negative-price"),
        pytest.param(_with(high_1=8.0), "high_below_low", id="high-below-low"),
        pytest.param(_with(volume_0=-5), "negative_volume", id="negative-volume"),
        # Close 10.5 vs High 10.2: 0.30 beyond, the tolerance is max(0.5% x 10.5, 0.01) = 0.0525
        pytest.param(_with(high_1=10.2), "ohlc_impossible", id="close-above-high-beyond-rounding"),
        pytest.param(_with(low_2=10.6), "ohlc_impossible", id="close-below-low-beyond-rounding"),
    ],
)
def test_blocking_errors(frame: pd.DataFrame, code: str) -> None:
    clean, report = prepare_bars(frame, "MSFT")
    assert not report.ok
    assert code in _codes(report, "error")
    assert clean.empty


def test_error_message_names_column_and_value() -> None:
    report = validate_bars(_with(close_2="abc"), "MSFT")
    assert "'close'" in report.errors[0].message and "'abc'" in report.errors[0].message


def test_conflicting_duplicates_are_an_error_identical_ones_a_warning() -> None:
    frame = _frame()
    same = pd.concat([frame, frame.iloc[[2]]])
    clean, report = prepare_bars(same, "MSFT")
    assert report.ok and "duplicate_rows" in _codes(report, "warning")
    assert len(clean) == 5
    different = frame.iloc[[2]].assign(close=10.9)
    report = validate_bars(pd.concat([frame, different]), "MSFT")
    assert "conflicting_duplicates" in _codes(report, "error")
    assert report.errors[0].dates == (str(frame["date"].iloc[2].date()),)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param(_with(close_2=None), "nan_prices", id="nan-price-row-dropped"),
        pytest.param(_with(high_1=10.45), "ohlc_inconsistent", id="close-above-high-by-rounding"),
        pytest.param(_frame().iloc[::-1], "unordered_dates", id="unordered"),
        pytest.param(_frame().drop(index=2), "missing_sessions", id="gap"),
        pytest.param(_frame().assign(volume=0), "zero_volume_run", id="zero-volume-run"),
    ],
)
def test_warnings_do_not_block(frame: pd.DataFrame, code: str) -> None:
    clean, report = prepare_bars(frame, "MSFT", calendar=trading_calendar())
    assert report.ok
    assert code in _codes(report, "warning")
    assert clean["date"].is_monotonic_increasing


def test_holidays_are_not_gaps() -> None:
    # 2024-03-29 (Good Friday) is an XNYS holiday: no warning for it.
    frame = _frame(10, start="2024-03-25")
    assert pd.Timestamp("2024-03-29") not in set(frame["date"])
    report = validate_bars(frame, "MSFT", calendar=trading_calendar())
    assert "missing_sessions" not in _codes(report, "warning")


def test_stale_last_date_warns() -> None:
    frame = _frame()
    cal = trading_calendar()
    fresh = validate_bars(frame, "MSFT", calendar=cal, today=frame["date"].iloc[-1].date())
    assert "stale" not in _codes(fresh, "warning")
    stale = validate_bars(frame, "MSFT", calendar=cal, today=dt.date(2024, 6, 3))
    assert "stale" in _codes(stale, "warning")

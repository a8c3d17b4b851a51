"""Replay helpers that need no database: the retrain schedule, split scaling, input checks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationFailed
from core.monitor.replay import _split_scale, check_replay_inputs, is_retrain_day, simulated_now

T = pd.Timestamp


@pytest.mark.parametrize(
    ("day", "previous", "weekday", "expected"),
    [
        pytest.param("2017-01-09", "2017-01-06", 0, True, id="monday"),
        pytest.param("2017-01-10", "2017-01-09", 0, False, id="tuesday"),
        pytest.param("2017-09-05", "2017-09-01", 0, True, id="labor-day-moves-to-tuesday"),
        pytest.param("2017-04-17", "2017-04-13", 4, True, id="good-friday-moves-to-monday"),
        pytest.param("2017-04-18", "2017-04-17", 4, False, id="only-once"),
        pytest.param("2017-01-13", "2017-01-12", 4, True, id="friday"),
    ],
)
def test_retrain_on_the_first_session_on_or_after_the_weekday(
    day: str, previous: str, weekday: int, expected: bool
) -> None:
    assert is_retrain_day(T(day), T(previous), weekday) is expected


def test_split_scale_puts_adjusted_prices_back_in_each_days_scale() -> None:
    # A 2:1 split on day 2: adjusted prices before it are halved, so days 0 and 1 must be
    # multiplied by 2 to be in their own (pre-split) scale; from day 2 on nothing changes.
    ratios = pd.Series([1.0, 0.0, 2.0, 1.0])  # yfinance writes 0.0 on days without a split
    np.testing.assert_array_equal(_split_scale(ratios), [2.0, 2.0, 1.0, 1.0])


def test_simulated_clock_is_the_evening_after_the_close() -> None:
    assert simulated_now(dt.date(2017, 3, 1)) == dt.datetime(2017, 3, 1, 22, tzinfo=dt.UTC)


INDEX = pd.DatetimeIndex(pd.bdate_range("2017-01-02", periods=50))


@pytest.mark.parametrize(
    ("symbol", "start", "end", "message"),
    [
        pytest.param("AAPL", "2017-02-01", "2017-02-10", "stored symbols: MSFT", id="symbol"),
        pytest.param("MSFT", "2017-02-10", "2017-02-01", "before its start", id="order"),
        pytest.param("MSFT", "2017-01-03", "2017-02-10",
                     "between 2017-01-16 and 2017-03-10", id="too-early"),
        pytest.param("MSFT", "2017-02-01", "2017-03-20", "and 2017-03-10", id="too-late"),
    ],
)  # fmt: skip
def test_replay_inputs_name_the_valid_range(
    symbol: str, start: str, end: str, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        check_replay_inputs(symbol, ["MSFT"], INDEX, dt.date.fromisoformat(start),
                            dt.date.fromisoformat(end), need=10)  # fmt: skip


def test_replay_inputs_give_the_trading_days_in_range() -> None:
    days = check_replay_inputs("MSFT", ["MSFT"], INDEX, dt.date(2017, 2, 4),
                               dt.date(2017, 2, 8), need=10)  # fmt: skip
    assert [d.date().isoformat() for d in days] == ["2017-02-06", "2017-02-07", "2017-02-08"]

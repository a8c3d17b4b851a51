"""Splits and dividends inferred from Close / Adj Close, on the bundled real AAPL and IBM."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from core.market.actions import infer_actions, split_fraction
from core.market.adjust import adjust_prices
from core.market.csv_import import read_bars_csv
from core.market.sample import bundled_csv


def test_bundled_aapl_has_its_two_splits_and_no_minus_50_percent_day() -> None:
    frame, report = read_bars_csv(bundled_csv("AAPL"), "AAPL")
    splits = frame.loc[frame["split_ratio"] != 1.0, ["date", "split_ratio"]]
    assert splits["date"].dt.strftime("%Y-%m-%d").tolist() == ["2000-06-21", "2005-02-28"]
    assert splits["split_ratio"].tolist() == [2.0, 2.0]
    note = next(i for i in report.issues if i.code == "inferred_actions")
    assert note.level == "info"
    assert note.message.startswith("inferred 2 split(s): 2:1 on 2000-06-21, 2:1 on 2005-02-28;")
    raw = frame.set_index("date")["close"]
    assert raw["2000-06-21"] / raw["2000-06-20"] < 0.55  # the raw close halves ...
    adjusted = adjust_prices(frame, "split").set_index("date")["close"]
    for day, before in (("2000-06-21", "2000-06-20"), ("2005-02-28", "2005-02-25")):
        assert abs(adjusted[day] / adjusted[before] - 1) < 0.1  # ... the adjusted one does not


def test_inferred_actions_reproduce_the_publishers_adjusted_close() -> None:
    # IBM pays quarterly dividends: the stored actions, adjusted on read, must give back the
    # file's Adj Close up to one constant factor (the source also adjusts for later events).
    data = bundled_csv("IBM")
    frame, _ = read_bars_csv(data, "IBM")
    assert (frame["dividend"] > 0).sum() == 52
    adjusted = adjust_prices(frame, "split_dividend")["close"].to_numpy()
    published = pd.read_csv(pd.io.common.BytesIO(data))["Adj Close"].to_numpy()
    factor = adjusted / published
    assert np.ptp(factor) / factor.mean() < 1e-6


def test_explicit_columns_win_over_inference() -> None:
    text = (
        "Date,Open,High,Low,Close,Adj Close,Volume,Stock Splits\n"
        "2024-01-02,100,100,100,100,50,10,0\n"
        "2024-01-03,50,50,50,50,50,10,2\n"
        "2024-01-04,50,50,50,50,50,10,0\n"
    )
    frame, report = read_bars_csv(text.encode(), "X")
    assert frame["split_ratio"].tolist() == [1.0, 2.0, 1.0]
    assert "Stock Splits column was used as given" in report.notes[0].message


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        pytest.param(2.0, Fraction(2), id="2-for-1"),
        pytest.param(1.5, Fraction(3, 2), id="3-for-2"),
        pytest.param(7.0, Fraction(7), id="7-for-1"),
        pytest.param(0.1, Fraction(1, 10), id="1-for-10-reverse"),
        pytest.param(2.27, None, id="no-simple-ratio"),
        pytest.param(1.0, None, id="no-split"),
    ],
)
def test_split_fraction(step: float, expected: Fraction | None) -> None:
    assert split_fraction(step) == expected


def test_rounding_noise_is_not_a_dividend() -> None:
    # Adj Close rounded to 2 decimals on a $5 stock: steps of ~0.1% are rounding, not events.
    close = np.array([5.01, 5.03, 5.02, 5.04])
    adj = np.round(close * 0.8, 2)
    out = infer_actions(pd.Series(pd.bdate_range("2024-01-01", periods=4)), close, adj,
                        close_decimals=2, adj_decimals=2)
    assert out.n_dividends == 0 and not out.splits

"""Adjust-on-read: split and dividend back-adjustment on the canonical frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationFailed
from core.market.adjust import adjust_prices
from core.market.frames import BAR_COLUMNS, canonical_bars, empty_bars


def _bars(
    close: list[float],
    *,
    split: dict[int, float] | None = None,
    div: dict[int, float] | None = None,
    volume: int = 1000,
) -> pd.DataFrame:
    n = len(close)
    ratio = np.ones(n)
    dividend = np.zeros(n)
    for i, r in (split or {}).items():
        ratio[i] = r
    for i, d in (div or {}).items():
        dividend[i] = d
    return canonical_bars(
        pd.DataFrame(
            {
                "date": pd.bdate_range("2024-01-02", periods=n),
                "open": close,
                "high": close,
                "low": close,
                "close": close,
                "volume": [volume] * n,
                "dividend": dividend,
                "split_ratio": ratio,
            }
        )
    )


def test_canonical_columns_and_dtypes() -> None:
    frame = empty_bars()
    assert list(frame.columns) == BAR_COLUMNS
    assert frame["volume"].dtype == np.int64
    assert frame["date"].dtype == np.dtype("datetime64[ns]")


def test_raw_mode_returns_prices_as_traded() -> None:
    frame = _bars([100.0, 50.0], split={1: 2.0})
    pd.testing.assert_frame_equal(adjust_prices(frame, "raw"), frame)


def test_split_mode_divides_earlier_prices_and_multiplies_volume() -> None:
    frame = _bars([100.0, 102.0, 51.0, 52.0], split={2: 2.0})
    out = adjust_prices(frame, "split")
    assert out["close"].tolist() == [50.0, 51.0, 51.0, 52.0]
    assert out["volume"].tolist() == [2000, 2000, 1000, 1000]


def test_two_splits_compound() -> None:
    frame = _bars([120.0, 40.0, 20.0], split={1: 3.0, 2: 2.0})
    assert adjust_prices(frame, "split")["close"].tolist() == pytest.approx([20.0, 20.0, 20.0])


def test_split_dividend_mode_backs_out_the_dividend() -> None:
    frame = _bars([100.0, 99.0, 100.0], div={1: 1.0})
    out = adjust_prices(frame, "split_dividend")
    # factor before the ex-date: 1 - 1/100
    assert out["close"].tolist() == pytest.approx([99.0, 99.0, 100.0])
    # split mode ignores dividends
    assert adjust_prices(frame, "split")["close"].tolist() == [100.0, 99.0, 100.0]


def test_dividend_and_split_on_the_same_day_use_one_share_basis() -> None:
    # 2-for-1 split and a 0.5 dividend (post-split shares) on day 1; prev close 100 raw.
    frame = _bars([100.0, 49.5], split={1: 2.0}, div={1: 0.5})
    out = adjust_prices(frame, "split_dividend")
    assert out["close"].iloc[0] == pytest.approx(50.0 * (1 - 0.5 / 50.0))


def test_latest_bar_is_never_changed() -> None:
    frame = _bars([10.0, 11.0, 5.0, 6.0], split={2: 2.0}, div={3: 0.1})
    for mode in ("raw", "split", "split_dividend"):
        assert adjust_prices(frame, mode)["close"].iloc[-1] == 6.0


@pytest.mark.parametrize(
    "mode",
    [pytest.param("adjusted", id="unknown-word"), pytest.param("", id="empty")],
)
def test_unknown_mode_names_the_valid_ones(mode: str) -> None:
    with pytest.raises(ValidationFailed, match="raw, split, split_dividend"):
        adjust_prices(_bars([1.0, 2.0]), mode)

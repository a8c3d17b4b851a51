"""fetch_yahoo against fakes of yfinance 1.7's real shapes and exceptions."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import requests
from curl_cffi.requests.exceptions import DNSError
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError

from core.errors import DataUnavailable
from core.market.yahoo import fetch_yahoo
from tests.unit.test_market_fakes import FakeClient, download_frame, empty_download, history_frame

DAYS = ["2024-06-03", "2024-06-04", "2024-06-05", "2024-06-06", "2024-06-07"]
CLOSE = [100.0, 101.0, 102.0, 103.0, 104.0]
AFTER_CLOSE = dt.datetime(2024, 6, 7, 21, 30, tzinfo=dt.UTC)  # 17:30 in New York
BEFORE_CLOSE = dt.datetime(2024, 6, 7, 18, 0, tzinfo=dt.UTC)  # 14:00 in New York


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(history_frame(DAYS, CLOSE), id="history-flat-tz-aware"),
        pytest.param(download_frame("MSFT", history_frame(DAYS, CLOSE)), id="download-multiindex"),
        pytest.param(history_frame(DAYS, CLOSE, tz=None), id="naive-index"),
        pytest.param(
            download_frame("MSFT", history_frame(DAYS, CLOSE, tz=None)), id="download-naive"
        ),
    ],
)
def test_shapes_become_the_canonical_frame(raw: pd.DataFrame) -> None:
    frame = fetch_yahoo("MSFT", dt.date(2024, 6, 3), None, client=FakeClient(raw), now=AFTER_CLOSE)
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == DAYS
    assert frame["close"].tolist() == CLOSE  # Close, never Adj Close
    assert frame["split_ratio"].eq(1.0).all()  # yfinance's 0.0 means "no split"
    assert frame["dividend"].eq(0.0).all()
    assert frame["volume"].dtype == "int64"


def test_tz_aware_index_keeps_the_exchange_date() -> None:
    # Midnight New York is 04:00 UTC: the trading date must stay the New York date.
    raw = history_frame(DAYS, CLOSE).tz_convert("UTC")
    frame = fetch_yahoo("MSFT", None, None, client=FakeClient(raw), now=AFTER_CLOSE)
    assert frame["date"].iloc[0] == pd.Timestamp("2024-06-03")


def test_end_is_inclusive_so_one_day_is_added() -> None:
    client = FakeClient(history_frame(DAYS, CLOSE))
    frame = fetch_yahoo(
        "MSFT", dt.date(2024, 6, 3), dt.date(2024, 6, 5), client=client, now=AFTER_CLOSE
    )
    assert client.calls == [("MSFT", dt.date(2024, 6, 3), dt.date(2024, 6, 6))]
    assert frame["date"].iloc[-1] == pd.Timestamp("2024-06-05")


@pytest.mark.parametrize(
    ("now", "last"),
    [
        pytest.param(BEFORE_CLOSE, "2024-06-06", id="before-close-drops-today"),
        pytest.param(AFTER_CLOSE, "2024-06-07", id="after-close-keeps-today"),
    ],
)
def test_todays_partial_bar(now: dt.datetime, last: str) -> None:
    notes: list[str] = []
    frame = fetch_yahoo(
        "MSFT", None, None, client=FakeClient(history_frame(DAYS, CLOSE)), now=now, warnings=notes
    )
    assert str(frame["date"].iloc[-1].date()) == last
    assert bool(notes) == (now is BEFORE_CLOSE)


def test_nan_ohlc_rows_are_dropped_with_a_warning() -> None:
    raw = history_frame(DAYS, CLOSE)
    raw.iloc[2, raw.columns.get_loc("Close")] = float("nan")
    notes: list[str] = []
    frame = fetch_yahoo("MSFT", None, None, client=FakeClient(raw), now=AFTER_CLOSE, warnings=notes)
    assert len(frame) == 4 and "2024-06-05" in notes[0]


def test_split_adjustment_is_undone_to_store_raw_prices() -> None:
    # Yahoo reports pre-split bars already divided by the ratio (2-for-1 on 06-05).
    raw = history_frame(
        DAYS,
        [50.0, 50.5, 51.0, 51.5, 52.0],
        splits={"2024-06-05": 2.0},
        dividends={"2024-06-04": 0.25},
    )
    frame = fetch_yahoo("MSFT", None, None, client=FakeClient(raw), now=AFTER_CLOSE)
    assert frame["close"].tolist() == [100.0, 101.0, 51.0, 51.5, 52.0]
    assert frame["split_ratio"].tolist() == [1.0, 1.0, 2.0, 1.0, 1.0]
    assert frame["volume"].tolist()[:3] == [500_000, 500_000, 1_000_000]
    assert frame["dividend"].tolist()[1] == 0.5


@pytest.mark.parametrize(
    ("response", "message"),
    [
        pytest.param(empty_download("MSFT"), "Yahoo returned an empty result", id="empty-frame"),
        pytest.param(
            DNSError(
                "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com"
            ),
            r"Yahoo is unreachable \(network error: DNSError\)",
            id="dns-error",
        ),
        pytest.param(
            requests.exceptions.ConnectionError("refused"),
            "Yahoo is unreachable",
            id="requests-connection-error",
        ),
        pytest.param(
            YFPricesMissingError("MSFT", "(1d 2024-06-01 -> 2024-06-02)"),
            "No data fetched for MSFT",
            id="prices-missing",
        ),
    ],
)
def test_failures_become_data_unavailable_without_retry(response: object, message: str) -> None:
    slept: list[float] = []
    client = FakeClient(response)
    with pytest.raises(DataUnavailable, match=message) as info:
        fetch_yahoo("MSFT", None, None, client=client, sleep=slept.append, now=AFTER_CLOSE)
    assert "stored data is unaffected" in str(info.value)
    assert len(client.calls) == 1 and slept == []


def test_rate_limit_is_retried_with_exponential_backoff() -> None:
    client = FakeClient(YFRateLimitError(), YFRateLimitError(), history_frame(DAYS, CLOSE))
    slept: list[float] = []
    frame = fetch_yahoo(
        "MSFT", None, None, client=client, sleep=slept.append, backoff_seconds=2.0, now=AFTER_CLOSE
    )
    assert len(frame) == 5
    assert slept == [2.0, 4.0]


def test_rate_limit_gives_up_after_max_retries() -> None:
    client = FakeClient(YFRateLimitError())
    slept: list[float] = []
    with pytest.raises(DataUnavailable, match="rate limited by Yahoo after 3 attempt"):
        fetch_yahoo(
            "MSFT", None, None, client=client, sleep=slept.append, max_retries=2, now=AFTER_CLOSE
        )
    assert slept == [2.0, 4.0] and len(client.calls) == 3


def test_default_client_passes_explicit_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []

    class FakeTicker:
        def __init__(self, symbol: str) -> None:
            self.symbol = symbol

        def history(self, **kwargs: object) -> pd.DataFrame:
            calls.append({"symbol": self.symbol, **kwargs})
            return history_frame(DAYS, CLOSE)

    import yfinance

    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    frame = fetch_yahoo("MSFT", dt.date(2024, 6, 3), dt.date(2024, 6, 7), now=AFTER_CLOSE)
    assert len(frame) == 5
    assert calls == [
        {
            "symbol": "MSFT",
            "interval": "1d",
            "auto_adjust": False,
            "back_adjust": False,
            "actions": True,
            "repair": False,
            "raise_errors": True,
            "start": "2024-06-03",
            "end": "2024-06-08",
        }
    ]

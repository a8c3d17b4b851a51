"""Daily bars from Yahoo Finance via yfinance, with every default we depend on made explicit.

yfinance traps handled here (FIELD-NOTES): on failure ``download`` returns an EMPTY frame
instead of raising; ``auto_adjust`` and ``multi_level_index`` defaults changed under users;
rate limits raise ``YFRateLimitError`` and are never retried by yfinance; the end date is
exclusive; today's bar is partial until the close; Yahoo has served rows with null OHLC.

Yahoo's OHLC and volume (even with ``auto_adjust=False``) are already adjusted for every split
up to the time of the request, and so are its dividends. We store prices as traded, so this
module undoes the split adjustment using the split events in the fetched window: exact when
the window runs to today (incremental ingest always does).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from core.errors import DataUnavailable
from core.market.frames import BAR_COLUMNS, PRICE_COLUMNS, canonical_bars, empty_bars

log = logging.getLogger(__name__)

YahooClient = Callable[[str, dt.date | None, dt.date | None], pd.DataFrame]
EXCHANGE_TZ = ZoneInfo("America/New_York")  # XNYS
EXCHANGE_CLOSE = dt.time(16, 0)
_UNAFFECTED = "stored data is unaffected"


def yfinance_history(symbol: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """The real client: ``Ticker.history`` with explicit arguments (never yfinance defaults).

    ``end`` here is already exclusive (the caller adds a day).
    """
    import yfinance as yf

    kwargs: dict[str, object] = {
        "interval": "1d",
        "auto_adjust": False,
        "back_adjust": False,
        "actions": True,
        "repair": False,  # repair=True has invented splits (yfinance #2660)
        "raise_errors": True,
    }
    if start is None:
        kwargs["period"] = "max"
    else:
        kwargs["start"] = start.isoformat()
        if end is not None:
            kwargs["end"] = end.isoformat()
    return yf.Ticker(symbol).history(**kwargs)


def _network_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import requests

        types += [requests.exceptions.ConnectionError, requests.exceptions.Timeout]
    except ImportError:  # pragma: no cover
        pass
    try:
        from curl_cffi.requests import exceptions as curl_exc

        types += [curl_exc.ConnectionError, curl_exc.Timeout, curl_exc.DNSError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def _rate_limit_types() -> tuple[type[BaseException], ...]:
    try:
        from yfinance.exceptions import YFRateLimitError

        return (YFRateLimitError,)
    except ImportError:  # pragma: no cover
        return ()


def _yf_error_types() -> tuple[type[BaseException], ...]:
    try:
        from yfinance.exceptions import YFException

        return (YFException,)
    except ImportError:  # pragma: no cover
        return ()


def _flatten(raw: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Flat columns whatever the shape: (Price, Ticker) MultiIndex or plain names."""
    df = raw
    if isinstance(df.columns, pd.MultiIndex):
        tickers = df.columns.get_level_values(-1)
        if symbol in set(tickers):
            df = pd.DataFrame(df.xs(symbol, axis=1, level=-1))
        else:
            df = df.copy()
            df.columns = df.columns.get_level_values(0)
    return df.rename(columns=lambda c: str(c).strip().lower().replace(" ", "_"))


def normalise_yahoo_frame(
    raw: pd.DataFrame, symbol: str, *, now: dt.datetime | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Turn a yfinance frame into the canonical frame (prices as traded).

    Returns the frame and warnings (dropped NaN rows, dropped partial bar). Raises
    ``DataUnavailable`` when the frame is empty or lacks price columns.
    """
    warnings: list[str] = []
    if raw is None or raw.empty:
        raise DataUnavailable(
            f"No data fetched for {symbol} from Yahoo Finance: Yahoo returned an empty "
            f"result (unknown symbol, no trading in the range, or a failed request) — {_UNAFFECTED}"
        )
    df = _flatten(raw, symbol)
    missing = [c for c in PRICE_COLUMNS if c not in df]
    if missing:
        raise DataUnavailable(
            f"No data fetched for {symbol} from Yahoo Finance: the response lacks "
            f"{', '.join(missing)} (got {', '.join(map(str, df.columns))}) — {_UNAFFECTED}"
        )
    index = pd.DatetimeIndex(df.index)
    if index.tz is not None:
        # The trading date is the date on the exchange's clock, not UTC's (yfinance #184).
        index = index.tz_convert(EXCHANGE_TZ).tz_localize(None)
    out = pd.DataFrame(
        {
            "date": index.normalize(),
            "open": df["open"].to_numpy(dtype="float64"),
            "high": df["high"].to_numpy(dtype="float64"),
            "low": df["low"].to_numpy(dtype="float64"),
            "close": df["close"].to_numpy(dtype="float64"),
            "volume": pd.to_numeric(df.get("volume", 0), errors="coerce"),
            "dividend": pd.to_numeric(df.get("dividends", 0.0), errors="coerce"),
            "split_ratio": pd.to_numeric(df.get("stock_splits", 0.0), errors="coerce"),
        }
    )
    out["volume"] = out["volume"].to_numpy()
    out["dividend"] = out["dividend"].fillna(0.0)
    # yfinance reports 0.0 on days without a split; we store 1.0 ("no change").
    ratio = out["split_ratio"].fillna(0.0)
    out["split_ratio"] = ratio.where(ratio > 0, 1.0)

    nan_rows = out[PRICE_COLUMNS].isna().any(axis=1)
    if nan_rows.any():
        days = ", ".join(str(d.date()) for d in out.loc[nan_rows, "date"][:5])
        warnings.append(
            f"{symbol}: {int(nan_rows.sum())} Yahoo row(s) with missing prices dropped ({days})"
        )
        out = out[~nan_rows]
    out["volume"] = out["volume"].fillna(0)

    now_local = (now or dt.datetime.now(dt.UTC)).astimezone(EXCHANGE_TZ)
    today = pd.Timestamp(now_local.date())
    partial = (out["date"] > today) | ((out["date"] == today) & (now_local.time() < EXCHANGE_CLOSE))
    if partial.any():
        warnings.append(
            f"{symbol}: today's bar ({today.date()}) dropped: it is not final before the "
            f"{EXCHANGE_CLOSE:%H:%M} New York close"
        )
        out = out[~partial]
    if out.empty:
        return empty_bars(), warnings
    out = out.sort_values("date", kind="stable").reset_index(drop=True)
    return _unadjust_splits(canonical_bars(out[BAR_COLUMNS])), warnings


def _unadjust_splits(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo Yahoo's split adjustment so prices, volume and dividends are as traded."""
    ratio = frame["split_ratio"].to_numpy(dtype="float64")
    if np.all(ratio == 1.0):
        return frame
    # A bar before a split of ratio r was divided by r: multiply it back.
    later = np.ones_like(ratio)
    later[:-1] = np.cumprod(ratio[::-1])[::-1][1:]
    out = frame.copy()
    for col in PRICE_COLUMNS:
        out[col] = out[col] * later
    out["dividend"] = out["dividend"] * later
    out["volume"] = np.rint(out["volume"] / later).astype("int64")
    return out


def fetch_yahoo(
    symbol: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    client: YahooClient | None = None,
    max_retries: int = 3,
    backoff_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    now: dt.datetime | None = None,
    warnings: list[str] | None = None,
) -> pd.DataFrame:
    """Daily bars for ``symbol`` with ``start <= date <= end`` (both inclusive) as traded.

    ``client(symbol, start, end_exclusive)`` performs the download (default: yfinance
    ``Ticker.history``); tests pass a fake. Rate limits are retried ``max_retries`` times
    with exponential backoff (``backoff_seconds * 2**attempt``); network errors and empty
    results are not retried. Every failure becomes ``DataUnavailable`` with a message
    saying why and that stored data is unaffected. Warnings (dropped rows) are appended
    to ``warnings`` when given.
    """
    client = client or yfinance_history
    # yfinance's end date is exclusive: ask for the day after the last day we want.
    end_exclusive = end + dt.timedelta(days=1) if end is not None else None
    rate_limited = _rate_limit_types()
    network = _network_error_types()
    yf_errors = _yf_error_types()
    attempt = 0
    while True:
        try:
            raw = client(symbol, start, end_exclusive)
            break
        except rate_limited as exc:
            if attempt >= max_retries:
                raise DataUnavailable(
                    f"No data fetched for {symbol} from Yahoo Finance: rate limited by Yahoo "
                    f"after {attempt + 1} attempt(s); try again in a few minutes — {_UNAFFECTED}"
                ) from exc
            delay = backoff_seconds * (2**attempt)
            log.warning("Yahoo rate limit for %s; retrying in %.1f s", symbol, delay)
            sleep(delay)
            attempt += 1
        except network as exc:
            raise DataUnavailable(
                f"No data fetched for {symbol} from Yahoo Finance: Yahoo is unreachable "
                f"(network error: {type(exc).__name__}) — {_UNAFFECTED}"
            ) from exc
        except yf_errors as exc:
            raise DataUnavailable(
                f"No data fetched for {symbol} from Yahoo Finance: {exc} — {_UNAFFECTED}"
            ) from exc
    frame, notes = normalise_yahoo_frame(raw, symbol, now=now)
    if start is not None:
        frame = frame[frame["date"] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame["date"] <= pd.Timestamp(end)]
    if warnings is not None:
        warnings.extend(notes)
    return frame.reset_index(drop=True)

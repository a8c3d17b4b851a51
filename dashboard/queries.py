"""Cached reads for the pages. ``st.cache_data`` copies results, so callers may mutate them;
every entry has a TTL because the database changes under us (jobs, the CLI, other users).
Writes call ``clear()`` afterwards.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.market.calendar import trading_calendar
from core.market.ingest_runs import recent_ingest_runs
from core.market.series import PreparedBars, load_series
from core.market.store import SymbolSummary, list_symbols
from core.market.store import stored_symbols as _stored_symbols
from core.market.validation import ValidationReport
from dashboard.resources import app_context

SHORT = dt.timedelta(seconds=30)
LONG = dt.timedelta(minutes=10)


@st.cache_data(ttl=SHORT, show_spinner=False)
def stored_symbols() -> list[str]:
    return _stored_symbols(app_context().db)


@st.cache_data(ttl=SHORT, show_spinner=False)
def symbol_summaries() -> list[SymbolSummary]:
    return list_symbols(app_context().db)


@st.cache_data(ttl=LONG, show_spinner="Loading prices…")
def prepared_bars(
    symbol: str, adjust: str = "split", outlier_policy: str = "use",
    start: dt.date | None = None, end: dt.date | None = None,
) -> PreparedBars:
    from core.market.listing import exchange_for

    ctx = app_context()
    return load_series(ctx.db, symbol, adjust=adjust, outlier_policy=outlier_policy,
                       start=start, end=end,
                       exchange=exchange_for(ctx.db, symbol, ctx.settings.exchange))


@st.cache_data(ttl=LONG, show_spinner=False)
def closed_days(symbol: str, start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """Days in [start, end] without a session on ``symbol``'s exchange: a daily chart's
    range breaks (no weekend or holiday gaps)."""
    from core.market.listing import exchange_for

    ctx = app_context()
    # to the end of the last week: the chart checks whole weeks for weekend sessions
    sunday = pd.Timestamp(end) + pd.Timedelta(days=6 - pd.Timestamp(end).dayofweek)
    return trading_calendar(exchange_for(ctx.db, symbol, ctx.settings.exchange)).closed_days(
        start, sunday)


@st.cache_data(ttl=LONG, show_spinner=False)
def validation_report(symbol: str) -> ValidationReport:
    from core.market import ingest  # yfinance comes with it: only the explorer needs it
    from core.market.listing import exchange_for

    ctx = app_context()
    calendar = trading_calendar(exchange_for(ctx.db, symbol, ctx.settings.exchange))
    return ingest.validate_stored(ctx.db, symbol, calendar)


@st.cache_data(ttl=SHORT, show_spinner=False)
def ingest_history(symbol: str | None) -> pd.DataFrame:
    return recent_ingest_runs(app_context().db, symbol)


def clear() -> None:
    """After any write: everything cached may be stale."""
    st.cache_data.clear()


@st.cache_data(ttl=LONG, show_spinner="Loading bars…")
def period_bars(symbol: str, adjust: str, start: dt.date, end: dt.date,
                period: str) -> pd.DataFrame:
    """Bars of one period (day, week, month) between ``start`` and ``end``. Raw weekly bars
    come from ``bars_weekly`` on TimescaleDB (the continuous aggregate) and are resampled
    elsewhere; adjusted prices are adjusted on read, so their weeks and months are resampled
    from the adjusted days."""
    from core.market.indicators import resample_bars
    from core.market.weekly import weekly_bars

    if period == "week" and adjust == "raw":
        weekly = weekly_bars(app_context().db, symbol)
        monday = pd.Timestamp(start) - pd.Timedelta(days=pd.Timestamp(start).dayofweek)
        return weekly[(weekly["date"] >= monday) & (weekly["date"] <= pd.Timestamp(end))
                      ].reset_index(drop=True)
    return resample_bars(prepared_bars(symbol, adjust, "use", start, end).frame, period)


@st.cache_data(ttl=LONG, show_spinner="Rebasing…")
def rebased_closes(symbols: tuple[str, ...], adjust: str, start: dt.date,
                   end: dt.date) -> pd.DataFrame:
    """Closes of ``symbols`` rebased to 100 on their first common trading day."""
    from core.market.indicators import rebase

    return rebase({s: prepared_bars(s, adjust, "use", start, end).close for s in symbols})

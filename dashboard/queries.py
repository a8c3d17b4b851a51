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
    return trading_calendar(exchange_for(ctx.db, symbol, ctx.settings.exchange)).closed_days(
        start, end)


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

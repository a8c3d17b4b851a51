"""Trading-day calendar from ``exchange_calendars`` (no hand-written holiday lists).

Forecast dates, gap checks and the filling of missing sessions all ask this module which
days the exchange was (or will be) open.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

from core.errors import ValidationFailed

_FIRST = "1980-01-01"


class TradingCalendar:
    """Sessions of one exchange, as a ``DatetimeIndex`` of midnight-naive dates."""

    def __init__(self, exchange: str = "XNYS") -> None:
        if exchange not in xcals.get_calendar_names():
            raise ValidationFailed(
                f"unknown exchange {exchange!r}; use an exchange_calendars code "
                "such as XNYS or XLON"
            )
        last = (pd.Timestamp.today().normalize() + pd.DateOffset(years=3)).strftime("%Y-%m-%d")
        self.exchange = exchange
        self._cal = xcals.get_calendar(exchange, start=_FIRST, end=last)
        self._sessions: pd.DatetimeIndex = pd.DatetimeIndex(self._cal.sessions).tz_localize(None)

    @property
    def all_sessions(self) -> pd.DatetimeIndex:
        return self._sessions

    def sessions(self, start: dt.date | str, end: dt.date | str) -> pd.DatetimeIndex:
        """Sessions with ``start <= session <= end``."""
        s = self._sessions
        return s[(s >= pd.Timestamp(start)) & (s <= pd.Timestamp(end))]

    def is_session(self, day: dt.date | str) -> bool:
        return pd.Timestamp(day) in self._sessions

    def next_sessions(self, after: dt.date | str, n: int) -> pd.DatetimeIndex:
        """The ``n`` sessions strictly after ``after`` (forecast dates for horizon ``n``)."""
        pos = int(self._sessions.searchsorted(pd.Timestamp(after), side="right"))
        out = self._sessions[pos : pos + n]
        if len(out) < n:
            raise ValidationFailed(
                f"the {self.exchange} calendar ends on {self._sessions[-1].date()}; "
                f"cannot place {n} trading days after {pd.Timestamp(after).date()}"
            )
        return out

    def previous_session(self, day: dt.date | str) -> pd.Timestamp:
        """The last session on or before ``day``."""
        pos = int(self._sessions.searchsorted(pd.Timestamp(day), side="right"))
        if pos == 0:
            raise ValidationFailed(f"no {self.exchange} session on or before {day}")
        return pd.Timestamp(self._sessions[pos - 1])

    def count_sessions(self, start: dt.date | str, end: dt.date | str) -> int:
        """Number of sessions with ``start < session <= end`` (trading days elapsed)."""
        lo = int(self._sessions.searchsorted(pd.Timestamp(start), side="right"))
        hi = int(self._sessions.searchsorted(pd.Timestamp(end), side="right"))
        return max(hi - lo, 0)


@lru_cache(maxsize=8)
def trading_calendar(exchange: str = "XNYS") -> TradingCalendar:
    """Process-wide cached calendar (building one takes about a second)."""
    return TradingCalendar(exchange)

"""Trading-day calendar from ``exchange_calendars`` (no hand-written holiday lists).

Forecast dates, gap checks and the filling of missing sessions all ask this module which
days the exchange was (or will be) open.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from functools import cached_property, lru_cache
from pathlib import Path

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from core.errors import ValidationFailed

_FIRST = "1980-01-01"


def _bounds(exchange: str) -> tuple[str, str]:
    """First and last day to build ``exchange``'s calendar for: 1980 to three years ahead,
    narrowed to what exchange_calendars can evaluate for that exchange. Younger exchanges
    (AIXK from 2017, XSAU from 2021) and calendars with holidays recorded only from some
    year (XTKS 1997, XSHG 1990) raise a raw ValueError outside their bounds, and the
    precomputed ones (XSHG, XBOM, XSES) end on a fixed day."""
    dispatcher = xcals.calendar_utils.global_calendar_dispatcher
    # the class, not an instance: building the default instance costs ~0.9 s
    cls = dispatcher._calendar_factories[dispatcher.resolve_alias(exchange)]
    first, last = pd.Timestamp(_FIRST), pd.Timestamp.today().normalize() + pd.DateOffset(years=3)
    low, high = cls.bound_min(), cls.bound_max()
    if low is not None:
        first = max(first, pd.Timestamp(low))
    if high is not None:
        last = min(last, pd.Timestamp(high))
    return first.strftime("%Y-%m-%d"), last.strftime("%Y-%m-%d")


class TradingCalendar:
    """Sessions of one exchange, as a ``DatetimeIndex`` of midnight-naive dates."""

    def __init__(self, exchange: str = "XNYS") -> None:
        self.exchange = self.check_code(exchange)
        self._first, self._last = _bounds(exchange)
        self._sessions: pd.DatetimeIndex = self._load_sessions()

    @staticmethod
    def check_code(exchange: str) -> str:
        """Return ``exchange`` if exchange_calendars knows it, else raise ValidationFailed."""
        if exchange not in xcals.get_calendar_names():
            raise ValidationFailed(
                f"unknown exchange {exchange!r}; use an exchange_calendars code "
                "such as XNYS, XLON, XTKS or XASX"
            )
        return exchange

    @cached_property
    def _cal(self) -> xcals.ExchangeCalendar:
        """The full exchange_calendars object (open/close times); built on first use."""
        return xcals.get_calendar(self.exchange, start=self._first, end=self._last)

    def _load_sessions(self) -> pd.DatetimeIndex:
        """Sessions from a small on-disk cache keyed by exchange, library version and end
        date; building the calendar takes ~1.4 s, loading the cached dates ~1 ms."""
        name = f"stockcast-{self.exchange}-{xcals.__version__}-{self._first}-{self._last}.npy"
        path = Path(tempfile.gettempdir()) / name
        try:
            return pd.DatetimeIndex(np.load(path, allow_pickle=False))
        except (OSError, ValueError):
            pass
        sessions = pd.DatetimeIndex(self._cal.sessions).tz_localize(None)
        try:  # atomic: a reader never sees half a file
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
        except OSError:
            return sessions  # no writable temp dir: the cache is an optimisation only
        try:
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, sessions.to_numpy(dtype="datetime64[ns]"), allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
        return sessions

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

    def session_close(self, day: dt.date | str) -> dt.datetime:
        """The close of session ``day`` (aware, UTC; early closes included)."""
        return self._cal.session_close(pd.Timestamp(day)).to_pydatetime()

    def closed_days(self, start: dt.date | str, end: dt.date | str) -> pd.DatetimeIndex:
        """Calendar days with ``start <= day <= end`` on which the exchange has no session
        (weekends and holidays): the gaps a daily chart leaves out of its time axis.

        >>> cal = trading_calendar("XNYS")
        >>> [f"{d:%a %d}" for d in cal.closed_days("2024-12-21", "2024-12-26")]
        ['Sat 21', 'Sun 22', 'Wed 25']
        """
        days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
        return days[~days.isin(self._sessions)]

    def count_sessions(self, start: dt.date | str, end: dt.date | str) -> int:
        """Number of sessions with ``start < session <= end`` (trading days elapsed)."""
        lo = int(self._sessions.searchsorted(pd.Timestamp(start), side="right"))
        hi = int(self._sessions.searchsorted(pd.Timestamp(end), side="right"))
        return max(hi - lo, 0)


@lru_cache(maxsize=8)
def trading_calendar(exchange: str = "XNYS") -> TradingCalendar:
    """Process-wide cached calendar (building one takes about a second)."""
    return TradingCalendar(exchange)

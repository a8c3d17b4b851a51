"""When the scheduled jobs run: one reader of the ``SCHEDULE_*`` settings, and each
exchange's daily slot after its own close.

Both front doors that run the jobs on a clock read their times here: the ``worker``
process (``core.scheduler``) and the Airflow DAG (``dags/stock_pipeline.py``). The DAG
file is parsed in Airflow's own environment, so this module imports only the standard
library, ``core.errors``, ``core.settings`` and (inside functions) ``exchange_calendars``.

The daily run of a symbol follows its exchange: ``SCHEDULE_DAILY`` (default 18:00) is a
wall time in that exchange's time zone, and never earlier than the session's close that
``exchange_calendars`` records (an exchange closing after ``SCHEDULE_DAILY`` runs at its
close). A London symbol runs after the London close in London time, a New York symbol
after the New York close.

The worker finds the exchanges from the stored symbols; the DAG file cannot read the
database while Airflow parses it, so its exchanges come from configuration
(``ScheduleConfig.exchanges``): ``EXCHANGE``, those of the ``WATCHLIST`` symbols' Yahoo
suffixes, and any listed in ``SCHEDULE_EXCHANGES`` (e.g. ``XLON,XTKS``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import ValidationFailed
from core.settings import Settings
from core.symbols import exchange_from_suffix

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hhmm(name: str, raw: str) -> dt.time:
    try:
        hour, minute = (int(p) for p in raw.strip().split(":"))
        return dt.time(hour, minute)
    except ValueError:
        raise ValidationFailed(f"{name} must be HH:MM (e.g. 18:00), got {raw!r}") from None


def _xcal(exchange: str) -> Any:
    """The exchange_calendars object (``get_calendar`` caches one instance per code)."""
    import exchange_calendars as xcals

    if exchange not in xcals.get_calendar_names():
        raise ValidationFailed(f"unknown exchange {exchange!r}; use an exchange_calendars "
                               "code such as XNYS, XLON, XTKS or XASX")
    return xcals.get_calendar(exchange)


def exchange_tz(exchange: str) -> ZoneInfo:
    """The exchange's time zone (America/New_York for XNYS), from ``exchange_calendars``."""
    return ZoneInfo(str(_xcal(exchange).tz))


def regular_close(exchange: str) -> dt.time:
    """The exchange's current regular close, local time (16:00 for XNYS, 16:30 for XLON)."""
    return _xcal(exchange).close_times[-1][1]


@dataclass(frozen=True)
class ScheduleConfig:
    """When the jobs run. ``tz`` is the default exchange's (``EXCHANGE``) time zone, where
    the weekly retrain runs; each daily run uses its own exchange's zone (``daily_slot``)."""

    tz: ZoneInfo
    daily: dt.time = dt.time(18, 0)
    retrain_day: str = "mon"
    retrain_time: dt.time = dt.time(19, 0)
    symbols: tuple[str, ...] = ()
    exchanges: tuple[str, ...] = ()  # the DAG's: one DAG per exchange, EXCHANGE first

    @classmethod
    def from_env(cls, settings: Settings, env: Mapping[str, str] | None = None) -> ScheduleConfig:
        env = os.environ if env is None else env
        day = env.get("SCHEDULE_RETRAIN_DAY", "mon").strip().lower()[:3]
        if day not in DAYS:
            raise ValidationFailed(
                f"SCHEDULE_RETRAIN_DAY must be one of {', '.join(DAYS)}, "
                f"got {env.get('SCHEDULE_RETRAIN_DAY')!r}"
            )
        listed = [e.strip().upper() for e in env.get("SCHEDULE_EXCHANGES", "").split(",")]
        suffixed = [exchange_from_suffix(s, settings.exchange) for s in settings.watchlist]
        exchanges = tuple(dict.fromkeys([settings.exchange, *suffixed, *filter(None, listed)]))
        for code in exchanges:
            _xcal(code)  # an unknown code fails here, naming it
        return cls(
            tz=exchange_tz(settings.exchange),
            daily=_hhmm("SCHEDULE_DAILY", env.get("SCHEDULE_DAILY", "18:00")),
            retrain_day=day,
            retrain_time=_hhmm("SCHEDULE_RETRAIN_TIME", env.get("SCHEDULE_RETRAIN_TIME", "19:00")),
            symbols=settings.watchlist,
            exchanges=exchanges,
        )

    def daily_time(self, exchange: str) -> dt.time:
        """The daily run's usual local time for ``exchange``: ``daily``, or the regular
        close if that is later (the cron time; ``daily_slot`` also sees early closes)."""
        return max(self.daily, regular_close(exchange))

    def daily_slot(self, exchange: str, session: dt.date) -> dt.datetime:
        """When the daily run for ``exchange``'s ``session`` is due: ``daily`` in the
        exchange's time zone, never before that session's close."""
        from core.market.calendar import trading_calendar

        tz = exchange_tz(exchange)
        at = dt.datetime.combine(session, self.daily, tzinfo=tz)
        return max(at, trading_calendar(exchange).session_close(session).astimezone(tz))

    def is_retrain_day(self, day: dt.date) -> bool:
        return DAYS[day.weekday()] == self.retrain_day

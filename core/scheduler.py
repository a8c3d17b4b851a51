"""The ``worker`` process: run the daily pipeline and the weekly retrain on a cron.

``python -m core schedule`` starts an APScheduler ``BlockingScheduler``. Each exchange
the symbols trade on gets its own daily run after its own close: at ``SCHEDULE_DAILY``
(default 18:00) in that exchange's time zone, never before the session's close, Monday to
Friday, skipped on that exchange's holidays (the ``exchange_calendars`` sessions decide;
see ``core.schedule``). A London symbol is processed after the London close for the London
session, a New York symbol after the New York close; symbols without a stored exchange
follow their Yahoo suffix, else ``EXCHANGE``. The weekly retrain runs on
``SCHEDULE_RETRAIN_DAY`` (default mon) at ``SCHEDULE_RETRAIN_TIME`` (default 19:00) in the
``EXCHANGE`` default's time zone. The symbols are ``WATCHLIST`` or, if empty, every stored
symbol.

Missed runs are caught up once, not once per missed slot: APScheduler's ``coalesce`` and
``misfire_grace_time`` cover a process that was suspended, and on start-up ``catch_up``
runs the daily job once if the last succeeded run is older than the last scheduled slot
(ingest is incremental and reconciliation starts from the previous run, so one run covers
every missed day); the same for the weekly retrain.

Two schedulers against one database never both run a job: the run's ``jobs`` row is the
lock (unique ``active_key``, see ``core.pipeline``), and a slot already done (for that
exchange) is skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from core.auth import SYSTEM, Actor
from core.db.base import utcnow
from core.db.engine import Database
from core.errors import JobConflict
from core.market.calendar import trading_calendar
from core.market.listing import symbols_by_exchange
from core.market.yahoo import YahooClient
from core.pipeline import (
    DAILY,
    WEEKLY,
    PipelineRun,
    default_symbols,
    last_succeeded,
    run_daily,
    run_weekly_retrain,
)
from core.schedule import DAYS, ScheduleConfig, exchange_tz
from core.settings import Settings

__all__ = ["DAYS", "MISFIRE_GRACE_SECONDS", "PipelineScheduler", "ScheduleConfig",
           "last_daily_slot", "last_weekly_slot", "next_runs", "run_scheduler"]

logger = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 12 * 3600  # a run delayed up to 06:00 next day still runs


def last_daily_slot(
    config: ScheduleConfig, exchange: str, now: dt.datetime
) -> dt.datetime | None:
    """The latest daily slot of ``exchange`` at or before ``now`` (its sessions only), in
    the exchange's time zone (``ScheduleConfig.daily_slot``: after that session's close)."""
    calendar = trading_calendar(exchange)
    day = now.astimezone(exchange_tz(exchange)).date()
    for _ in range(30):
        session = calendar.previous_session(day).date()
        slot = config.daily_slot(exchange, session)
        if slot <= now:
            return slot
        day = session - dt.timedelta(days=1)
    return None


def last_weekly_slot(config: ScheduleConfig, now: dt.datetime) -> dt.datetime:
    """The latest scheduled weekly retrain time at or before ``now``."""
    local = now.astimezone(config.tz)
    back = (local.weekday() - DAYS.index(config.retrain_day)) % 7
    slot = dt.datetime.combine(local.date() - dt.timedelta(days=back), config.retrain_time,
                               tzinfo=config.tz)
    return slot if slot <= now else slot - dt.timedelta(days=7)


class PipelineScheduler:
    """The daily and weekly ticks, the start-up catch-up and the APScheduler wiring.

    Every tick takes ``now`` (default: the wall clock) so tests can drive a fake clock.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        config: ScheduleConfig | None = None,
        *,
        client: YahooClient | None = None,
        actor: Actor = SYSTEM,
        clock: Callable[[], dt.datetime] = utcnow,
        weekly_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.db, self.settings = db, settings
        self.config = config or ScheduleConfig.from_env(settings)
        self.client, self.actor, self.clock = client, actor, clock
        self.weekly_options = dict(weekly_options or {})

    def symbols(self) -> list[str]:
        if self.config.symbols:
            return list(self.config.symbols)
        return default_symbols(self.db, self.settings)

    def exchanges(self) -> dict[str, list[str]]:
        """The symbols grouped by exchange (stored, else Yahoo suffix, else ``EXCHANGE``);
        the default exchange always has a group (it may be empty)."""
        groups = symbols_by_exchange(self.db, self.symbols(), self.settings.exchange)
        return {self.settings.exchange: groups.pop(self.settings.exchange, []), **groups}

    def daily_tick(self, now: dt.datetime | None = None) -> list[PipelineRun]:
        """Run the daily pipeline of every exchange whose slot just passed and is not done.

        Each exchange's day is its latest slot's session (not ``now``'s date), so a run
        delayed past midnight still processes the right session; a slot older than the
        misfire grace time means today is no trading day there (a holiday): that exchange
        runs nothing. Returns the runs that ran (one per exchange at most).
        """
        now = now or self.clock()
        self._recover()
        ran: list[PipelineRun] = []
        for exchange, names in self.exchanges().items():
            slot = last_daily_slot(self.config, exchange, now)
            if slot is None or (now - slot).total_seconds() > MISFIRE_GRACE_SECONDS:
                logger.info("daily run skipped: %s is not a %s trading day",
                            now.astimezone(exchange_tz(exchange)).date(), exchange)
                continue
            run = self._daily(exchange, names, slot.date(), now)
            ran += [run] if run else []
        return ran

    def _recover(self) -> None:
        """Release the lock of a run whose worker died (dead pid here, or no heartbeat)."""
        from core import jobs

        try:
            jobs.recover_orphans(self.db)
        except Exception:
            logger.exception("could not check for interrupted runs")

    def _daily(
        self, exchange: str, names: list[str], as_of: dt.date, now: dt.datetime
    ) -> PipelineRun | None:
        if not names:
            if exchange == self.settings.exchange:
                logger.warning("daily run skipped: no symbols (set WATCHLIST or ingest some)")
            return None
        try:
            run = run_daily(self.db, self.settings, names, as_of=as_of, now=now,
                            client=self.client, actor=self.actor, once=True, exchange=exchange)
        except JobConflict as exc:  # another exchange's run holds the lock: caught up later
            logger.info("daily run for %s %s not started: %s", exchange, as_of, exc)
            return None
        return None if run.status == "skipped" else run

    def weekly_tick(self, now: dt.datetime | None = None) -> PipelineRun | None:
        now = now or self.clock()
        self._recover()
        names = self.symbols()
        if not names:
            return None
        as_of = last_weekly_slot(self.config, now).date()
        try:
            run = run_weekly_retrain(self.db, self.settings, names, as_of=as_of, now=now,
                                     actor=self.actor, once=True, **self.weekly_options)
        except JobConflict as exc:
            logger.info("weekly retrain for %s not started: %s", as_of, exc)
            return None
        return None if run.status == "skipped" else run

    def catch_up(self, now: dt.datetime | None = None) -> list[PipelineRun]:
        """Run each job once if its last success is older than its last scheduled slot."""
        now = now or self.clock()
        ran: list[PipelineRun] = []
        for exchange, names in self.exchanges().items():
            slot = last_daily_slot(self.config, exchange, now)
            done = last_succeeded(self.db, DAILY, exchange=exchange)
            if slot is not None and names and (done is None or done < slot.date()):
                logger.info("catching up the %s daily run for %s (last done: %s)",
                            exchange, slot.date(), done)
                day = slot.date()
                run = self._guarded(lambda: self._daily(exchange, names, day, now))  # noqa: B023
                ran += [run] if run else []
        weekly = last_weekly_slot(self.config, now)
        done = last_succeeded(self.db, WEEKLY)
        if done is not None and done < weekly.date():  # never run: wait for the first slot
            logger.info("catching up the weekly retrain of %s", weekly.date())
            run = self._guarded(lambda: self.weekly_tick(now))
            ran += [run] if run else []
        return ran

    @staticmethod
    def _guarded(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception:  # recorded on the job row and as an alert by the pipeline
            logger.exception("scheduled run failed")
            return None

    def build(self, scheduler: Any = None) -> Any:
        """Add the cron jobs to ``scheduler`` (default: a new ``BlockingScheduler``): one
        daily job per exchange, at its daily time in its time zone (id ``daily`` for the
        ``EXCHANGE`` default, ``daily:XLON`` ...), and the weekly retrain.

        Every daily job ticks every exchange (``daily_tick``), so an exchange whose first
        symbol arrived after start-up still runs, at the next exchange's time at the latest.
        """
        from apscheduler.schedulers.blocking import BlockingScheduler
        from apscheduler.triggers.cron import CronTrigger

        scheduler = scheduler or BlockingScheduler(timezone=self.config.tz)
        common = {"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS,
                  "max_instances": 1, "replace_existing": True}
        for exchange in self.exchanges():
            at = self.config.daily_time(exchange)
            default = exchange == self.settings.exchange
            scheduler.add_job(
                lambda: self._guarded(self.daily_tick),
                id=DAILY if default else f"{DAILY}:{exchange}",
                name="daily pipeline" + ("" if default else f" ({exchange})"),
                trigger=CronTrigger(day_of_week="mon-fri", hour=at.hour, minute=at.minute,
                                    timezone=exchange_tz(exchange)),
                **common,
            )
        scheduler.add_job(
            lambda: self._guarded(self.weekly_tick), id=WEEKLY, name="weekly retrain",
            trigger=CronTrigger(day_of_week=self.config.retrain_day,
                                hour=self.config.retrain_time.hour,
                                minute=self.config.retrain_time.minute, timezone=self.config.tz),
            **common,
        )  # fmt: skip
        return scheduler

    def prepare(self, now: dt.datetime | None = None) -> list[PipelineRun]:
        """Start-up: fail runs left "running" by a dead worker (their lock), then catch up."""
        self._recover()
        return self.catch_up(now)

    def start(self) -> None:
        """Recover, catch up once, then block on the cron."""
        self.prepare()
        scheduler = self.build()
        for job in scheduler.get_jobs():
            logger.info("scheduled %s: %s", job.name, job.trigger)
        scheduler.start()


def next_runs(scheduler: Any, now: dt.datetime, n: int = 3) -> dict[str, list[pd.Timestamp]]:
    """The next ``n`` fire times of each job after ``now`` (for the CLI and tests)."""
    out: dict[str, list[pd.Timestamp]] = {}
    for job in scheduler.get_jobs():
        times: list[pd.Timestamp] = []
        previous = None
        when = now
        for _ in range(n):
            fire = job.trigger.get_next_fire_time(previous, when)
            if fire is None:
                break
            times.append(pd.Timestamp(fire))
            previous, when = fire, fire + dt.timedelta(seconds=1)
        out[job.id] = times
    return out


def run_scheduler(db: Database, settings: Settings, symbols: Sequence[str] = ()) -> None:
    config = ScheduleConfig.from_env(settings)
    if symbols:
        config = ScheduleConfig(config.tz, config.daily, config.retrain_day,
                                config.retrain_time, tuple(symbols))
    PipelineScheduler(db, settings, config).start()

"""The ``worker`` process: run the daily pipeline and the weekly retrain on a cron.

``python -m core schedule`` starts an APScheduler ``BlockingScheduler`` in the exchange's
time zone: the daily run at ``SCHEDULE_DAILY`` (default 18:00) Monday to Friday, skipped on
exchange holidays (the ``exchange_calendars`` sessions decide), and the weekly retrain on
``SCHEDULE_RETRAIN_DAY`` (default mon) at ``SCHEDULE_RETRAIN_TIME`` (default 19:00). The
symbols are ``WATCHLIST`` or, if empty, every stored symbol.

Missed runs are caught up once, not once per missed slot: APScheduler's ``coalesce`` and
``misfire_grace_time`` cover a process that was suspended, and on start-up ``catch_up``
runs the daily job once if the last succeeded run is older than the last scheduled slot
(ingest is incremental and reconciliation starts from the previous run, so one run covers
every missed day); the same for the weekly retrain.

Two schedulers against one database never both run a job: the run's ``jobs`` row is the
lock (unique ``active_key``, see ``core.pipeline``), and a slot already done is skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from core.auth import SYSTEM, Actor
from core.db.base import utcnow
from core.db.engine import Database
from core.errors import JobConflict, ValidationFailed
from core.market.calendar import trading_calendar
from core.market.yahoo import YahooClient
from core.pipeline import (
    DAILY,
    WEEKLY,
    PipelineRun,
    default_symbols,
    exchange_tz,
    last_succeeded,
    run_daily,
    run_weekly_retrain,
)
from core.settings import Settings

logger = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MISFIRE_GRACE_SECONDS = 12 * 3600  # a run delayed up to 06:00 next day still runs


def _hhmm(name: str, raw: str) -> dt.time:
    try:
        hour, minute = (int(p) for p in raw.strip().split(":"))
        return dt.time(hour, minute)
    except ValueError:
        raise ValidationFailed(f"{name} must be HH:MM (e.g. 18:00), got {raw!r}") from None


@dataclass(frozen=True)
class ScheduleConfig:
    """When the jobs run, in the exchange's time zone."""

    tz: ZoneInfo
    daily: dt.time = dt.time(18, 0)
    retrain_day: str = "mon"
    retrain_time: dt.time = dt.time(19, 0)
    symbols: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, settings: Settings, env: Mapping[str, str] | None = None) -> ScheduleConfig:
        env = os.environ if env is None else env
        day = env.get("SCHEDULE_RETRAIN_DAY", "mon").strip().lower()[:3]
        if day not in DAYS:
            raise ValidationFailed(
                f"SCHEDULE_RETRAIN_DAY must be one of {', '.join(DAYS)}, "
                f"got {env.get('SCHEDULE_RETRAIN_DAY')!r}"
            )
        return cls(
            tz=exchange_tz(settings.exchange),
            daily=_hhmm("SCHEDULE_DAILY", env.get("SCHEDULE_DAILY", "18:00")),
            retrain_day=day,
            retrain_time=_hhmm("SCHEDULE_RETRAIN_TIME", env.get("SCHEDULE_RETRAIN_TIME", "19:00")),
            symbols=settings.watchlist,
        )


def last_daily_slot(
    config: ScheduleConfig, exchange: str, now: dt.datetime
) -> dt.datetime | None:
    """The latest scheduled daily time at or before ``now`` (trading days only)."""
    calendar = trading_calendar(exchange)
    day = now.astimezone(config.tz).date()
    for _ in range(30):
        session = calendar.previous_session(day).date()
        slot = dt.datetime.combine(session, config.daily, tzinfo=config.tz)
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

    def daily_tick(self, now: dt.datetime | None = None) -> PipelineRun | None:
        """Run the daily pipeline for the trading day whose slot just passed.

        The day is the latest scheduled slot's (not ``now``'s date), so a run delayed past
        midnight still processes the right session; a slot older than the misfire grace
        time means today is no trading day (a holiday): nothing runs (None).
        """
        now = now or self.clock()
        self._recover()
        slot = last_daily_slot(self.config, self.settings.exchange, now)
        if slot is None or (now - slot).total_seconds() > MISFIRE_GRACE_SECONDS:
            logger.info("daily run skipped: %s is not a trading day",
                        now.astimezone(self.config.tz).date())
            return None
        return self._daily(slot.date(), now)

    def _recover(self) -> None:
        """Release the lock of a run whose worker died (dead pid here, or no heartbeat)."""
        from core import jobs

        try:
            jobs.recover_orphans(self.db)
        except Exception:
            logger.exception("could not check for interrupted runs")

    def _daily(self, as_of: dt.date, now: dt.datetime) -> PipelineRun | None:
        names = self.symbols()
        if not names:
            logger.warning("daily run skipped: no symbols (set WATCHLIST or ingest some)")
            return None
        try:
            run = run_daily(self.db, self.settings, names, as_of=as_of, now=now,
                            client=self.client, actor=self.actor, once=True)
        except JobConflict as exc:
            logger.info("daily run for %s not started: %s", as_of, exc)
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
        slot = last_daily_slot(self.config, self.settings.exchange, now)
        done = last_succeeded(self.db, DAILY)
        if slot is not None and (done is None or done < slot.date()):
            logger.info("catching up the daily run for %s (last done: %s)", slot.date(), done)
            run = self._guarded(lambda: self._daily(slot.date(), now))
            ran += [run] if run else []
        weekly = last_weekly_slot(self.config, now)
        done = last_succeeded(self.db, WEEKLY)
        if done is not None and done < weekly.date():  # never run: wait for the first slot
            logger.info("catching up the weekly retrain of %s", weekly.date())
            run = self._guarded(lambda: self.weekly_tick(now))
            ran += [run] if run else []
        return ran

    @staticmethod
    def _guarded(call: Callable[[], PipelineRun | None]) -> PipelineRun | None:
        try:
            return call()
        except Exception:  # recorded on the job row and as an alert by the pipeline
            logger.exception("scheduled run failed")
            return None

    def build(self, scheduler: Any = None) -> Any:
        """Add both cron jobs to ``scheduler`` (default: a new ``BlockingScheduler``)."""
        from apscheduler.schedulers.blocking import BlockingScheduler
        from apscheduler.triggers.cron import CronTrigger

        scheduler = scheduler or BlockingScheduler(timezone=self.config.tz)
        common = {"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS,
                  "max_instances": 1, "replace_existing": True}
        scheduler.add_job(
            lambda: self._guarded(self.daily_tick), id=DAILY, name="daily pipeline",
            trigger=CronTrigger(day_of_week="mon-fri", hour=self.config.daily.hour,
                                minute=self.config.daily.minute, timezone=self.config.tz),
            **common,
        )  # fmt: skip
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

"""The worker's scheduler: catch-up once after downtime, holidays skipped, and two
scheduler instances against one database (SQLite and PostgreSQL) never both running."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import select

from core.db.engine import Database
from core.db.models import Job
from core.errors import ValidationFailed
from core.scheduler import (
    MISFIRE_GRACE_SECONDS,
    PipelineScheduler,
    ScheduleConfig,
    last_daily_slot,
    last_weekly_slot,
    next_runs,
)
from core.settings import Settings
from tests.integration.test_pipeline import (  # noqa: F401
    DAY1,
    DAY3,
    SYMBOLS,
    Yahoo,
    after_close,
    market_db,
    yahoo,
)
from tests.unit.test_market_fakes import FakeClient

NY = ZoneInfo("America/New_York")


def config(**kw: Any) -> ScheduleConfig:
    return ScheduleConfig(tz=NY, symbols=tuple(SYMBOLS), **kw)


def daily_jobs(db: Database) -> list[Job]:
    with db.read() as s:
        return list(s.scalars(select(Job).where(Job.kind == "daily").order_by(Job.id)))


def test_config_from_env_and_slots(settings: Settings) -> None:
    cfg = ScheduleConfig.from_env(settings, {"SCHEDULE_DAILY": "17:45",
                                             "SCHEDULE_RETRAIN_DAY": "Friday"})
    assert (cfg.daily, cfg.retrain_day, str(cfg.tz)) == (dt.time(17, 45), "fri",
                                                        "America/New_York")
    with pytest.raises(ValidationFailed, match="SCHEDULE_DAILY must be HH:MM"):
        ScheduleConfig.from_env(settings, {"SCHEDULE_DAILY": "6pm"})
    with pytest.raises(ValidationFailed, match="SCHEDULE_RETRAIN_DAY"):
        ScheduleConfig.from_env(settings, {"SCHEDULE_RETRAIN_DAY": "someday"})
    # Monday 2024-06-10 12:00 in New York: the last daily slot is Friday 18:00 ...
    monday_noon = dt.datetime(2024, 6, 10, 12, 0, tzinfo=NY)
    assert last_daily_slot(config(), "XNYS", monday_noon) == dt.datetime(
        2024, 6, 7, 18, 0, tzinfo=NY)
    # ... and after Juneteenth (a holiday) the slot before it is the 18th's.
    assert last_daily_slot(config(), "XNYS", dt.datetime(2024, 6, 19, 23, 0, tzinfo=NY)) == (
        dt.datetime(2024, 6, 18, 18, 0, tzinfo=NY))
    assert last_weekly_slot(config(), monday_noon) == dt.datetime(2024, 6, 3, 19, 0, tzinfo=NY)


def test_cron_jobs_coalesce_in_the_exchange_time_zone(db: Database, settings: Settings) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    built = PipelineScheduler(db, settings, config()).build(BackgroundScheduler(timezone=NY))
    jobs = {j.id: j for j in built.get_jobs()}
    assert set(jobs) == {"daily", "weekly"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS
    plan = next_runs(built, dt.datetime(2024, 6, 7, 19, 0, tzinfo=NY), n=3)
    assert [t.isoformat() for t in plan["daily"]] == [
        "2024-06-10T18:00:00-04:00", "2024-06-11T18:00:00-04:00", "2024-06-12T18:00:00-04:00"]
    assert [t.isoformat() for t in plan["weekly"]][:2] == [
        "2024-06-10T19:00:00-04:00", "2024-06-17T19:00:00-04:00"]


def test_holiday_tick_runs_nothing(
    market_db: Database, settings: Settings, yahoo: Yahoo  # noqa: F811
) -> None:
    scheduler = PipelineScheduler(market_db, settings, config(), client=FakeClient(yahoo))
    juneteenth = dt.datetime(2024, 6, 19, 18, 0, tzinfo=NY)
    assert scheduler.daily_tick(juneteenth) is None
    assert daily_jobs(market_db) == []


def test_catch_up_after_downtime_runs_once(
    market_db: Database, settings: Settings, yahoo: Yahoo  # noqa: F811
) -> None:
    client = FakeClient(yahoo)
    scheduler = PipelineScheduler(market_db, settings, config(), client=client)
    first = scheduler.daily_tick(dt.datetime(2024, 6, 5, 18, 0, tzinfo=NY))  # Wednesday
    assert first is not None and first.as_of == DAY1
    # The worker was down Thursday and Friday; it starts again on Monday at noon.
    yahoo.until = DAY3
    monday_noon = dt.datetime(2024, 6, 10, 12, 0, tzinfo=NY)
    ran = scheduler.catch_up(monday_noon)
    assert [(r.kind, r.as_of) for r in ran] == [("daily", DAY3)]  # one run, not two
    assert ran[0].failed_symbols == []
    assert ran[0].symbols["AAA"].steps["ingest"]["inserted"] == 2  # Thursday and Friday
    assert scheduler.catch_up(monday_noon + dt.timedelta(minutes=5)) == []  # a restart
    assert scheduler.daily_tick(monday_noon) is None  # Friday's slot is done; no new slot
    monday_evening = dt.datetime(2024, 6, 10, 18, 0, tzinfo=NY)
    monday = scheduler.daily_tick(monday_evening + dt.timedelta(hours=7, minutes=30))  # 01:30
    assert monday is not None and monday.as_of == dt.date(2024, 6, 10)
    assert [j.status for j in daily_jobs(market_db)] == ["succeeded"] * 3


def test_two_schedulers_against_one_database_run_a_slot_once(
    market_db: Database, settings: Settings, yahoo: Yahoo  # noqa: F811
) -> None:
    yahoo.until = DAY3
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(symbol: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        calls.append(symbol)
        entered.set()
        assert release.wait(30)
        return yahoo(symbol, start, end)

    other_db = Database.connect(market_db.url)  # a second worker process's own engine
    try:
        a = PipelineScheduler(market_db, settings, config(), client=FakeClient(slow))
        b = PipelineScheduler(other_db, settings, config(), client=FakeClient(yahoo))
        slot = dt.datetime(2024, 6, 7, 18, 0, tzinfo=NY)
        results: list[Any] = []
        worker = threading.Thread(target=lambda: results.append(a.daily_tick(slot)))
        worker.start()
        assert entered.wait(30)
        assert b.daily_tick(slot) is None  # A holds the lock: B does not start
        release.set()
        worker.join(60)
        assert results and results[0] is not None and results[0].as_of == DAY3
        assert b.daily_tick(slot + dt.timedelta(seconds=30)) is None  # B late: already done
        assert b.catch_up(slot + dt.timedelta(hours=1)) == []
    finally:
        release.set()
        other_db.dispose()
    assert [j.status for j in daily_jobs(market_db)] == ["succeeded"]
    assert sorted(calls) == SYMBOLS  # only A fetched


def test_start_up_recovers_a_run_left_by_a_killed_worker_then_catches_up(
    market_db: Database, settings: Settings, yahoo: Yahoo  # noqa: F811
) -> None:
    import socket
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with market_db.begin() as s:  # the worker was killed in the middle of a daily run
        s.add(Job(kind="daily", symbol=None, status="running", active_key="daily:*",
                  params={"as_of": "2024-06-06"}, created_by="system", pid=dead.pid,
                  host=socket.gethostname()))
    yahoo.until = DAY3
    scheduler = PipelineScheduler(market_db, settings, config(), client=FakeClient(yahoo))
    ran = scheduler.prepare(dt.datetime(2024, 6, 8, 9, 0, tzinfo=NY))  # Saturday morning
    assert [(r.kind, r.as_of) for r in ran] == [("daily", DAY3)]
    assert [j.status for j in daily_jobs(market_db)] == ["failed", "succeeded"]

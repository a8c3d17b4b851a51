"""The worker's scheduler: catch-up once after downtime, holidays skipped, and two
scheduler instances against one database (SQLite and PostgreSQL) never both running."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import select

from core.auth import SYSTEM
from core.db.engine import Database
from core.db.models import Job
from core.errors import ValidationFailed
from core.market.calendar import trading_calendar
from core.market.ingest import ingest_yahoo
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
    DAY2,
    DAY3,
    SYMBOLS,
    Yahoo,
    after_close,
    market_db,
    yahoo,
)
from tests.unit.test_market_fakes import FakeClient, history_frame

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
    # The DAG's exchanges: EXCHANGE, the WATCHLIST suffixes', then SCHEDULE_EXCHANGES.
    watching = dataclasses.replace(settings, watchlist=("MSFT", "VOD.L", "BHP.AX"))
    assert ScheduleConfig.from_env(watching, {"SCHEDULE_EXCHANGES": "xtks, XLON"}).exchanges == (
        "XNYS", "XLON", "XASX", "XTKS")
    with pytest.raises(ValidationFailed, match="unknown exchange 'NOPE'"):
        ScheduleConfig.from_env(settings, {"SCHEDULE_EXCHANGES": "nope"})
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
    assert scheduler.daily_tick(juneteenth) == []
    assert daily_jobs(market_db) == []


def test_catch_up_after_downtime_runs_once(
    market_db: Database, settings: Settings, yahoo: Yahoo  # noqa: F811
) -> None:
    client = FakeClient(yahoo)
    scheduler = PipelineScheduler(market_db, settings, config(), client=client)
    first = scheduler.daily_tick(dt.datetime(2024, 6, 5, 18, 0, tzinfo=NY))  # Wednesday
    assert [r.as_of for r in first] == [DAY1]
    # The worker was down Thursday and Friday; it starts again on Monday at noon.
    yahoo.until = DAY3
    monday_noon = dt.datetime(2024, 6, 10, 12, 0, tzinfo=NY)
    ran = scheduler.catch_up(monday_noon)
    assert [(r.kind, r.as_of) for r in ran] == [("daily", DAY3)]  # one run, not two
    assert ran[0].failed_symbols == []
    assert ran[0].symbols["AAA"].steps["ingest"]["inserted"] == 2  # Thursday and Friday
    assert scheduler.catch_up(monday_noon + dt.timedelta(minutes=5)) == []  # a restart
    assert scheduler.daily_tick(monday_noon) == []  # Friday's slot is done; no new slot
    monday_evening = dt.datetime(2024, 6, 10, 18, 0, tzinfo=NY)
    monday = scheduler.daily_tick(monday_evening + dt.timedelta(hours=7, minutes=30))  # 01:30
    assert [r.as_of for r in monday] == [dt.date(2024, 6, 10)]
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
        assert b.daily_tick(slot) == []  # A holds the lock: B does not start
        release.set()
        worker.join(60)
        assert results and [r.as_of for r in results[0]] == [DAY3]
        assert b.daily_tick(slot + dt.timedelta(seconds=30)) == []  # B late: already done
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


LONDON = ZoneInfo("Europe/London")


def test_each_exchange_runs_after_its_own_close(db: Database, settings: Settings) -> None:
    """A London symbol is processed after the London close for the London session, a New
    York one after the New York close; each exchange's "already done" is its own."""
    def frames(exchange: str, tz: str) -> pd.DataFrame:
        days = [str(d.date()) for d in
                trading_calendar(exchange).sessions("2024-01-01", "2024-06-07")]
        return history_frame(days, [100.0 + 0.1 * i for i in range(len(days))], tz=tz)

    served = {"AAA": frames("XNYS", "America/New_York"), "VOD.L": frames("XLON", "Europe/London")}
    until = {"day": DAY1}

    def serve(symbol: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        frame = served[symbol]
        keep = frame.index.tz_localize(None) <= pd.Timestamp(until["day"])
        if start is not None:
            keep &= frame.index.tz_localize(None) >= pd.Timestamp(start)
        return frame[keep]

    client = FakeClient(serve)
    assert ingest_yahoo(db, settings, ["AAA", "VOD.L"], client=client,
                        now=after_close(DAY1), actor=SYSTEM).ok
    cfg = ScheduleConfig(tz=NY, symbols=("AAA", "VOD.L"))
    scheduler = PipelineScheduler(db, settings, cfg, client=client)
    assert scheduler.exchanges() == {"XNYS": ["AAA"], "XLON": ["VOD.L"]}

    # Thursday 18:05 in London is 13:05 in New York: London has closed, New York has not.
    until["day"] = DAY2
    london_evening = dt.datetime(2024, 6, 6, 18, 5, tzinfo=LONDON)
    ran = scheduler.daily_tick(london_evening)
    assert [(r.exchange, r.as_of, list(r.symbols)) for r in ran] == [
        ("XLON", DAY2, ["VOD.L"])]
    assert ran[0].symbols["VOD.L"].steps["ingest"]["inserted"] == 1
    # 18:05 in New York: only New York's Thursday is due (London's is done).
    ran = scheduler.daily_tick(dt.datetime(2024, 6, 6, 18, 5, tzinfo=NY))
    assert [(r.exchange, r.as_of, list(r.symbols)) for r in ran] == [("XNYS", DAY2, ["AAA"])]
    assert scheduler.catch_up(dt.datetime(2024, 6, 6, 19, 0, tzinfo=NY)) == []
    with db.read() as s:
        params = [j.params for j in s.scalars(select(Job).where(Job.kind == "daily"))]
    assert [(p["exchange"], p["as_of"]) for p in params] == [
        ("XLON", "2024-06-06"), ("XNYS", "2024-06-06")]

    # The cron: one daily job per exchange, each at 18:00 in its own time zone.
    from apscheduler.schedulers.background import BackgroundScheduler

    built = scheduler.build(BackgroundScheduler(timezone=NY))
    plan = next_runs(built, dt.datetime(2024, 6, 7, 12, 0, tzinfo=NY), n=1)
    assert {k: [t.isoformat() for t in v] for k, v in plan.items() if k != "weekly"} == {
        "daily": ["2024-06-07T18:00:00-04:00"], "daily:XLON": ["2024-06-07T18:00:00+01:00"]}


def test_a_daily_time_before_the_close_waits_for_the_close(settings: Settings) -> None:
    early = ScheduleConfig(tz=NY, daily=dt.time(16, 0))
    # London closes at 16:30, so 16:00 London is before its close: the slot is the close.
    assert early.daily_slot("XLON", DAY2) == dt.datetime(2024, 6, 6, 16, 30, tzinfo=LONDON)
    assert early.daily_time("XLON") == dt.time(16, 30)
    assert early.daily_slot("XNYS", DAY2) == dt.datetime(2024, 6, 6, 16, 0, tzinfo=NY)
    # New York's early close on the day after Thanksgiving (13:00) is before 16:00 anyway.
    assert early.daily_slot("XNYS", dt.date(2024, 11, 29)) == dt.datetime(
        2024, 11, 29, 16, 0, tzinfo=NY)

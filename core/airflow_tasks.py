"""What the Airflow DAG's tasks call (``dags/stock_pipeline.py``): the same use cases as the
``worker`` process, with the DAG run's dates turned into the exchange's trading day.

Kept free of Airflow imports so it is tested in the project's own environment; the DAG
file imports this module inside its task callables only (Airflow parses DAG files in its
own environment, without our dependencies).

A DAG run scheduled by ``0 18 * * 1-5`` in America/New_York covers the interval that
ends at ``data_interval_end``; that end's date in the exchange's time zone is the day
whose close the run processes.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

from core.pipeline import (
    default_symbols,
    exchange_tz,
    is_trading_day,
    run_daily,
    run_weekly_retrain,
)
from core.scheduler import DAYS
from core.settings import Settings


def trading_day_of(interval_end: dt.datetime, settings: Settings | None = None) -> dt.date:
    settings = settings or Settings.from_env()
    return interval_end.astimezone(exchange_tz(settings.exchange)).date()


def should_run_daily(interval_end: dt.datetime) -> bool:
    """ShortCircuit: the day is an exchange session (holidays skip the whole run)."""
    settings = Settings.from_env()
    return is_trading_day(settings.exchange, trading_day_of(interval_end, settings))


def should_retrain(interval_end: dt.datetime, env: Mapping[str, str] | None = None) -> bool:
    """ShortCircuit: today is ``SCHEDULE_RETRAIN_DAY`` (default mon)."""
    env = os.environ if env is None else env
    day = env.get("SCHEDULE_RETRAIN_DAY", "mon").strip().lower()[:3]
    return DAYS[trading_day_of(interval_end).weekday()] == day


def update_data(interval_end: dt.datetime) -> dict[str, Any]:
    """Ingest, monitor, forecast and report for the trading day (``run_daily``)."""
    from core.context import open_context

    ctx = open_context()
    try:
        run = run_daily(ctx.db, ctx.settings, default_symbols(ctx.db, ctx.settings),
                        as_of=trading_day_of(interval_end, ctx.settings), once=True)
    finally:
        ctx.db.dispose()
    # A symbol's failure is recorded on the run and alerted (job_failed:daily); the task
    # still succeeds so the retrain downstream is not skipped for the other symbols.
    return {"as_of": run.as_of.isoformat(), "status": run.status, "failed": run.failed_symbols}


def retrain(interval_end: dt.datetime) -> dict[str, Any]:
    """The weekly retrain with gated promotion (``run_weekly_retrain``)."""
    from core.context import open_context

    ctx = open_context()
    try:
        run = run_weekly_retrain(ctx.db, ctx.settings, default_symbols(ctx.db, ctx.settings),
                                 as_of=trading_day_of(interval_end, ctx.settings), once=True)
    finally:
        ctx.db.dispose()
    if run.failed_symbols:
        raise RuntimeError(f"weekly retrain failed for {', '.join(run.failed_symbols)}")
    return {"as_of": run.as_of.isoformat(), "status": run.status}

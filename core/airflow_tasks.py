"""What the Airflow DAG's tasks call (``dags/stock_pipeline.py``): the same use cases as the
``worker`` process, with the DAG run's time turned into the exchange's trading day.

Two kinds of caller, two environments. The short-circuit tasks (``should_run_daily``,
``should_retrain``) run inside Airflow's own environment (.venv-airflow), so this module's
top-level imports are light: ``core.schedule`` (standard library plus, inside functions,
``exchange_calendars``) and ``core.settings``. ``update_data`` and ``retrain`` run in the
project's environment (the DAG's ``@task.external_python`` tasks) and import the pipeline
inside the function.

Every task gets the run's time as ``when``: the DAG run's trigger time (an ISO string from
Airflow's template, or a datetime), e.g. 18:00 in the exchange's time zone. Its date there
is the session whose close the run processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from core.schedule import ScheduleConfig, exchange_tz
from core.settings import Settings


def _instant(when: dt.datetime | str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(when) if isinstance(when, str) else when
    if moment.tzinfo is None:
        raise ValueError(f"the run's time must carry a time zone, got {when!r}")
    return moment


def trading_day_of(when: dt.datetime | str, exchange: str) -> dt.date:
    """The date of ``when`` in ``exchange``'s time zone."""
    return _instant(when).astimezone(exchange_tz(exchange)).date()


def should_run_daily(
    when: dt.datetime | str, exchange: str | None = None, env: Mapping[str, str] | None = None
) -> bool:
    """ShortCircuit: the day is a session of ``exchange`` (default ``EXCHANGE``);
    holidays skip the whole run."""
    from core.market.calendar import trading_calendar

    exchange = exchange or Settings.from_env(env).exchange
    return trading_calendar(exchange).is_session(trading_day_of(when, exchange))


def should_retrain(when: dt.datetime | str, env: Mapping[str, str] | None = None) -> bool:
    """ShortCircuit: today is ``SCHEDULE_RETRAIN_DAY`` (validated by ``ScheduleConfig``)."""
    settings = Settings.from_env(env)
    config = ScheduleConfig.from_env(settings, env)
    return config.is_retrain_day(trading_day_of(when, settings.exchange))


def update_data(when: dt.datetime | str, exchange: str | None = None) -> dict[str, Any]:
    """Ingest, monitor, forecast and report (``run_daily``) for ``exchange``'s symbols.

    The ``EXCHANGE`` default's DAG also runs the symbols of exchanges that have no DAG of
    their own (``ScheduleConfig.exchanges``), each for its own last closed session.
    Returns, per exchange, the day, the run's status and the symbols that failed.
    """
    from core.context import open_context
    from core.market.listing import symbols_by_exchange
    from core.pipeline import default_symbols, last_closed_session, run_daily

    moment = _instant(when)
    ctx = open_context()
    settings = ctx.settings
    exchange = exchange or settings.exchange
    config = ScheduleConfig.from_env(settings)
    out: dict[str, Any] = {}
    try:
        groups = symbols_by_exchange(ctx.db, default_symbols(ctx.db, settings), settings.exchange)
        mine = {exchange: groups.get(exchange, [])}
        if exchange == settings.exchange:
            mine |= {ex: names for ex, names in groups.items() if ex not in config.exchanges}
        for ex, names in mine.items():
            if not names:
                continue
            as_of = (trading_day_of(moment, ex) if ex == exchange
                     else last_closed_session(ex, moment))  # fmt: skip
            run = run_daily(ctx.db, settings, names, as_of=as_of, once=True, exchange=ex)
            # A symbol's failure is recorded on the run and alerted (job_failed:daily); the
            # task still succeeds so the retrain downstream runs for the other symbols.
            out[ex] = {"as_of": run.as_of.isoformat(), "status": run.status,
                       "symbols": names, "failed": run.failed_symbols}
    finally:
        ctx.db.dispose()
    return out


def retrain(when: dt.datetime | str) -> dict[str, Any]:
    """The weekly retrain with gated promotion (``run_weekly_retrain``)."""
    from core.context import open_context
    from core.pipeline import default_symbols, run_weekly_retrain

    ctx = open_context()
    try:
        run = run_weekly_retrain(ctx.db, ctx.settings, default_symbols(ctx.db, ctx.settings),
                                 as_of=trading_day_of(when, ctx.settings.exchange), once=True)
    finally:
        ctx.db.dispose()
    if run.failed_symbols:
        raise RuntimeError(f"weekly retrain failed for {', '.join(run.failed_symbols)}")
    return {"as_of": run.as_of.isoformat(), "status": run.status}

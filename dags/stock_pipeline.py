"""Airflow 3 DAGs: the daily pipeline after each exchange's close and the weekly retrain.

The batch alternative to the ``worker`` process (``python -m core schedule``); both call
the same use cases (``core.pipeline`` through ``core.airflow_tasks``) and share its
database lock, so running both against one database still runs each day once.

One DAG per exchange of the configuration (``core.schedule.ScheduleConfig.exchanges``:
``EXCHANGE``, the ``WATCHLIST`` suffixes' exchanges, ``SCHEDULE_EXCHANGES``), each on a
``CronTriggerTimetable`` at ``SCHEDULE_DAILY`` (default 18:00, never before the close) in
that exchange's time zone, Monday to Friday; its holidays are skipped by the first task.
``stock_pipeline`` is the ``EXCHANGE`` default's, and also carries the weekly retrain and
the symbols of exchanges without a DAG of their own; ``stock_pipeline_xlon`` ... the others:

    is_trading_day >> update_data >> is_retrain_day >> retrain   (stock_pipeline)
    is_trading_day >> update_data                                (stock_pipeline_<exchange>)

Airflow's dependency pins clash with ours, so Airflow runs in its own environment
(.venv-airflow, which also has ``exchange_calendars`` for the time zones and sessions).
The short circuits run there (``core.airflow_tasks`` keeps its imports light); the work runs
in the project's interpreter (``@task.external_python``: ``STOCKCAST_PYTHON``, default the
project's ``.venv/bin/python``), which has every dependency of the use cases.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, dag, task

PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
if PROJECT_ROOT not in sys.path:  # a scheduler started from anywhere finds ``core``
    sys.path.insert(0, PROJECT_ROOT)

from core.airflow_tasks import should_retrain, should_run_daily  # noqa: E402
from core.schedule import ScheduleConfig, exchange_tz  # noqa: E402
from core.settings import Settings  # noqa: E402

SETTINGS = Settings.from_env()
CONFIG = ScheduleConfig.from_env(SETTINGS)
PROJECT_PYTHON = os.environ.get("STOCKCAST_PYTHON") or f"{PROJECT_ROOT}/.venv/bin/python"
# The run's trigger time (a manual run without a data interval: when it was asked for).
WHEN = "{{ (data_interval_end or dag_run.run_after).isoformat() }}"


@task.short_circuit
def is_trading_day(when: str, exchange: str) -> bool:
    return should_run_daily(when, exchange)


@task.short_circuit
def is_retrain_day(when: str) -> bool:
    return should_retrain(when)


@task.external_python(python=PROJECT_PYTHON, expect_airflow=False,
                      execution_timeout=timedelta(hours=2))
def update_data(when: str, exchange: str, root: str) -> dict[str, Any]:
    import sys

    sys.path.insert(0, root)
    from core.airflow_tasks import update_data as run

    return run(when, exchange)


@task.external_python(python=PROJECT_PYTHON, expect_airflow=False,
                      execution_timeout=timedelta(hours=6))
def retrain(when: str, root: str) -> dict[str, Any]:
    import sys

    sys.path.insert(0, root)
    from core.airflow_tasks import retrain as run

    return run(when)


def build(exchange: str) -> DAG:
    """The DAG of ``exchange``: its daily run after its close, in its time zone."""
    default = exchange == SETTINGS.exchange
    at, tz = CONFIG.daily_time(exchange), str(exchange_tz(exchange))

    @dag(
        dag_id="stock_pipeline" if default else f"stock_pipeline_{exchange.lower()}",
        description=f"Ingest, monitor and forecast after the {exchange} close"
        + ("; weekly gated retrain" if default else ""),
        schedule=CronTriggerTimetable(f"{at.minute} {at.hour} * * 1-5", timezone=tz),
        start_date=pendulum.datetime(2000, 1, 1, tz=tz),  # replays of old sessions run too
        catchup=False,  # a missed day is caught up by the next run (ingest is incremental)
        max_active_runs=1,
        default_args={"owner": "forecasting", "retries": 1,
                      "retry_delay": timedelta(minutes=10)},
        tags=["stocks", "forecast", exchange],
    )  # fmt: skip
    def pipeline() -> None:
        daily = is_trading_day(WHEN, exchange) >> update_data(WHEN, exchange, PROJECT_ROOT)
        if default:
            daily >> is_retrain_day(WHEN) >> retrain(WHEN, PROJECT_ROOT)

    return pipeline()


for _exchange in CONFIG.exchanges:
    _dag = build(_exchange)
    globals()[_dag.dag_id] = _dag

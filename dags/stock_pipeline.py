"""Airflow DAG: the daily pipeline after the close and, on the retrain day, the weekly retrain.

The batch alternative to the ``worker`` process (``python -m core schedule``); both call
the same use cases (``core.pipeline``) and share its database lock, so running both
against one database still runs each day once. Schedule: 18:00 America/New_York, Monday
to Friday; exchange holidays are skipped by the first task.

    is_trading_day >> update_data >> is_retrain_day >> retrain

The project's modules are imported inside the task callables only: Airflow parses this
file in its own environment (.venv-airflow) where our dependencies are not installed.
The project root goes on ``sys.path`` so a worker started from anywhere finds ``core``.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator, ShortCircuitOperator

PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
if PROJECT_ROOT not in sys.path:
    sys.path.insert(0, PROJECT_ROOT)

TZ = "America/New_York"


def _is_trading_day(data_interval_end: Any, **_: Any) -> bool:
    from core.airflow_tasks import should_run_daily

    return should_run_daily(data_interval_end)


def _update_data(data_interval_end: Any, **_: Any) -> dict[str, Any]:
    from core.airflow_tasks import update_data

    return update_data(data_interval_end)


def _is_retrain_day(data_interval_end: Any, **_: Any) -> bool:
    from core.airflow_tasks import should_retrain

    return should_retrain(data_interval_end)


def _retrain(data_interval_end: Any, **_: Any) -> dict[str, Any]:
    from core.airflow_tasks import retrain

    return retrain(data_interval_end)


with DAG(
    dag_id="stock_pipeline",
    description="Ingest, monitor and forecast after the close; weekly gated retrain",
    schedule="0 18 * * 1-5",
    start_date=pendulum.datetime(2024, 1, 1, tz=TZ),
    catchup=False,  # a missed day is caught up by the next run (ingest is incremental)
    max_active_runs=1,
    default_args={"owner": "forecasting", "retries": 1, "retry_delay": timedelta(minutes=10)},
    tags=["stocks", "forecast"],
) as dag:
    is_trading_day = ShortCircuitOperator(task_id="is_trading_day",
                                          python_callable=_is_trading_day)
    update_data = PythonOperator(task_id="update_data", python_callable=_update_data,
                                 execution_timeout=timedelta(hours=2))
    is_retrain_day = ShortCircuitOperator(task_id="is_retrain_day",
                                          python_callable=_is_retrain_day)
    retrain = PythonOperator(task_id="retrain", python_callable=_retrain,
                             execution_timeout=timedelta(hours=6))
    is_trading_day >> update_data >> is_retrain_day >> retrain

"""The Airflow 3 DAGs in Airflow's own environment (.venv-airflow): DagBag, the schedule's
time zone, and one daily run end to end with ``dag.test()`` over the bundled data.

Airflow's dependency pins clash with ours, so it lives in a separate venv (created by
scripts/test.sh) and the checks run there as subprocesses; the DAG's work runs in the
project's interpreter (``@task.external_python``). Outside CI a missing venv skips with
the reason; in CI (``CI`` set) it fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from core import airflow_tasks
from core.auth import SYSTEM
from core.context import open_context
from core.db.models import Alert, Job
from core.errors import ValidationFailed
from core.forecast import service
from core.forecast.service import FitRequest
from core.market.ingest import ingest_sample
from core.schedule import exchange_tz
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = ROOT / ".venv-airflow" / "bin"
OFFLINE = Path(__file__).resolve().parent / "airflow_offline"  # sitecustomize: fake Yahoo

SHAPE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "timetable": type(dag.timetable).__name__,
        "cron": dag.timetable.expression,
        "timezone": str(dag.timetable.timezone),
        "catchup": dag.catchup,
        "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
    }
print(json.dumps(out))
"""

RUN = r"""
import json, sys
import pendulum
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
when = pendulum.parse(sys.argv[2])
run = bag.dags["stock_pipeline"].test(logical_date=when)
tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
print(json.dumps({"state": str(run.state), "tasks": tasks}))
"""


def airflow_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    if not (ROOT / ".venv-airflow" / ".complete").exists() or not (AIRFLOW_BIN / "python").exists():
        reason = ".venv-airflow is missing: scripts/test.sh creates it (pip install apache-airflow)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        **extra,
    }


def run_airflow(args: list[str], env: dict[str, str], cwd: Path, timeout: int) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)  # fmt: skip
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout.strip().splitlines()[-1]


def test_one_dag_per_exchange_in_that_exchanges_time_zone(tmp_path: Path) -> None:
    # London is the configured default exchange; New York is listed as a second one.
    env = airflow_env(tmp_path, EXCHANGE="XLON", SCHEDULE_EXCHANGES="XNYS",
                      SCHEDULE_DAILY="17:30")  # fmt: skip
    result = json.loads(run_airflow([str(AIRFLOW_BIN / "python"), "-c", SHAPE,
                                     str(ROOT / "dags")], env, tmp_path, 300))  # fmt: skip
    assert result["errors"] == {}
    assert set(result["dags"]) == {"stock_pipeline", "stock_pipeline_xnys"}
    london, new_york = result["dags"]["stock_pipeline"], result["dags"]["stock_pipeline_xnys"]
    assert london["timezone"] == str(exchange_tz("XLON")) == "Europe/London"
    assert new_york["timezone"] == str(exchange_tz("XNYS")) == "America/New_York"
    assert london["timetable"] == new_york["timetable"] == "CronTriggerTimetable"
    assert london["cron"] == new_york["cron"] == "30 17 * * 1-5"
    assert london["catchup"] is False
    assert london["tasks"] == {
        "is_trading_day": ["update_data"],
        "update_data": ["is_retrain_day"],
        "is_retrain_day": ["retrain"],
        "retrain": [],
    }
    assert new_york["tasks"] == {"is_trading_day": ["update_data"], "update_data": []}


def test_dag_test_runs_one_daily_run_and_records_the_failing_symbol(tmp_path: Path) -> None:
    project = {
        "DATA_DIR": str(tmp_path / "data"),
        "MODEL_DIR": str(tmp_path / "models"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'market.db'}",
        "WATCHLIST": "MSFT,IBM",
    }
    # The project's interpreter, with Yahoo offline: MSFT "downloads" its bundled bars,
    # IBM's download fails as on a dead network.
    python = tmp_path / "project-python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{OFFLINE}:{ROOT}" exec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    env = airflow_env(tmp_path, **project, STOCKCAST_PYTHON=str(python),
                      STOCKCAST_OFFLINE_YAHOO="MSFT")  # fmt: skip

    ctx = open_context(Settings.from_env(project))
    try:  # the bundled sample of both, and a cheap champion for MSFT
        assert ingest_sample(ctx.db, actor=SYSTEM, symbols=("MSFT", "IBM")).ok
        request = FitRequest(symbol="MSFT", kind="drift", folds=3, horizon=5)
        fit = service.fit_model(ctx.db, ctx.settings, request)
        service.save_model(ctx.db, ctx.settings, fit, SYSTEM)
    finally:
        ctx.db.dispose()

    run_airflow([str(AIRFLOW_BIN / "airflow"), "db", "migrate"], env, tmp_path, 600)
    # Friday 2017-11-10, MSFT's last bundled session, 18:00 in New York (no retrain).
    result = json.loads(run_airflow([str(AIRFLOW_BIN / "python"), "-c", RUN, str(ROOT / "dags"),
                                     "2017-11-10T18:00:00-05:00"], env, tmp_path, 900))
    assert result == {"state": "success", "tasks": {
        "is_trading_day": "success", "update_data": "success",
        "is_retrain_day": "success", "retrain": "skipped"}}  # fmt: skip

    ctx = open_context(Settings.from_env(project))
    try:
        with ctx.db.read() as s:
            jobs = list(s.scalars(select(Job).where(Job.kind == "daily")))
            alerts = list(s.scalars(select(Alert).where(Alert.status == "open")))
    finally:
        ctx.db.dispose()
    assert [(j.status, j.params["as_of"], j.params["exchange"]) for j in jobs] == [
        ("succeeded", "2017-11-10", "XNYS")]
    outcome = jobs[0].result["symbols"]
    assert jobs[0].result["failed"] == ["IBM"]
    assert outcome["IBM"]["status"] == "failed" and "Yahoo" in outcome["IBM"]["error"]
    assert outcome["MSFT"]["status"] == "ok"
    assert len(outcome["MSFT"]["steps"]["forecast"]["steps"]) == 5
    assert ("IBM", "job_failed:daily") in {(a.symbol, a.rule) for a in alerts}


def test_task_callables_pick_the_trading_day_and_retrain_day() -> None:
    # A run at Monday 2024-06-10 18:00 in New York (22:00 UTC).
    monday = dt.datetime(2024, 6, 10, 22, 0, tzinfo=dt.UTC)
    assert airflow_tasks.trading_day_of(monday, "XNYS") == dt.date(2024, 6, 10)
    assert airflow_tasks.trading_day_of("2024-06-10T23:30:00+00:00", "XTKS") == dt.date(
        2024, 6, 11)
    assert airflow_tasks.should_run_daily(monday, "XNYS")
    assert not airflow_tasks.should_run_daily(dt.datetime(2024, 6, 19, 22, 0, tzinfo=dt.UTC),
                                              "XNYS")  # Juneteenth
    # The UK summer bank holiday: London is shut, New York is open.
    bank_holiday = "2024-08-26T17:00:00+01:00"
    assert not airflow_tasks.should_run_daily(bank_holiday, "XLON")
    assert airflow_tasks.should_run_daily(bank_holiday, "XNYS")
    assert airflow_tasks.should_retrain(monday, {})
    assert not airflow_tasks.should_retrain(monday, {"SCHEDULE_RETRAIN_DAY": "fri"})
    assert not airflow_tasks.should_retrain(monday + dt.timedelta(days=1), {})
    with pytest.raises(ValidationFailed, match="SCHEDULE_RETRAIN_DAY"):
        airflow_tasks.should_retrain(monday, {"SCHEDULE_RETRAIN_DAY": "someday"})

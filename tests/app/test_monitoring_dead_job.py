"""Monitoring shows a retrain whose worker died (lease expired) as failed at once, before any
front door has reclaimed it, by the core's one rule (``jobs.dead_reason``)."""

from __future__ import annotations

import datetime as dt

from core import jobs
from core.auth import SYSTEM
from core.context import AppContext
from core.db.base import utcnow
from core.db.models import Job
from dashboard import keys
from tests.app.conftest import assert_clean, run_page


def _running_retrain(ctx: AppContext, *, lease_left: dt.timedelta) -> int:
    """A retrain 'running' on another host (no pid to check here), last heartbeat 90 s ago."""
    job = jobs.submit(ctx.db, kind="retrain", symbol="MSFT", params={}, actor=SYSTEM)
    now = utcnow()
    with ctx.db.begin() as session:
        row = session.get(Job, job.id)
        assert row is not None
        row.status, row.host, row.pid, row.message = "running", "elsewhere", 4242, "fitting"
        row.started_at = row.heartbeat_at = now - dt.timedelta(seconds=90)
        row.lease_expires_at = now + lease_left
    return job.id


def test_a_job_whose_lease_expired_is_shown_failed_before_it_is_reclaimed(
    sample_app: AppContext,
) -> None:
    at = run_page("monitoring.py")  # the dashboard has started (its start-up recovery ran)
    job_id = _running_retrain(sample_app, lease_left=-dt.timedelta(seconds=30))
    at.run()
    assert_clean(at)
    errors = [e.value for e in at.error]
    assert any(f"Retrain job #{job_id} · failed (worker dead)" in e
               and "no heartbeat since" in e and "lease expired" in e for e in errors), errors
    assert not at.get("progress")  # not shown as still running
    assert not at.button(key=keys.MON_RETRAIN).disabled  # Retrain takes the dead job's lock
    assert jobs.get(sample_app.db, job_id).status == "running"  # shown, not yet reclaimed


def test_a_live_job_is_still_shown_running(sample_app: AppContext) -> None:
    at = run_page("monitoring.py")
    job_id = _running_retrain(sample_app, lease_left=dt.timedelta(seconds=30))
    at.run()
    assert_clean(at)
    assert not any(f"#{job_id}" in e.value for e in at.error)
    assert at.button(key=keys.MON_RETRAIN).disabled

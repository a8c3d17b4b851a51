from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

import pytest

from core import jobs
from core.auth import VIEWER, Actor
from core.db.engine import Database
from core.db.models import Job
from core.errors import FitFailed, JobConflict, PermissionDenied, ValidationFailed

ANA = Actor("ana", "analyst")
BO = Actor("bo", "analyst")


def test_second_active_job_for_same_symbol_is_refused(db: Database) -> None:
    first = jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=ANA)
    with pytest.raises(JobConflict, match=f"job {first.id}, started by ana"):
        jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=BO)
    # another symbol, or another kind, is independent
    jobs.submit(db, kind="retrain", symbol="AAPL", params={}, actor=BO)
    jobs.submit(db, kind="backtest", symbol="MSFT", params={}, actor=BO)


def test_viewer_cannot_submit(db: Database) -> None:
    with pytest.raises(PermissionDenied):
        jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=VIEWER)


def test_unknown_kind_is_refused(db: Database) -> None:
    with pytest.raises(ValidationFailed, match="valid kinds"):
        jobs.submit(db, kind="mine-bitcoin", symbol=None, params={}, actor=ANA)


def test_run_records_progress_and_result_and_frees_the_lock(db: Database) -> None:
    seen: list[str] = []

    def handler(db: Database, job: Job, progress: jobs.Progress) -> dict[str, Any]:
        progress(0.5, "half way")
        seen.append(jobs.get(db, job.id).message or "")
        return {"answer": 42}

    job = jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=ANA)
    done = jobs.run(db, job.id, {"retrain": handler})
    assert (done.status, done.result, done.progress, done.active_key) == (
        "succeeded", {"answer": 42}, 1.0, None)
    assert seen == ["half way"]
    jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=ANA)  # lock released


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(FitFailed("order (9,9,9) did not converge"), "order (9,9,9) did not converge",
                     id="core-error"),
        pytest.param(ZeroDivisionError("boom"), "unexpected error: ZeroDivisionError: boom",
                     id="unexpected"),
    ],
)
def test_failures_are_recorded_not_raised(db: Database, exc: Exception, expected: str) -> None:
    def handler(db: Database, job: Job, progress: jobs.Progress) -> dict[str, Any]:
        raise exc

    job = jobs.submit(db, kind="fit", symbol="MSFT", params={}, actor=ANA)
    done = jobs.run(db, job.id, {"fit": handler})
    assert (done.status, done.error, done.active_key) == ("failed", expected, None)


def test_cancelled_job_stops_at_next_progress_report(db: Database) -> None:
    def handler(db: Database, job: Job, progress: jobs.Progress) -> dict[str, Any]:
        jobs.cancel(db, job.id, ANA)
        progress(0.9, "should not get here")
        return {"finished": True}

    job = jobs.submit(db, kind="fit", symbol="MSFT", params={}, actor=ANA)
    done = jobs.run(db, job.id, {"fit": handler})
    assert done.status == "cancelled" and done.result is None


def test_job_left_running_by_a_dead_process_is_failed_on_start_up(db: Database) -> None:
    job = jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=ANA)
    dead_pid = 2**22 + 12345  # above pid_max defaults: never a live process
    with db.begin() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.status, row.pid, row.host = "running", dead_pid, socket.gethostname()
        row.heartbeat_at = dt.datetime.now(dt.UTC)
    alive = jobs.submit(db, kind="retrain", symbol="AAPL", params={}, actor=ANA)
    with db.begin() as s:
        row = s.get(Job, alive.id)
        assert row is not None
        row.status, row.pid, row.host = "running", os.getpid(), socket.gethostname()
        row.heartbeat_at = dt.datetime.now(dt.UTC)
    assert jobs.recover_orphans(db) == 1
    failed = jobs.get(db, job.id)
    assert failed.status == "failed" and "interrupted" in (failed.error or "")
    assert jobs.get(db, alive.id).status == "running"
    jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=ANA)  # lock released


def test_two_concurrent_retrain_requests_exactly_one_wins(db: Database) -> None:
    import threading

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def request(actor: Actor) -> None:
        barrier.wait()
        try:
            job = jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=actor)
        except JobConflict as exc:
            outcomes.append(f"refused: {exc}")
        else:
            outcomes.append(f"queued {job.id}")

    threads = [threading.Thread(target=request, args=(a,)) for a in (ANA, BO)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split(" ")[0] for o in outcomes) == ["queued", "refused:"]
    refused = next(o for o in outcomes if o.startswith("refused"))
    assert "already queued or running" in refused

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core import jobs
from core.auth import SYSTEM, VIEWER, Actor
from core.db.engine import Database
from core.db.models import Job
from core.errors import FitFailed, JobConflict, PermissionDenied, ValidationFailed
from core.settings import Settings

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


def _wait_for(check: Any, what: str, *, tries: int = 600, pause: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy (no wall-clock assertion)."""
    for _ in range(tries):
        value = check()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"gave up waiting for {what}")


def _lease_expired(db: Database, job_id: int) -> bool:
    job = jobs.get(db, job_id)
    lease = job.lease_expires_at
    if lease is not None and lease.tzinfo is None:
        lease = lease.replace(tzinfo=dt.UTC)
    return lease is not None and lease < dt.datetime.now(dt.UTC)


def test_a_killed_worker_is_reclaimed_after_its_lease_and_the_next_retrain_runs(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 of ``python -m core jobs run ID`` (a real process) leaves the job running;
    once its lease expires the next submit records it failed and takes the lock."""
    from core.forecast.service import FitRequest, fit_model, save_model
    from core.handlers import HANDLERS
    from core.market.ingest import ingest_sample

    ingest_sample(db, actor=SYSTEM)
    request = FitRequest(symbol="MSFT", kind="drift", options={}, start=dt.date(2016, 1, 1),
                         end=dt.date(2017, 10, 31), folds=2, horizon=5)
    champion = save_model(db, settings, fit_model(db, settings, request), SYSTEM)
    monkeypatch.setenv(jobs.LEASE_ENV, "2")
    env = {**os.environ, "DATABASE_URL": db.url, "MODEL_DIR": str(settings.model_dir),
           "DATA_DIR": str(tmp_path / "data"), jobs.LEASE_ENV: "2"}
    job = jobs.submit(db, kind="retrain", symbol="MSFT", params={"force": True}, actor=ANA)
    worker = subprocess.Popen([sys.executable, "-m", "core", "jobs", "run", str(job.id)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: jobs.get(db, job.id).status == "running", "the worker to start")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert jobs.get(db, job.id).status == "running"  # nothing could record its death
    with db.begin() as s:  # as if it ran on another machine: only the lease can tell
        row = s.get(Job, job.id)
        assert row is not None
        row.host = "another-machine"
    _wait_for(lambda: _lease_expired(db, job.id), "the lease to expire")
    nxt = jobs.submit(db, kind="retrain", symbol="MSFT", params={"force": True}, actor=BO)
    dead = jobs.get(db, job.id)
    assert (dead.status, dead.active_key) == ("failed", None)
    assert (dead.error or "").startswith("worker died: no heartbeat since ")
    done = jobs.run(db, nxt.id, HANDLERS)
    assert done.status == "succeeded", done.error
    assert done.result is not None and done.result["champion_id"] == champion.id
    assert done.result["challenger_id"] is not None


def test_a_running_job_renews_its_lease_while_it_works(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(jobs.LEASE_ENV, "0.3")  # heartbeat every 0.1 s
    leases: list[dt.datetime] = []

    def quiet(db: Database, job: Job, progress: jobs.Progress) -> dict[str, Any]:
        first = jobs.get(db, job.id).lease_expires_at
        assert first is not None
        leases.append(first)
        # a long fit that reports no progress: only the heartbeat thread renews the lease
        leases.append(_wait_for(
            lambda: (lease := jobs.get(db, job.id).lease_expires_at) != first and lease,
            "a heartbeat"))
        return {}

    job = jobs.submit(db, kind="fit", symbol="MSFT", params={}, actor=ANA)
    assert jobs.run(db, job.id, {"fit": quiet}).status == "succeeded"
    assert leases[1] > leases[0]


def test_a_job_left_queued_by_a_dead_launcher_is_reclaimed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=ANA)
    with pytest.raises(JobConflict, match="already queued or running"):
        jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=BO)
    monkeypatch.setenv(jobs.QUEUE_TIMEOUT_ENV, "60")
    with db.begin() as s:
        row = s.get(Job, stuck.id)
        assert row is not None
        row.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    again = jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=BO)
    assert again.id != stuck.id
    old = jobs.get(db, stuck.id)
    assert old.status == "failed" and (old.error or "").startswith("never started: queued since")


def test_cli_cancels_a_job_and_frees_its_lock(
    db: Database, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.cli import main

    job = jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=ANA)
    monkeypatch.setenv("DATABASE_URL", db.url)
    assert main(["jobs", "cancel", str(job.id)]) == 0
    assert f"job {job.id} cancelled" in capsys.readouterr().out
    assert jobs.get(db, job.id).status == "cancelled"
    jobs.submit(db, kind="retrain", symbol="MSFT", params={}, actor=BO)

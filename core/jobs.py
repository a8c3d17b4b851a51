"""Background jobs kept in the database, run in their own process.

A page (or the CLI) submits a job row and a worker process (``python -m core jobs run ID``)
executes it, writing progress as it goes; the page polls the row. Because the job lives
in the database it survives reruns, page changes and browser reloads. A unique
``active_key`` makes "one active job per (kind, symbol)" a database guarantee.

A running job holds a lease (``lease_expires_at``) that a heartbeat thread in its worker
renews every third of ``JOB_LEASE_SECONDS`` (default 60). A worker killed with kill -9
stops renewing; the next ``submit`` of the same kind and symbol (from any front door: CLI,
dashboard, API, scheduler, Airflow) finds the expired lease, records the job failed
("worker died: no heartbeat since ...") and takes the lock. A job still ``queued`` after
``JOB_QUEUE_TIMEOUT_SECONDS`` (default 120; its launcher died before it started) is
reclaimed the same way.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.auth import Actor, require_analyst
from core.db.base import utcnow
from core.db.engine import Database
from core.db.models import Job
from core.errors import CoreError, JobConflict, ModelNotFound, ValidationFailed

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")
KINDS = ("retrain", "fit", "backtest", "ingest", "replay", "demo", "daily", "weekly")

Progress = Callable[[float, str], None]
Handler = Callable[[Database, Job, Progress], dict[str, Any]]


LEASE_ENV = "JOB_LEASE_SECONDS"
QUEUE_TIMEOUT_ENV = "JOB_QUEUE_TIMEOUT_SECONDS"


def _seconds_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(f"{name}={raw!r} is not a number of seconds, e.g. 60") from None
    if value <= 0:
        raise ValidationFailed(f"{name} must be more than 0 seconds, got {raw}")
    return value


def lease_seconds() -> float:
    """How long a running job's worker may go without a heartbeat before it counts as dead."""
    return _seconds_env(LEASE_ENV, 60.0)


def queue_timeout_seconds() -> float:
    """How long a job may stay queued (never started by a worker) before it is reclaimed."""
    return _seconds_env(QUEUE_TIMEOUT_ENV, 120.0)


def _active_key(kind: str, symbol: str | None) -> str:
    return f"{kind}:{symbol or '*'}"


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC
    return value


def dead_reason(job: Job, now: dt.datetime | None = None) -> str | None:
    """Why an active job has no live worker (None: it may still be alive).

    The one rule every front door uses: ``reclaim`` records such a job failed, and the
    Monitoring page shows it as dead before anyone has reclaimed it."""
    now = now or utcnow()
    if job.status == "running":
        lease = _aware(job.lease_expires_at)
        beat = _aware(job.heartbeat_at) or _aware(job.started_at)
        if job.host == socket.gethostname() and job.pid and not _pid_alive(job.pid):
            lease = now - dt.timedelta(microseconds=1)  # its process is gone: no need to wait
        if lease is None and beat is not None:
            lease = beat + dt.timedelta(seconds=lease_seconds())
        if lease is not None and now > lease:
            since = f"{beat:%Y-%m-%d %H:%M:%S} UTC" if beat is not None else "it started"
            return (f"worker died: no heartbeat since {since}, lease expired "
                    f"(pid {job.pid} on {job.host})")
        return None
    if job.status == "queued":
        created = _aware(job.created_at)
        if created is not None and now - created > dt.timedelta(seconds=queue_timeout_seconds()):
            return (f"never started: queued since {created:%Y-%m-%d %H:%M:%S} UTC and no worker "
                    "picked it up (its launcher died)")
    return None


def reclaim(db: Database, key: str) -> Job | None:
    """If the active job holding ``key`` has no live worker (expired lease, or queued past
    the queue timeout), record it failed and free its lock. Returns the reclaimed job."""
    now = utcnow()
    with db.begin() as session:
        query = select(Job).where(Job.active_key == key)
        if db.dialect == "postgresql":
            query = query.with_for_update()
        job = session.scalars(query).first()
        if job is None:
            return None
        reason = dead_reason(job, now)
        if reason is None:
            return None
        job.status, job.active_key, job.finished_at = "failed", None, now
        job.error, job.message = f"{reason}; the champion is unchanged", "worker died"
        return job


def submit(
    db: Database,
    *,
    kind: str,
    symbol: str | None,
    params: dict[str, Any] | None,
    actor: Actor,
) -> Job:
    """Queue a job; refuse a second active job of the same kind for the same symbol,
    unless that one's worker died (``reclaim``): then it is recorded failed and this one
    takes the lock."""
    if kind not in KINDS:
        raise ValidationFailed(f"unknown job kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    require_analyst(actor, f"start a {kind} job")
    key = _active_key(kind, symbol)
    for attempt in range(2):
        try:
            with db.sessions.begin() as session:
                job = Job(
                    kind=kind,
                    symbol=symbol,
                    status="queued",
                    active_key=key,
                    params=params or {},
                    created_by=actor.name,
                    message="queued",
                )
                session.add(job)
                session.flush()
                return job
        except IntegrityError:
            # The lock is held; a holder whose worker died gives it up (once).
            if attempt == 0 and reclaim(db, key) is None:
                break
    with db.read() as session:
        running = session.scalars(select(Job).where(Job.active_key == key)).first()
    who = f" (job {running.id}, started by {running.created_by})" if running else ""
    raise JobConflict(
        f"a {kind} job for {symbol or 'all symbols'} is already queued or running{who}; "
        "wait for it to finish"
    )


def get(db: Database, job_id: int) -> Job:
    with db.read() as session:
        job = session.get(Job, job_id)
    if job is None:
        raise ModelNotFound(f"no job with id {job_id}")
    return job


def recent(db: Database, *, symbol: str | None = None, limit: int = 20) -> list[Job]:
    with db.read() as session:
        query = select(Job).order_by(Job.id.desc()).limit(limit)
        if symbol is not None:
            query = query.where(Job.symbol == symbol)
        return list(session.scalars(query))


def active(db: Database, *, kind: str, symbol: str | None) -> Job | None:
    with db.read() as session:
        return session.scalars(
            select(Job).where(Job.active_key == _active_key(kind, symbol))
        ).first()


def _update(db: Database, job_id: int, *, only_active: bool = False, **values: Any) -> None:
    with db.begin() as session:
        job = session.get(Job, job_id)
        if job is None or (only_active and job.status not in ACTIVE):
            return
        for name, value in values.items():
            setattr(job, name, value)
        job.heartbeat_at = utcnow()
        if job.status == "running":
            job.lease_expires_at = job.heartbeat_at + dt.timedelta(seconds=lease_seconds())


class Heartbeat:
    """A daemon thread renewing a running job's heartbeat and lease until stopped (also
    while a long fit reports no progress). It dies with its process: that is the point."""

    def __init__(self, db: Database, job_id: int, *, every: float | None = None) -> None:
        self.db, self.job_id = db, job_id
        self.every = every if every is not None else lease_seconds() / 3
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat",
                                        daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                now = utcnow()
                with self.db.begin() as session:
                    job = session.get(Job, self.job_id)
                    if job is None or job.status != "running":
                        return
                    job.heartbeat_at = now
                    job.lease_expires_at = now + dt.timedelta(seconds=lease_seconds())
            except CoreError:
                continue  # a busy database: try again at the next beat, the lease is longer

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


_BEATS: dict[int, Heartbeat] = {}


def mark_running(db: Database, job_id: int) -> Job:
    """Mark a queued job running in this process with a fresh lease and start its
    heartbeat (stopped by ``stop_heartbeat``, or by the process dying)."""
    now = utcnow()
    with db.begin() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise ModelNotFound(f"no job with id {job_id}")
        if job.status != "queued":
            raise ValidationFailed(f"job {job_id} is {job.status}, only a queued job can run")
        job.status = "running"
        job.started_at = job.heartbeat_at = now
        job.lease_expires_at = now + dt.timedelta(seconds=lease_seconds())
        job.pid = os.getpid()
        job.host = socket.gethostname()
        job.message = "started"
    _BEATS[job_id] = Heartbeat(db, job_id).start()
    return job


def stop_heartbeat(job_id: int) -> None:
    beat = _BEATS.pop(job_id, None)
    if beat is not None:
        beat.stop()


def report_progress(db: Database, job_id: int, fraction: float, message: str) -> None:
    _update(db, job_id, progress=max(0.0, min(1.0, fraction)), message=message)


def _finish(db: Database, job_id: int, status: str, **values: Any) -> None:
    # Only an active job: one reclaimed as dead (or cancelled) meanwhile keeps that record.
    _update(db, job_id, only_active=True, status=status, active_key=None,
            finished_at=utcnow(), **values)


def cancel(db: Database, job_id: int, actor: Actor) -> Job:
    """Cancel a job: a queued one never starts, a running one stops at its next progress
    report; either way its lock is free at once. Returns the job as it now is."""
    require_analyst(actor, "cancel a job")
    job = get(db, job_id)
    if job.status in FINISHED:
        return job
    _finish(db, job_id, "cancelled", message=f"cancelled by {actor.name}")
    return get(db, job_id)


class JobCancelled(CoreError):
    """Raised inside a handler when its job row was cancelled."""


def run(db: Database, job_id: int, handlers: dict[str, Handler]) -> Job:
    """Execute a queued job in this process, recording progress, result or error, with a
    heartbeat renewing its lease while it runs."""
    job = get(db, job_id) if job_id in _BEATS else mark_running(db, job_id)
    try:
        return _execute(db, job, handlers)
    finally:
        stop_heartbeat(job_id)


def _execute(db: Database, job: Job, handlers: dict[str, Handler]) -> Job:
    job_id = job.id
    handler = handlers.get(job.kind)

    def progress(fraction: float, message: str) -> None:
        if get(db, job_id).status != "running":  # cancelled, or reclaimed as dead
            raise JobCancelled(f"job {job_id} was cancelled")
        report_progress(db, job_id, fraction, message)

    try:
        if handler is None:
            raise ValidationFailed(f"no handler for job kind {job.kind!r}")
        result = handler(db, job, progress)
    except JobCancelled:
        return get(db, job_id)
    except CoreError as exc:
        _finish(db, job_id, "failed", error=str(exc), message="failed")
    except Exception as exc:  # a job must never die silently: record any failure
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _finish(db, job_id, "failed", error=f"unexpected error: {detail}", message="failed")
    else:
        _finish(db, job_id, "succeeded", progress=1.0, result=result, message="done")
    return get(db, job_id)


def launch(job_id: int, *, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m core jobs run ID`` detached from the caller (survives reruns)."""
    return subprocess.Popen(
        [sys.executable, "-m", "core", "jobs", "run", str(job_id)],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_orphans(db: Database, *, stale_after: dt.timedelta = dt.timedelta(minutes=15)) -> int:
    """Mark jobs left running by a dead process (a server restart) as failed, and jobs
    whose lease expired or that stayed queued past the queue timeout (``reclaim``'s rule).

    The previous champion keeps serving: a retrain only changes the champion when it
    finishes and the promotion is made.
    """
    host = socket.gethostname()
    now = utcnow()
    failed = 0
    with db.begin() as session:
        for job in session.scalars(select(Job).where(Job.status.in_(ACTIVE))):
            beat = _aware(job.heartbeat_at)
            reason: str | None
            if job.status == "running" and (
                (job.host == host and not _pid_alive(job.pid))
                or (beat is not None and now - beat > stale_after)
            ):
                reason = "interrupted (the server or worker stopped)"
            else:
                reason = dead_reason(job, now)
            if reason is None:
                continue
            job.status, job.active_key, job.finished_at = "failed", None, now
            job.error = f"{reason}; the champion is unchanged"
            job.message = "interrupted" if reason.startswith("interrupted") else "worker died"
            failed += 1
    return failed

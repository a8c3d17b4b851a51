"""Background jobs kept in the database, run in their own process.

A page (or the CLI) submits a job row and a worker process (``python -m core jobs run ID``)
executes it, writing progress as it goes; the page polls the row. Because the job lives
in the database it survives reruns, page changes and browser reloads. A unique
``active_key`` makes "one active job per (kind, symbol)" a database guarantee.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
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


def _active_key(kind: str, symbol: str | None) -> str:
    return f"{kind}:{symbol or '*'}"


def submit(
    db: Database,
    *,
    kind: str,
    symbol: str | None,
    params: dict[str, Any] | None,
    actor: Actor,
) -> Job:
    """Queue a job; refuse a second active job of the same kind for the same symbol."""
    if kind not in KINDS:
        raise ValidationFailed(f"unknown job kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    require_analyst(actor, f"start a {kind} job")
    key = _active_key(kind, symbol)
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
        pass
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


def _update(db: Database, job_id: int, **values: Any) -> None:
    with db.begin() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        for name, value in values.items():
            setattr(job, name, value)
        job.heartbeat_at = utcnow()


def report_progress(db: Database, job_id: int, fraction: float, message: str) -> None:
    _update(db, job_id, progress=max(0.0, min(1.0, fraction)), message=message)


def _finish(db: Database, job_id: int, status: str, **values: Any) -> None:
    _update(db, job_id, status=status, active_key=None, finished_at=utcnow(), **values)


def cancel(db: Database, job_id: int, actor: Actor) -> None:
    """Cancel a queued job (a running one is asked to stop at its next progress report)."""
    require_analyst(actor, "cancel a job")
    job = get(db, job_id)
    if job.status in FINISHED:
        return
    _finish(db, job_id, "cancelled", message=f"cancelled by {actor.name}")


class JobCancelled(CoreError):
    """Raised inside a handler when its job row was cancelled."""


def run(db: Database, job_id: int, handlers: dict[str, Handler]) -> Job:
    """Execute a queued job in this process, recording progress, result or error."""
    with db.begin() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise ModelNotFound(f"no job with id {job_id}")
        if job.status != "queued":
            raise ValidationFailed(f"job {job_id} is {job.status}, only a queued job can run")
        job.status = "running"
        job.started_at = utcnow()
        job.heartbeat_at = job.started_at
        job.pid = os.getpid()
        job.host = socket.gethostname()
        job.message = "started"
    handler = handlers.get(job.kind)

    def progress(fraction: float, message: str) -> None:
        if get(db, job_id).status == "cancelled":
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
    """Mark jobs left running by a dead process (a server restart) as failed.

    The previous champion keeps serving: a retrain only changes the champion when it
    finishes and the promotion is made.
    """
    host = socket.gethostname()
    now = utcnow()
    failed = 0
    with db.begin() as session:
        for job in session.scalars(select(Job).where(Job.status == "running")):
            beat = job.heartbeat_at
            if beat is not None and beat.tzinfo is None:
                beat = beat.replace(tzinfo=dt.UTC)
            dead = (job.host == host and not _pid_alive(job.pid)) or (
                beat is not None and now - beat > stale_after
            )
            if dead:
                job.status = "failed"
                job.active_key = None
                job.finished_at = now
                job.error = "interrupted (the server or worker stopped); the champion is unchanged"
                job.message = "interrupted"
                failed += 1
    return failed

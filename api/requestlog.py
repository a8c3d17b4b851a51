"""The request log: every request becomes an ``api_requests`` row, written in batches.

A middleware only appends a tuple to a queue; a daemon thread inserts whatever has queued
every half second (one multi-row INSERT). A request never waits for the database, so the
log costs little throughput; a crash loses at most the last half second of log rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, OperationalError

from core.db.base import utcnow
from core.db.engine import Database
from core.db.models import ApiRequest

log = logging.getLogger(__name__)
SCOPE_KEY = "stockcast.log"  # per-request dict in the ASGI scope; auth puts the key prefix in it


class RequestLog:
    """Batches log rows and writes them from one background thread."""

    def __init__(self, db: Database, *, flush_seconds: float = 0.5, max_batch: int = 2_000):
        self._db = db
        self._flush_seconds = flush_seconds
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.dropped = 0

    def record(
        self, *, time: dt.datetime, key_prefix: str | None, method: str, path: str,
        status: int, latency_ms: float,
    ) -> None:
        self._queue.put({
            "time": time, "key_prefix": key_prefix, "method": method[:8], "path": path[:256],
            "status": status, "latency_ms": latency_ms,
        })
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="api-request-log",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()

    def flush(self) -> int:
        """Write everything queued so far; returns the number of rows written."""
        with self._write_lock:
            written = 0
            while True:
                rows: list[dict[str, Any]] = []
                while len(rows) < self._max_batch:
                    try:
                        rows.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if not rows:
                    return written
                try:
                    with self._db.engine.begin() as conn:  # Core executemany: no ORM per row
                        conn.execute(insert(ApiRequest), rows)
                    written += len(rows)
                except (OperationalError, DBAPIError) as exc:  # database down: drop, keep serving
                    self.dropped += len(rows)
                    log.warning("dropped %d request-log rows: %s", len(rows), exc)

    def close(self) -> None:
        """Stop the thread and write what is left (called on shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()


class RequestLogMiddleware:
    """Pure ASGI middleware (cheaper than ``BaseHTTPMiddleware``): times each HTTP request."""

    def __init__(self, app: Any, sink: Callable[[], RequestLog | None]) -> None:
        self.app = app
        self.sink = sink

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        at = utcnow()
        status = 500
        info: dict[str, Any] = {}
        scope[SCOPE_KEY] = info

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            sink = self.sink()
            if sink is not None:
                sink.record(
                    time=at, key_prefix=info.get("key_prefix"), method=scope["method"],
                    path=scope["path"], status=status,
                    latency_ms=(time.perf_counter() - started) * 1000.0,
                )

"""The batched request-log writer (api/requestlog.py) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import delete, func, select

from api.requestlog import ROWS_PER_STATEMENT, RequestLog
from core.db.engine import Database
from core.db.models import ApiRequest
from tests.api.conftest import World


def test_a_batch_larger_than_one_statement_is_written_whole_and_exactly(world: World) -> None:
    with world.db.begin() as session:
        session.execute(delete(ApiRequest).where(ApiRequest.path.like("/batch-test/%")))
    requestlog = RequestLog(world.db, flush_seconds=3600)  # written only by flush() here
    n = 2 * ROWS_PER_STATEMENT + 7  # two full statements and a remainder
    started = time.time()
    for i in range(n):
        requestlog.record(at=started + i / 1000, key_prefix=None if i % 2 else "sk_test",
                          method="POST", path=f"/batch-test/{i}", status=200 + i % 3,
                          latency_ms=i / 10)
    assert requestlog.flush() == n
    assert requestlog.flush() == 0  # nothing is written twice
    with world.db.read() as session:
        rows = session.scalars(
            select(ApiRequest).where(ApiRequest.path.like("/batch-test/%"))
        ).all()
    assert len(rows) == n
    by_index = {int(r.path.rsplit("/", 1)[1]): r for r in rows}
    for i in (0, ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, n - 1):
        row = by_index[i]
        assert (row.method, row.status, row.key_prefix) == (
            "POST", 200 + i % 3, None if i % 2 else "sk_test")
        assert row.latency_ms == pytest.approx(i / 10)
        # stored as the same instant (SQLite keeps naive UTC text, Postgres timestamptz)
        stored = row.time if row.time.tzinfo else row.time.replace(tzinfo=dt.UTC)
        expected = dt.datetime.fromtimestamp(started + i / 1000, dt.UTC)
        assert abs((stored - expected).total_seconds()) < 1e-5


def test_rows_are_the_same_as_an_orm_insert_would_store(world: World) -> None:
    """Raw multi-row INSERTs must read back like rows written through SQLAlchemy."""
    with world.db.begin() as session:
        session.execute(delete(ApiRequest).where(ApiRequest.path.like("/same-test/%")))
        at = dt.datetime(2026, 11, 30, 21, 5, 7, 123456, tzinfo=dt.UTC)
        session.add(ApiRequest(time=at, key_prefix="sk_orm", method="GET", path="/same-test/orm",
                               status=200, latency_ms=1.5))
    requestlog = RequestLog(world.db, flush_seconds=3600)
    requestlog.record(at=at.timestamp(), key_prefix="sk_orm", method="GET",
                      path="/same-test/raw", status=200, latency_ms=1.5)
    requestlog.flush()
    with world.db.read() as session:
        orm, raw = (session.scalars(select(ApiRequest).where(ApiRequest.path == path)).one()
                    for path in ("/same-test/orm", "/same-test/raw"))
        assert raw.time == orm.time
        assert session.scalar(select(func.count()).where(ApiRequest.time == at)) == 2


def test_a_database_that_is_down_drops_the_batch_and_counts_it(tmp_path: object) -> None:
    db = Database.connect("postgresql+psycopg://nobody@127.0.0.1:1/none")
    requestlog = RequestLog(db, flush_seconds=3600)
    for i in range(3):
        requestlog.record(at=time.time(), key_prefix=None, method="GET", path=f"/{i}",
                          status=200, latency_ms=1.0)
    assert requestlog.flush() == 0
    assert requestlog.dropped == 3
    db.dispose()

"""Bar repository on SQLite and PostgreSQL: idempotent upserts, revisions, reads, failures."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event, func, select

from core.db.engine import Database
from core.db.models.market import Bar
from core.errors import DatabaseUnavailable
from core.market.calendar import trading_calendar
from core.market.frames import canonical_bars
from core.market.store import (
    UpsertCounts,
    last_date,
    list_symbols,
    read_bars,
    upsert_bars,
    upsert_bars_session,
)


def bars(n: int = 30, start: str = "2024-01-02", seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = trading_calendar().sessions(start, "2030-01-01")[:n]
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return canonical_bars(
        pd.DataFrame(
            {
                "date": dates,
                "open": close,
                "high": close * 1.01,
                "low": close * 0.99,
                "close": close,
                "volume": rng.integers(1_000, 10_000_000, n),
                "dividend": 0.0,
                "split_ratio": 1.0,
            }
        )
    )


def test_upsert_then_read_round_trips_exactly(db: Database) -> None:
    frame = bars()
    frame.loc[5, "dividend"] = 0.75
    frame.loc[9, "split_ratio"] = 4.0
    assert upsert_bars(db, "MSFT", frame, "yahoo") == UpsertCounts(30, 0, 0)
    pd.testing.assert_frame_equal(read_bars(db, "MSFT"), frame)


def test_reingest_is_idempotent(db: Database) -> None:
    frame = bars()
    upsert_bars(db, "MSFT", frame, "yahoo")
    with db.read() as s:
        before = s.execute(select(Bar.date, Bar.fetched_at).order_by(Bar.date)).all()
    assert upsert_bars(db, "MSFT", frame, "yahoo") == UpsertCounts(0, 0, 30)
    with db.read() as s:
        after = s.execute(select(Bar.date, Bar.fetched_at).order_by(Bar.date)).all()
        count = s.scalar(select(func.count()).select_from(Bar))
    assert count == 30
    assert after == before  # unchanged rows are not even rewritten
    pd.testing.assert_frame_equal(read_bars(db, "MSFT"), frame)


def test_revised_bars_update_their_rows_and_new_bars_insert(db: Database) -> None:
    frame = bars(30)
    upsert_bars(db, "MSFT", frame.iloc[:25], "yahoo")
    revised = frame.iloc[20:].copy()
    revised.loc[21, "volume"] += 12_345  # Yahoo revises volume for a day or more
    revised.loc[22, "close"] += 0.5
    assert upsert_bars(db, "MSFT", revised, "yahoo") == UpsertCounts(5, 2, 3)
    stored = read_bars(db, "MSFT")
    assert len(stored) == 30
    assert stored.loc[21, "volume"] == frame.loc[21, "volume"] + 12_345
    assert stored.loc[22, "close"] == pytest.approx(frame.loc[22, "close"] + 0.5)


def test_symbols_are_kept_apart(db: Database) -> None:
    upsert_bars(db, "MSFT", bars(10, seed=1), "yahoo")
    upsert_bars(db, "AAPL", bars(12, seed=2), "csv")
    assert len(read_bars(db, "MSFT")) == 10 and len(read_bars(db, "AAPL")) == 12
    summaries = {s.symbol: s for s in list_symbols(db)}
    assert summaries["AAPL"].rows == 12
    assert summaries["MSFT"].first_date == dt.date(2024, 1, 2)
    assert summaries["MSFT"].last_ingest_status is None
    assert last_date(db, "MSFT") == summaries["MSFT"].last_date
    assert last_date(db, "NOPE") is None


def test_read_range_and_empty(db: Database) -> None:
    upsert_bars(db, "MSFT", bars(30), "yahoo")
    part = read_bars(db, "MSFT", start="2024-01-10", end=dt.date(2024, 1, 19))
    assert part["date"].min() >= pd.Timestamp("2024-01-10")
    assert part["date"].max() <= pd.Timestamp("2024-01-19")
    assert len(part) == 7
    empty = read_bars(db, "NOPE")
    assert empty.empty and list(empty.columns) == list(part.columns)


def test_error_inside_the_transaction_leaves_history_unchanged(db: Database) -> None:
    frame = bars(20)
    upsert_bars(db, "MSFT", frame, "yahoo")
    changed = frame.assign(close=frame["close"] * 2)
    with pytest.raises(RuntimeError), db.begin() as session:
        upsert_bars_session(session, "MSFT", changed, "yahoo")
        raise RuntimeError("simulated crash after the upsert, before commit")
    pd.testing.assert_frame_equal(read_bars(db, "MSFT"), frame)


def test_unmigrated_database_is_reported_clearly(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'blank.db'}")
    with pytest.raises(DatabaseUnavailable, match="not set up"):
        read_bars(db, "MSFT")
    with pytest.raises(DatabaseUnavailable, match="not set up"):
        upsert_bars(db, "MSFT", bars(3), "yahoo")
    db.dispose()


def test_unreachable_postgres_is_reported_clearly() -> None:
    db = Database.connect("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnavailable, match="cannot use the database") as info:
        read_bars(db, "MSFT")
    assert "secret" not in str(info.value)
    db.dispose()


def test_locked_sqlite_is_reported_clearly(sqlite_db: Database) -> None:
    def no_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    event.listen(sqlite_db.engine, "connect", no_wait)
    sqlite_db.engine.dispose()
    path = sqlite_db.engine.url.database
    assert path
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseUnavailable, match="locked"):
            upsert_bars(sqlite_db, "MSFT", bars(3), "yahoo")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert upsert_bars(sqlite_db, "MSFT", bars(3), "yahoo").inserted == 3


class _PausingConnection:
    """The driver connection of one thread, pausing after its existing-rows SELECT until
    the other ingest has committed (or a second has passed): the race that gave
    ``rows_updated = -7983`` on SQLite, forced."""

    def __init__(self, conn: Any, other_done: Any) -> None:
        self._conn, self._other_done = conn, other_done

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def cursor(self) -> Any:
        outer = self

        class _Cursor:
            def __init__(self, cur: Any) -> None:
                self._cur = cur

            def __getattr__(self, name: str) -> Any:
                return getattr(self._cur, name)

            def execute(self, sql: str, *args: Any) -> Any:
                out = self._cur.execute(sql, *args)
                if sql.startswith("SELECT date FROM bars"):
                    outer._other_done.wait(timeout=1.0)
                return out

        return _Cursor(self._conn.cursor())


def test_two_concurrent_ingests_of_one_file_count_exactly(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from core.market import store

    frame = bars(60)
    second_done = threading.Event()
    first_thread: list[int] = []
    real = store._driver_connection

    def driver_connection(session: Any) -> Any:
        conn = real(session)
        if threading.get_ident() in first_thread:
            return _PausingConnection(conn, second_done)
        return conn

    monkeypatch.setattr(store, "_driver_connection", driver_connection)
    results: dict[str, UpsertCounts] = {}
    first_selected = threading.Event()

    def first() -> None:
        first_thread.append(threading.get_ident())
        first_selected.set()
        results["first"] = upsert_bars(sqlite_db, "MSFT", frame, "csv")

    def second() -> None:
        first_selected.wait(timeout=5)
        try:
            results["second"] = upsert_bars(sqlite_db, "MSFT", frame, "csv")
        finally:
            second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    counts = sorted(results.values(), key=lambda c: c.inserted)
    assert counts == [UpsertCounts(0, 0, 60), UpsertCounts(60, 0, 0)]

"""Repository for daily bars: fast idempotent upserts and fast reads, SQLite and PostgreSQL.

Functions take a ``Session`` that the caller's use case opened with ``db.begin()`` (they
never commit), except the ``db``-level helpers, which open their own session. The bulk
paths go to the DBAPI driver directly (the ORM costs 10-50x here):

- SQLite: one ``executemany`` of ``INSERT ... ON CONFLICT DO UPDATE ... WHERE <a column
  differs>`` so unchanged rows are not rewritten.
- PostgreSQL: binary ``COPY`` into a temporary table, then one ``INSERT ... SELECT ...
  ON CONFLICT DO UPDATE ... WHERE (...) IS DISTINCT FROM (...)``; ``xmax = 0`` on the
  returned rows tells inserts from updates.

Every statement is parameterised; driver errors become ``DatabaseUnavailable``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.engine import Database, describe_db_error
from core.db.models.market import Bar, IngestRun
from core.errors import DatabaseUnavailable
from core.market.frames import BAR_COLUMNS, empty_bars

_VALUE_COLUMNS = ["open", "high", "low", "close", "volume", "dividend", "split_ratio"]
_ALL_COLUMNS = ["symbol", "date", *_VALUE_COLUMNS, "source", "fetched_at"]
_CHANGE_COLUMNS = [*_VALUE_COLUMNS, "source"]  # fetched_at alone is not a change


@dataclass(frozen=True)
class UpsertCounts:
    """What one upsert did: rows new, rows whose values changed, rows already identical."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True)
class SymbolSummary:
    """One stored symbol, for the CLI listing and the dashboard's picker."""

    symbol: str
    first_date: dt.date
    last_date: dt.date
    rows: int
    last_ingest_status: str | None = None
    last_ingest_at: dt.datetime | None = None
    last_ingest_error: str | None = None


def _driver_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [sqlite3.Error]
    try:
        import psycopg

        types.append(psycopg.Error)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


_DRIVER_ERRORS = _driver_error_types()


@contextmanager
def _translate_driver_errors(url: str) -> Iterator[None]:
    """Raw DBAPI calls bypass SQLAlchemy's wrapping; give them the same clear message."""
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise DatabaseUnavailable(describe_db_error(url, exc)) from exc


def _session_url(session: Session) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=False)


def _driver_connection(session: Session) -> Any:
    """The DBAPI connection of the session's current transaction (same transaction)."""
    return session.connection().connection.driver_connection


def _rows(
    symbol: str, frame: pd.DataFrame, source: str, fetched_at: Any, *, iso: bool
) -> list[tuple[Any, ...]]:
    dates = pd.DatetimeIndex(frame["date"])
    date_values: list[Any] = list(dates.strftime("%Y-%m-%d")) if iso else [d.date() for d in dates]
    columns = [
        frame[c].to_numpy(dtype="float64").tolist() for c in ("open", "high", "low", "close")
    ]
    volume = frame["volume"].to_numpy(dtype="int64").tolist()
    dividend = frame["dividend"].to_numpy(dtype="float64").tolist()
    ratio = frame["split_ratio"].to_numpy(dtype="float64").tolist()
    n = len(frame)
    return list(
        zip(
            [symbol] * n,
            date_values,
            *columns,
            volume,
            dividend,
            ratio,
            [source] * n,
            [fetched_at] * n,
            strict=True,
        )
    )


def upsert_bars(
    db: Database,
    symbol: str,
    frame: pd.DataFrame,
    source: str,
    *,
    fetched_at: dt.datetime | None = None,
) -> UpsertCounts:
    """Upsert ``frame`` for ``symbol`` in a transaction of its own (``upsert_bars_session``)."""
    with db.begin() as session:
        return upsert_bars_session(session, symbol, frame, source, fetched_at=fetched_at)


def upsert_bars_session(
    session: Session,
    symbol: str,
    frame: pd.DataFrame,
    source: str,
    *,
    fetched_at: dt.datetime | None = None,
) -> UpsertCounts:
    """Insert new bars and update changed ones for ``symbol``; identical rows are untouched.

    Idempotent: upserting the same frame twice leaves the same rows (the second time all
    are ``unchanged``). Runs inside the caller's transaction and does not commit.
    ``frame`` must be canonical and validated (see ``validation.prepare_bars``).
    """
    if frame.empty:
        return UpsertCounts()
    fetched_at = fetched_at or dt.datetime.now(dt.UTC)
    dialect = session.get_bind().dialect.name
    with _translate_driver_errors(_session_url(session)):
        if dialect == "sqlite":
            return _upsert_sqlite(session, symbol, frame, source, fetched_at)
        if dialect == "postgresql":
            return _upsert_postgres(session, symbol, frame, source, fetched_at)
    raise DatabaseUnavailable(f"unsupported database {dialect!r}; use SQLite or PostgreSQL")


_SQLITE_UPSERT = (
    f"INSERT INTO bars ({', '.join(_ALL_COLUMNS)}) VALUES ({', '.join('?' * len(_ALL_COLUMNS))}) "
    "ON CONFLICT(symbol, date) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in [*_CHANGE_COLUMNS, "fetched_at"])
    + " WHERE "
    + " OR ".join(f"bars.{c} IS NOT excluded.{c}" for c in _CHANGE_COLUMNS)
)


def _upsert_sqlite(
    session: Session, symbol: str, frame: pd.DataFrame, source: str, fetched_at: dt.datetime
) -> UpsertCounts:
    conn = _driver_connection(session)
    # SQLAlchemy stores SQLite DATE as 'YYYY-MM-DD' and DATETIME as naive UTC text.
    stamp = fetched_at.astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = _rows(symbol, frame, source, stamp, iso=True)
    cur = conn.cursor()
    try:
        if not conn.in_transaction:
            # Take the write lock before counting: pysqlite opens its transaction only at
            # the first write, so another ingest could commit between this SELECT and the
            # upsert, and 7,983 "inserted" rows then changed nothing (rows_updated -7983).
            # A transaction that has written already holds the lock (and, in WAL, reads
            # the latest commit), so its count is as exact.
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(
            "SELECT date FROM bars WHERE symbol = ? AND date >= ? AND date <= ?",
            (symbol, rows[0][1], rows[-1][1]),
        )
        existing = {r[0] for r in cur.fetchall()}
        incoming = {r[1] for r in rows}
        inserted = len(incoming - existing)
        before = conn.total_changes
        cur.executemany(_SQLITE_UPSERT, rows)
        changed = conn.total_changes - before
    finally:
        cur.close()
    updated = changed - inserted
    return UpsertCounts(inserted, updated, len(rows) - inserted - updated)


_PG_STAGE = "_bars_stage"
_PG_UPSERT = (
    f"WITH up AS (INSERT INTO bars ({', '.join(_ALL_COLUMNS)}) "
    f"SELECT {', '.join(_ALL_COLUMNS)} FROM {_PG_STAGE} "
    "ON CONFLICT (symbol, date) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in [*_CHANGE_COLUMNS, "fetched_at"])
    + f" WHERE ({', '.join('bars.' + c for c in _CHANGE_COLUMNS)}) IS DISTINCT FROM "
    f"({', '.join('EXCLUDED.' + c for c in _CHANGE_COLUMNS)}) "
    "RETURNING (xmax = 0) AS inserted) "
    "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"
)
_PG_TYPES = [
    "text",
    "date",
    "float8",
    "float8",
    "float8",
    "float8",
    "int8",
    "float8",
    "float8",
    "text",
    "timestamptz",
]


def _upsert_postgres(
    session: Session, symbol: str, frame: pd.DataFrame, source: str, fetched_at: dt.datetime
) -> UpsertCounts:
    conn = _driver_connection(session)
    rows = _rows(symbol, frame, source, fetched_at, iso=False)
    with conn.cursor() as cur:
        # A staging table per transaction; ON COMMIT DROP cleans it up, TRUNCATE lets one
        # transaction upsert several symbols.
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_PG_STAGE} "
            "(LIKE bars INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        cur.execute(f"TRUNCATE {_PG_STAGE}")
        with cur.copy(
            f"COPY {_PG_STAGE} ({', '.join(_ALL_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(_PG_TYPES)
            for row in rows:
                copy.write_row(row)
        cur.execute(_PG_UPSERT)
        result = cur.fetchone()
    inserted, updated = (int(result[0]), int(result[1])) if result else (0, 0)
    return UpsertCounts(inserted, updated, len(rows) - inserted - updated)


def _date_param(value: dt.date | str, dialect: str) -> Any:
    day = pd.Timestamp(value).date()
    return day.isoformat() if dialect == "sqlite" else day


def _read_sql(dialect: str, start: object, end: object) -> str:
    mark = "?" if dialect == "sqlite" else "%s"
    sql = (
        "SELECT date, open, high, low, close, volume, dividend, split_ratio "
        f"FROM bars WHERE symbol = {mark}"
    )
    if start is not None:
        sql += f" AND date >= {mark}"
    if end is not None:
        sql += f" AND date <= {mark}"
    return sql + " ORDER BY date"


def _frame_from_columns(dates: np.ndarray, columns: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "date": dates.astype("datetime64[ns]"),
            "open": np.asarray(columns[0], dtype="float64"),
            "high": np.asarray(columns[1], dtype="float64"),
            "low": np.asarray(columns[2], dtype="float64"),
            "close": np.asarray(columns[3], dtype="float64"),
            "volume": np.asarray(columns[4], dtype="int64"),
            "dividend": np.asarray(columns[5], dtype="float64"),
            "split_ratio": np.asarray(columns[6], dtype="float64"),
        }
    )
    return frame


# PostgreSQL binary COPY of the 8 NOT NULL columns: every tuple has the same layout
# (int16 field count, then int32 length + big-endian value per field), so numpy can read
# the whole stream at once. Dates are int32 days since 2000-01-01.
_PG_ROW = np.dtype(
    [("n", ">i2"), ("l0", ">i4"), ("date", ">i4")]
    + [
        item
        for i, (name, kind) in enumerate(
            [
                ("open", ">f8"),
                ("high", ">f8"),
                ("low", ">f8"),
                ("close", ">f8"),
                ("volume", ">i8"),
                ("dividend", ">f8"),
                ("split_ratio", ">f8"),
            ],
            start=1,
        )
        for item in ((f"l{i}", ">i4"), (name, kind))
    ]
)
_PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_PG_EPOCH = np.datetime64("2000-01-01", "D")


def _parse_pg_binary(data: bytes) -> pd.DataFrame | None:
    """Decode a binary COPY stream of bar rows, or None if it is not the expected layout."""
    if not data.startswith(_PG_SIGNATURE):
        return None
    ext = int.from_bytes(data[15:19], "big")
    body = data[19 + ext : -2]  # trailer: int16 -1
    if len(body) % _PG_ROW.itemsize:
        return None
    rows = np.frombuffer(body, dtype=_PG_ROW)
    if rows.size and (rows["n"] != 8).any():
        return None
    dates = _PG_EPOCH + rows["date"].astype("int64").astype("timedelta64[D]")
    names = ["open", "high", "low", "close", "volume", "dividend", "split_ratio"]
    return _frame_from_columns(dates, [rows[n] for n in names])


def read_bars_session(
    session: Session,
    symbol: str,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
) -> pd.DataFrame:
    """Canonical frame of stored bars for ``symbol`` (optionally ``start <= date <= end``).

    One SELECT through the DBAPI driver, decoded column-wise (no ORM objects, no row-wise
    pandas construction); on PostgreSQL a binary COPY of that SELECT read by numpy.
    """
    dialect = session.get_bind().dialect.name
    sql = _read_sql(dialect, start, end)
    params: list[Any] = [symbol]
    params += [_date_param(v, dialect) for v in (start, end) if v is not None]
    with _translate_driver_errors(_session_url(session)):
        conn = _driver_connection(session)
        if dialect == "postgresql":
            chunks: list[bytes] = []
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", params) as copy,
            ):
                for block in copy:
                    chunks.append(bytes(block))
            frame = _parse_pg_binary(b"".join(chunks))
            if frame is not None:
                return frame
        cur = conn.cursor()
        try:
            cur.execute(sql, params)
            rows = cur.fetchall()
        finally:
            cur.close()
    if not rows:
        return empty_bars()
    columns = list(zip(*rows, strict=True))
    # SQLite gives ISO 'YYYY-MM-DD' text, psycopg gives dates: numpy parses both.
    dates = np.array(columns[0], dtype="datetime64[D]")
    return _frame_from_columns(dates, columns[1:])


def read_bars(
    db: Database,
    symbol: str,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
) -> pd.DataFrame:
    """Stored bars for ``symbol`` as a canonical frame (empty if none); one SELECT."""
    with db.read() as session:
        return read_bars_session(session, symbol, start, end)


def last_date(db: Database, symbol: str) -> dt.date | None:
    """The last stored trading date of ``symbol``, or None when nothing is stored."""
    with db.read() as session:
        return last_date_session(session, symbol)


def last_date_session(session: Session, symbol: str) -> dt.date | None:
    value = session.scalar(select(func.max(Bar.date)).where(Bar.symbol == symbol))
    if value is None:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def has_any_bars(db: Database) -> bool:
    with db.read() as session:
        return session.scalar(select(Bar.symbol).limit(1)) is not None


def list_symbols(db: Database) -> list[SymbolSummary]:
    """Every stored symbol with its date range, row count and last ingest run."""
    with db.read() as session:
        ranges = session.execute(
            select(Bar.symbol, func.min(Bar.date), func.max(Bar.date), func.count())
            .group_by(Bar.symbol)
            .order_by(Bar.symbol)
        ).all()
        latest_ids = select(func.max(IngestRun.id)).group_by(IngestRun.symbol)
        runs = {
            r.symbol: r
            for r in session.scalars(select(IngestRun).where(IngestRun.id.in_(latest_ids)))
        }
    out: list[SymbolSummary] = []
    for symbol, first, last, count in ranges:
        run = runs.get(symbol)
        out.append(
            SymbolSummary(
                symbol=symbol,
                first_date=first,
                last_date=last,
                rows=int(count),
                last_ingest_status=run.status if run else None,
                last_ingest_at=(run.finished_at or run.started_at) if run else None,
                last_ingest_error=run.error if run else None,
            )
        )
    return out


def stored_symbols(db: Database) -> list[str]:
    """Symbols with at least one stored bar, sorted."""
    with db.read() as session:
        return list(session.scalars(select(Bar.symbol).distinct().order_by(Bar.symbol)))


__all__ = [
    "BAR_COLUMNS",
    "SymbolSummary",
    "UpsertCounts",
    "has_any_bars",
    "last_date",
    "list_symbols",
    "read_bars",
    "stored_symbols",
    "upsert_bars",
    "upsert_bars_session",
]

"""Engine and session factory: one per process, SQLite (embedded default) or PostgreSQL.

SQLite gets WAL journaling (readers do not block the writer), foreign keys and a busy
timeout. ``Database.locked(scope)`` is a transaction that serialises writers of one scope
(a symbol's registry): an advisory transaction lock on PostgreSQL, ``BEGIN IMMEDIATE`` (the
database's one write lock, taken up front) on SQLite. Driver errors that mean "the
database is not there" become ``DatabaseUnavailable`` with a message that names the URL
(password hidden) and what to check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Conflict, DatabaseUnavailable


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable DATABASE_URL>"


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(
            f"DATABASE_URL {url!r} is not a database URL; use sqlite:///data/market.db "
            "or postgresql+psycopg://user:password@host:5432/dbname"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 5})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    raise DatabaseUnavailable(
        f"unsupported database {parsed.get_backend_name()!r}; use SQLite or PostgreSQL"
    )


def describe_db_error(url: str, exc: BaseException) -> str:
    """One line that names the database (password hidden), the problem and what to do."""
    raw = str(getattr(exc, "orig", exc)).strip()
    text = raw.splitlines()[0] if raw else type(exc).__name__
    if "locked" in text.lower():
        return f"the database {safe_url(url)} is locked by another writer; try again in a moment"
    if "no such table" in text.lower() or "does not exist" in text.lower():
        return (
            f"the database {safe_url(url)} is not set up ({text}); "
            "run `python -m core db upgrade`"
        )
    return f"cannot use the database {safe_url(url)}: {text}"


@dataclass
class Database:
    """The engine and the one sessionmaker of this process."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def connect(cls, url: str) -> Database:
        engine = make_engine(url)
        return cls(url=url, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on any error.

        Database driver errors are re-raised as ``DatabaseUnavailable`` with a clear message.
        """
        try:
            with self.sessions.begin() as session:
                yield session
        except (OperationalError, DBAPIError) as exc:
            raise DatabaseUnavailable(describe_db_error(self.url, exc)) from exc

    @contextmanager
    def locked(self, scope: str) -> Iterator[Session]:
        """One transaction that holds the write lock of ``scope`` until it commits.

        Two callers with the same scope run one after the other: the second waits for the
        first to commit, then sees its writes. PostgreSQL takes an advisory transaction lock
        on a 64-bit hash of the scope (other scopes are not blocked); SQLite, which has one
        writer anyway, starts the transaction with ``BEGIN IMMEDIATE`` so the write lock is
        taken before the first read instead of failing at the first write of a stale
        snapshot. A unique constraint that still fails (a writer that did not take the
        lock) is a ``Conflict`` naming ``scope``.
        """
        try:
            with self.sessions.begin() as session:
                if self.dialect == "postgresql":
                    key = int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big",
                                         signed=True)
                    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
                elif self.dialect == "sqlite":
                    # pysqlite opens its own transaction only before DML; an explicit BEGIN
                    # IMMEDIATE first makes this whole session one write-locked transaction,
                    # committed by the session's commit.
                    session.connection().exec_driver_sql("BEGIN IMMEDIATE")
                yield session
        except IntegrityError as exc:
            raise Conflict(
                f"a concurrent change to {scope} was committed first; nothing was changed: "
                "review the new state and try again"
            ) from exc
        except (OperationalError, DBAPIError) as exc:
            raise DatabaseUnavailable(describe_db_error(self.url, exc)) from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; translates driver errors like ``begin``."""
        try:
            with self.sessions() as session:
                yield session
        except (OperationalError, DBAPIError) as exc:
            raise DatabaseUnavailable(describe_db_error(self.url, exc)) from exc

    def dispose(self) -> None:
        self.engine.dispose()

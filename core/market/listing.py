"""Repository for the ``symbols`` table: each symbol's exchange and bundled-sample flag.

A symbol gets its row in the same transaction as its first stored bars; a later ingest
updates the source (and the sample flag: real Yahoo bars for a bundled symbol make it a live
symbol again). Symbols stored before the table existed fall back to the Yahoo suffix.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.base import utcnow
from core.db.engine import Database
from core.db.models.market import Symbol
from core.market.calendar import TradingCalendar
from core.market.sample import SAMPLE_SOURCE
from core.symbols import exchange_from_suffix


def check_exchange(exchange: str) -> str:
    """Return the exchange code if exchange_calendars knows it, else raise ValidationFailed."""
    return TradingCalendar.check_code(exchange)


def record_symbol(
    session: Session, symbol: str, source: str, *, exchange: str | None, default: str
) -> Symbol:
    """Create or update ``symbol``'s row inside the caller's transaction (no commit).

    ``exchange`` overrides; otherwise a stored exchange is kept, else the Yahoo suffix
    (or ``default``) decides.
    """
    row = session.get(Symbol, symbol)
    if row is None:
        row = Symbol(symbol=symbol, exchange=exchange or exchange_from_suffix(symbol, default),
                     sample=source == SAMPLE_SOURCE, source=source, updated_at=utcnow())
        session.add(row)
    else:
        if exchange:
            row.exchange = exchange
        row.sample = source == SAMPLE_SOURCE
        row.source = source
        row.updated_at = utcnow()
    return row


def exchange_for_session(session: Session, symbol: str, default: str = "XNYS") -> str:
    stored = session.scalar(select(Symbol.exchange).where(Symbol.symbol == symbol))
    return str(stored) if stored else exchange_from_suffix(symbol, default)


def exchange_for(db: Database, symbol: str, default: str = "XNYS") -> str:
    """The exchange ``symbol`` trades on: stored, else from its Yahoo suffix, else ``default``."""
    with db.read() as session:
        return exchange_for_session(session, symbol, default)


def symbols_by_exchange(
    db: Database, symbols: list[str], default: str = "XNYS"
) -> dict[str, list[str]]:
    """``symbols`` grouped by the exchange each trades on (``exchange_for``), in order,
    e.g. ``{"XNYS": ["AAPL", "MSFT"], "XLON": ["VOD.L"]}``."""
    groups: dict[str, list[str]] = {}
    with db.read() as session:
        for symbol in symbols:
            groups.setdefault(exchange_for_session(session, symbol, default), []).append(symbol)
    return groups


def is_sample_session(session: Session, symbol: str) -> bool:
    return bool(session.scalar(select(Symbol.sample).where(Symbol.symbol == symbol)))


def is_sample(db: Database, symbol: str) -> bool:
    """True when ``symbol``'s bars are a bundled sample (a fixed history, never stale)."""
    with db.read() as session:
        return is_sample_session(session, symbol)


def symbol_rows(db: Database) -> dict[str, Symbol]:
    """Every recorded symbol (detached rows), for listings."""
    with db.read() as session:
        rows = list(session.scalars(select(Symbol)))
        session.expunge_all()
    return {r.symbol: r for r in rows}

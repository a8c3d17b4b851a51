"""Daily bars (raw OHLCV plus corporate actions) and the audit trail of ingest runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, utcnow


class Bar(Base):
    """One trading day of one symbol, keyed by (symbol, date) - never by date alone.

    Prices are stored raw (as traded); adjusted prices are computed on read from the
    stored actions, so a new split never leaves a history that disagrees with itself.
    ``split_ratio`` is 1.0 on days without a split (yfinance reports 0.0 there).
    """

    __tablename__ = "bars"

    symbol: Mapped[str] = mapped_column(String(16), primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[int] = mapped_column(BigInteger)
    dividend: Mapped[float] = mapped_column(Float, default=0.0)
    split_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    source: Mapped[str] = mapped_column(String(16))
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IngestRun(Base):
    """One ingest of one or more symbols from one source, with its validation report."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # succeeded | failed
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict | None] = mapped_column(JSON)  # validation issues (errors and warnings)
    created_by: Mapped[str] = mapped_column(String(64), default="system")


class Symbol(Base):
    """What the product knows about one symbol beyond its bars: where it trades, and
    whether its bars are a bundled sample (a fixed history whose age is not an alarm).

    ``exchange`` is an exchange_calendars code (XNYS, XLON, ...): from the Yahoo suffix
    (``VOD.L`` -> XLON) unless given at import; calendars, staleness and forecast dates use
    it. ``source`` is the source of the last successful ingest.
    """

    __tablename__ = "symbols"

    symbol: Mapped[str] = mapped_column(String(16), primary_key=True)
    exchange: Mapped[str] = mapped_column(String(16))
    sample: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

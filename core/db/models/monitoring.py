"""Prediction ledger, alerts with their deliveries, and drift events."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, utcnow


class Prediction(Base):
    """One forecast of one target date, logged with the naive forecast for the same target.

    Unique on (model version, data date, target date): logging the same forecast twice
    does not duplicate it. Prices are in the adjusted scale of ``data_date``; the actual
    is brought to that scale on reconciliation so a split does not look like an error.
    """

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("model_version_id", "data_date", "target_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # dashboard | cli | replay | api | schedule
    issued_by: Mapped[str] = mapped_column(String(32), default="system")
    data_date: Mapped[dt.date] = mapped_column(Date)
    target_date: Mapped[dt.date] = mapped_column(Date, index=True)
    step: Mapped[int] = mapped_column(Integer)
    mean: Mapped[float] = mapped_column(Float)
    lo80: Mapped[float] = mapped_column(Float)
    hi80: Mapped[float] = mapped_column(Float)
    lo95: Mapped[float] = mapped_column(Float)
    hi95: Mapped[float] = mapped_column(Float)
    naive: Mapped[float] = mapped_column(Float)
    last_value: Mapped[float] = mapped_column(Float)
    exog_policy: Mapped[str | None] = mapped_column(String(32))
    actual: Mapped[float | None] = mapped_column(Float)
    error: Mapped[float | None] = mapped_column(Float)  # actual - mean
    naive_error: Mapped[float | None] = mapped_column(Float)  # actual - naive
    reconciled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Alert(Base):
    """One alert episode. At most one open alert per (symbol, rule): a partial unique index
    makes that a database guarantee, not a race between two jobs."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_episode",
            "symbol",
            "rule",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str | None] = mapped_column(String(16), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AlertDelivery(Base):
    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # log | slack | email
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DriftEvent(Base):
    __tablename__ = "drift_events"
    __table_args__ = (UniqueConstraint("symbol", "detector", "kind", "date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    detector: Mapped[str] = mapped_column(String(16))  # adwin | kswin
    # What changed in the standardised errors: volatility (ADWIN over |z|), bias (ADWIN
    # over z) or shape (KSWIN over z); see core.monitor.drift.
    kind: Mapped[str] = mapped_column(String(16), default="bias")
    date: Mapped[dt.date] = mapped_column(Date)
    statistic: Mapped[float | None] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(32))  # marked_stale | retrain_queued | none
    details: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

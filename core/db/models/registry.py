"""Model registry: one row per saved model version, and the promotion history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, utcnow

ONE_CHAMPION = text("role = 'champion'")


class ModelVersion(Base):
    __tablename__ = "model_versions"
    # One champion per symbol is a database guarantee (a partial unique index on both
    # backends), not only the promote code's care: a concurrent writer that would make a
    # second champion fails instead of leaving two.
    __table_args__ = (
        Index("uq_model_versions_one_champion", "symbol", unique=True,
              sqlite_where=ONE_CHAMPION, postgresql_where=ONE_CHAMPION),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    # auto_arima | arima | arimax | naive | drift | ensemble
    kind: Mapped[str] = mapped_column(String(32))
    engine: Mapped[str | None] = mapped_column(String(32))
    spec: Mapped[dict] = mapped_column(JSON)  # order, options, exog policy, members/weights
    exog_policy: Mapped[str | None] = mapped_column(String(32))
    train_start: Mapped[dt.date] = mapped_column(Date)
    train_end: Mapped[dt.date] = mapped_column(Date)
    n_obs: Mapped[int] = mapped_column(Integer)
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    fit_seconds: Mapped[float] = mapped_column(Float)
    aic: Mapped[float | None] = mapped_column(Float)
    bic: Mapped[float | None] = mapped_column(Float)
    backtest: Mapped[dict | None] = mapped_column(JSON)
    lib_versions: Mapped[dict] = mapped_column(JSON)
    artifact_path: Mapped[str] = mapped_column(String(512))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_bytes: Mapped[int] = mapped_column(Integer)
    # champion | challenger | retired | draft
    role: Mapped[str] = mapped_column(String(16), default="challenger")
    stale: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelEvent(Base):
    """Champion history: every promote, rollback and gate decision, with who did it."""

    __tablename__ = "model_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    action: Mapped[str] = mapped_column(String(16))  # promote | rollback | create
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    gate_passed: Mapped[bool | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

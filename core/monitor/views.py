"""Read-side views for the monitoring page, the overview cards and the CLI.

Everything here only reads; the writes (ledger, alerts, drift) live in their modules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select

from core.db.engine import Database
from core.db.models import Alert, DriftEvent, ModelEvent, ModelVersion
from core.forecast import registry
from core.monitor.ledger import ledger_frame
from core.monitor.scores import (
    Scores,
    compute_scores,
    last_target_dates,
    rolling_errors,
    scores_by_step,
)
from core.settings import Settings
from core.symbols import check_symbol


@dataclass(frozen=True)
class MonitoringSnapshot:
    symbol: str
    champion_id: int | None
    window_days: int
    ledger: pd.DataFrame  # all reconciled and pending rows of the champion(s)
    window: pd.DataFrame  # rows whose target date is in the last ``window_days`` scored dates
    scores: Scores
    by_step: pd.DataFrame
    rolling: pd.DataFrame  # step-1 rolling errors by target date
    alerts: pd.DataFrame
    drift: pd.DataFrame
    timeline: pd.DataFrame

    @property
    def has_scores(self) -> bool:
        return self.scores.n > 0


def alert_history(db: Database, symbol: str | None = None, limit: int = 200) -> pd.DataFrame:
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if symbol is not None:
        query = query.where(Alert.symbol == symbol)
    with db.read() as session:
        rows = [
            {"id": a.id, "symbol": a.symbol, "rule": a.rule, "severity": a.severity,
             "status": a.status, "as of": a.as_of, "value": a.value, "threshold": a.threshold,
             "message": a.message, "opened": a.opened_at, "resolved": a.resolved_at}
            for a in session.scalars(query)
        ]
    columns = ["id", "symbol", "rule", "severity", "status", "as of", "value", "threshold",
               "message", "opened", "resolved"]
    return pd.DataFrame(rows, columns=columns)


def drift_history(db: Database, symbol: str) -> pd.DataFrame:
    with db.read() as session:
        rows = [
            {"date": e.date, "kind": e.kind, "detector": e.detector,
             "statistic": e.statistic, "action": e.action, "model": e.model_version_id}
            for e in session.scalars(
                select(DriftEvent).where(DriftEvent.symbol == symbol).order_by(DriftEvent.date)
            )
        ]
    return pd.DataFrame(rows, columns=["date", "kind", "detector", "statistic", "action",
                                       "model"])


def latest_model_note(db: Database, symbol: str) -> str | None:
    """The symbol's newest saved model version in one sentence (None: no models).

    The source of truth for "when was this symbol last (re)trained": the registry, which
    every fit, retrain job, weekly run and replay writes to, unlike the job list."""
    with db.read() as session:
        version = session.scalars(
            select(ModelVersion).where(ModelVersion.symbol == symbol)
            .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc()).limit(1)
        ).first()
    if version is None:
        return None
    replayed = ((version.spec or {}).get("replay") or {}).get("reason")
    origin = f", a replay {replayed} retrain" if replayed else ""
    return (f"#{version.id} {_label(version)}, trained to {version.train_end}, saved "
            f"{version.created_at:%Y-%m-%d} by {version.created_by}{origin}")


def champion_timeline(db: Database, symbol: str, ledger: pd.DataFrame) -> pd.DataFrame:
    """When each model served, in market time: the first and last data date it issued
    forecasts from (works for live use and for replays alike), with its promotion notes."""
    with db.read() as session:
        versions = {
            v.id: v
            for v in session.scalars(select(ModelVersion).where(ModelVersion.symbol == symbol))
        }
        notes = {
            e.version_id: f"{e.action} by {e.created_by}: {e.note or ''}".strip()
            for e in session.scalars(
                select(ModelEvent)
                .where(ModelEvent.symbol == symbol, ModelEvent.action.in_(("promote", "rollback")))
                .order_by(ModelEvent.id)
            )
        }
    columns = ["model", "label", "from", "until", "forecasts", "role", "note"]
    if ledger.empty:
        return pd.DataFrame(columns=columns)
    served = ledger.groupby("model_version_id").agg(
        start=("data_date", "min"), end=("data_date", "max"), forecasts=("data_date", "nunique")
    )
    rows = []
    for r in served.sort_values("start").reset_index().to_dict("records"):
        vid = int(r["model_version_id"])
        v = versions.get(vid)
        label = str((v.spec or {}).get("label") or v.kind) if v else "deleted model"
        rows.append({
            "model": vid, "label": f"#{vid} {label}", "from": r["start"], "until": r["end"],
            "forecasts": int(r["forecasts"]), "role": v.role if v else "",
            "note": notes.get(vid, ""),
        })
    return pd.DataFrame(rows, columns=columns)


def snapshot(db: Database, settings: Settings, symbol: str, window_days: int) -> MonitoringSnapshot:
    """Everything the monitoring page shows for one symbol, from one read of the ledger."""
    symbol = check_symbol(symbol)
    with db.read() as session:
        champion = registry.champion(session, symbol)
        frame = ledger_frame(session, symbol)
    window = last_target_dates(frame, window_days) if not frame.empty else frame
    return MonitoringSnapshot(
        symbol=symbol,
        champion_id=champion.id if champion else None,
        window_days=window_days,
        ledger=frame,
        window=window,
        scores=compute_scores(window),
        by_step=scores_by_step(window),
        rolling=rolling_errors(frame, window=min(window_days, 20), step=1),
        alerts=alert_history(db, symbol),
        drift=drift_history(db, symbol),
        timeline=champion_timeline(db, symbol, frame),
    )


def calibrate_bundled() -> Any:
    """The drift detectors replayed on the bundled series (``core.monitor.calibration``):
    false alarms per 1,000 calm days and delay after 2008-09-15. ~15 s: run on request."""
    from core.monitor.calibration import calibrate_bundled as replay  # river: ~1.5 s import

    return replay()


def last_bar_age(db: Database, symbol: str, settings: Settings, today: dt.date) -> int | None:
    """Trading days since the last stored bar (data freshness; 0 for a bundled sample)."""
    from core.market.calendar import trading_calendar
    from core.market.listing import exchange_for, is_sample
    from core.market.store import last_date

    last = last_date(db, symbol)
    if last is None:
        return None
    if is_sample(db, symbol):
        return 0
    return trading_calendar(exchange_for(db, symbol, settings.exchange)).count_sessions(
        last, today)


@dataclass(frozen=True)
class SymbolCard:
    """One overview card: price, champion, next forecast, recent skill, alerts, freshness."""

    symbol: str
    last_date: dt.date
    last_close: float
    change: float | None
    stale_days: int
    champion_id: int | None
    champion_label: str | None
    champion_trained_to: dt.date | None
    champion_stale: bool
    next_date: dt.date | None
    next_mean: float | None
    next_lo80: float | None
    next_hi80: float | None
    naive_ratio_30: float | None  # MAE ratio to naive over the last 30 scored target dates
    scored_30: int
    open_alerts: int
    forecast_error: str | None
    sample: bool = False  # a bundled sample: its age is not staleness
    exchange: str = "XNYS"
    spark: tuple[float, ...] = ()  # the last ~120 closes, for the card's sparkline

    @property
    def mase_30(self) -> float | None:
        """Old name of ``naive_ratio_30`` (it never was a MASE); kept for callers written
        before the rename."""
        return self.naive_ratio_30


def _logged_next_forecast(
    ledger: pd.DataFrame, version_id: int, last_date: dt.date
) -> tuple[dt.date, float, float, float] | None:
    """The champion's one-step forecast already issued from the newest bar, if any (the
    daily job, a replay or a page logged it): showing it needs no model at all."""
    if ledger.empty:
        return None
    rows = ledger[(ledger["model_version_id"] == version_id) & (ledger["step"] == 1)
                  & (ledger["data_date"] == pd.Timestamp(last_date))]
    if rows.empty:
        return None
    row = rows.iloc[-1]
    return (pd.Timestamp(row["target_date"]).date(), float(row["mean"]), float(row["lo80"]),
            float(row["hi80"]))


def _label(version: ModelVersion) -> str:
    return str((version.spec or {}).get("label") or version.kind)


def symbol_card(db: Database, settings: Settings, symbol: str, today: dt.date) -> SymbolCard:
    """Build a card; a model that cannot forecast shows its error instead of breaking it."""
    from core.errors import CoreError
    from core.forecast import service
    from core.market.calendar import trading_calendar
    from core.market.listing import exchange_for, is_sample
    from core.market.store import read_bars

    bars = read_bars(db, symbol)
    closes = bars["close"].astype(float)
    last_date = pd.Timestamp(bars["date"].iloc[-1]).date()
    exchange = exchange_for(db, symbol, settings.exchange)
    sample = is_sample(db, symbol)
    with db.read() as session:
        champion = registry.champion(session, symbol)
        frame = ledger_frame(session, symbol)
        open_alerts = len(list(session.scalars(
            select(Alert.id).where(Alert.symbol == symbol, Alert.status == "open"))))
    recent = last_target_dates(frame, 30) if not frame.empty else frame
    scores = compute_scores(recent)
    next_date = next_mean = next_lo = next_hi = None
    error = None
    if champion is not None:
        logged = _logged_next_forecast(frame, champion.id, last_date)
        if logged is not None:
            next_date, next_mean, next_lo, next_hi = logged
        else:
            try:
                # shown, not published: a page view never writes to the ledger
                view = service.forecast(db, settings, symbol, 1, log_to_ledger=False)
            except CoreError as exc:
                error = str(exc)
            else:
                next_date = pd.Timestamp(view.result.dates[0]).date()
                next_mean = float(view.result.mean[0])
                next_lo, next_hi = float(view.result.lo80[0]), float(view.result.hi80[0])
    return SymbolCard(
        symbol=symbol,
        last_date=last_date,
        last_close=float(closes.iloc[-1]),
        change=float(closes.iloc[-1] / closes.iloc[-2] - 1) if len(closes) > 1 else None,
        stale_days=0 if sample else trading_calendar(exchange).count_sessions(last_date, today),
        champion_id=champion.id if champion else None,
        champion_label=_label(champion) if champion else None,
        champion_trained_to=champion.train_end if champion else None,
        champion_stale=bool(champion.stale) if champion else False,
        next_date=next_date, next_mean=next_mean, next_lo80=next_lo, next_hi80=next_hi,
        naive_ratio_30=scores.mae_ratio if scores.n else None,
        scored_30=scores.n,
        open_alerts=open_alerts,
        forecast_error=error,
        sample=sample,
        exchange=exchange,
        spark=tuple(float(c) for c in closes.iloc[-120:]),
    )

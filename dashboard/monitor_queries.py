"""Cached monitoring reads."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import jobs
from core.db.models import Job
from core.monitor import views
from dashboard import charts, queries
from dashboard.resources import app_context

TTL = dt.timedelta(minutes=2)


def latest_retrain(symbol: str) -> tuple[Job | None, str | None]:
    """The symbol's newest retrain job and, when it is queued or running with no live worker
    (its lease expired), why it counts as dead: ``jobs.dead_reason``, the rule by which any
    front door reclaims it. Not cached: the retrain panel polls it."""
    ctx = app_context()
    latest = next((j for j in jobs.recent(ctx.db, symbol=symbol, limit=10)
                   if j.kind == "retrain"), None)
    if latest is None or latest.status not in jobs.ACTIVE:
        return latest, None
    return latest, jobs.dead_reason(latest)


@st.cache_data(ttl=TTL, show_spinner="Scoring the prediction ledger…")
def snapshot(symbol: str, window_days: int) -> views.MonitoringSnapshot:
    ctx = app_context()
    return views.snapshot(ctx.db, ctx.settings, symbol, window_days)


@st.cache_data(ttl=dt.timedelta(hours=24), show_spinner="Replaying the bundled series…")
def drift_calibration() -> pd.DataFrame:
    """The detectors' calibration table on the bundled series, with its verdict rows
    (the bundled data never changes: cached for a day)."""
    return views.calibrate_bundled().summary_frame()


@st.cache_data(ttl=TTL, show_spinner="Preparing the overview…")
def symbol_card(symbol: str, today: dt.date) -> views.SymbolCard:
    ctx = app_context()
    return views.symbol_card(ctx.db, ctx.settings, symbol, today)


def _closed_over(symbol: str, ledger: pd.DataFrame, timeline: pd.DataFrame
                 ) -> pd.DatetimeIndex | None:
    """The exchange's closed days over the monitoring charts' dates (None: no dates)."""
    dates = []
    if not ledger.empty:
        dates += [pd.Timestamp(ledger["target_date"].min()),
                  pd.Timestamp(ledger["target_date"].max())]
    if not timeline.empty:
        dates += [pd.Timestamp(timeline["from"].min()), pd.Timestamp(timeline["until"].max())]
    if not dates:
        return None
    return queries.closed_days(symbol, min(dates).date(), max(dates).date())


@st.cache_resource(ttl=TTL, show_spinner=False, max_entries=64)
def figures(symbol: str, window_days: int, threshold: float,
            coverage_targets: tuple[float, float, float, float] = (0.72, 0.88, 0.90, 0.98),
            ) -> dict[str, go.Figure]:
    """The monitoring charts, built once per (symbol, window) and shared read-only.

    ``coverage_targets`` is (80% low, 80% high, 95% low, 95% high): the gauges flag
    coverage outside them either way, as the coverage alert does.

    Building plotly figures is the bulk of a rerun (validation of every property);
    ``st.plotly_chart`` only reads a figure (``to_dict``), so sharing them is safe.
    """
    snap = snapshot(symbol, window_days)
    closed = _closed_over(symbol, snap.ledger, snap.timeline)
    out: dict[str, go.Figure] = {
        "pva": charts.predicted_vs_actual(snap.ledger, step=1, closed=closed,
                                          title="One-day-ahead forecasts vs actual"),
    }
    if not snap.rolling.empty:
        drift_dates = snap.drift["date"].tolist() if not snap.drift.empty else []
        out["rolling"] = charts.rolling_error(snap.rolling, threshold=threshold, closed=closed,
                                              drift_dates=drift_dates,
                                              title="Rolling error (one day ahead)")
    if snap.scores.n:
        lo80, hi80, lo95, hi95 = coverage_targets
        out["cov80"] = charts.coverage_gauge(snap.scores.coverage80, 0.80, lo80, hi80,
                                             label="80% interval coverage")
        out["cov95"] = charts.coverage_gauge(snap.scores.coverage95, 0.95, lo95, hi95,
                                             label="95% interval coverage")
    if not snap.timeline.empty:
        out["timeline"] = charts.champion_timeline(snap.timeline, closed=closed,
                                                   title="When each model served")
    return out

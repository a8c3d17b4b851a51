"""Cached monitoring reads."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from core.monitor import views
from dashboard.resources import app_context

TTL = dt.timedelta(minutes=2)


@st.cache_data(ttl=TTL, show_spinner="Scoring the prediction ledger…")
def snapshot(symbol: str, window_days: int) -> views.MonitoringSnapshot:
    ctx = app_context()
    return views.snapshot(ctx.db, ctx.settings, symbol, window_days)


@st.cache_data(ttl=dt.timedelta(minutes=30), show_spinner=False)
def calibration(symbol: str, window_days: int) -> list[views.Calibration]:
    return views.calibrate(snapshot(symbol, window_days).ledger)


@st.cache_data(ttl=TTL, show_spinner="Preparing the overview…")
def symbol_card(symbol: str, today: dt.date) -> views.SymbolCard:
    ctx = app_context()
    return views.symbol_card(ctx.db, ctx.settings, symbol, today)

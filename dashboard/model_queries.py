"""Cached reads about saved models and their forecasts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.db.models import ModelVersion
from core.forecast import lifecycle, service
from dashboard.resources import app_context

TTL = dt.timedelta(minutes=5)


def _label(v: ModelVersion) -> str:
    return str((v.spec or {}).get("label") or v.kind)


def _engine(v: ModelVersion) -> str | None:
    """The library that chose the order (auto-ARIMA); None for models without one."""
    return v.engine or ((v.spec or {}).get("options") or {}).get("engine") or None


def version_label(version_id: int, model: str) -> str:
    """How a saved model is named wherever one is chosen: ``model 12 · auto_arima (1,1,1)``."""
    return f"model {version_id} · {model}"


def _beats(v: ModelVersion) -> str:
    return str(((v.backtest or {}).get("beats_naive") or {}).get("text") or "–")


@st.cache_data(ttl=TTL, show_spinner=False)
def versions_table(symbol: str) -> pd.DataFrame:
    rows = [
        {
            "id": v.id,
            "role": v.role,
            "stale": v.stale,
            "model": _label(v),
            "engine": _engine(v),
            "trained": f"{v.train_start:%Y-%m-%d} → {v.train_end:%Y-%m-%d}",
            "days": v.n_obs,
            "AIC": v.aic,
            "backtest RMSE": ((v.backtest or {}).get("summary") or {}).get("rmse"),
            "vs naive": _beats(v),
            "gate": ((v.backtest or {}).get("gate") or {}).get("text", ""),
            "size KB": round(v.artifact_bytes / 1024, 1),
            "by": v.created_by,
            "created": v.created_at,
        }
        for v in service.versions(app_context().db, symbol)
    ]
    columns = ["id", "role", "stale", "model", "engine", "trained", "days", "AIC", "backtest RMSE",
               "vs naive", "gate", "size KB", "by", "created"]
    table = pd.DataFrame(rows, columns=columns)
    # AIC is None for models without a likelihood: a float column shows "-", not "None".
    for name in ("AIC", "backtest RMSE"):
        table[name] = pd.to_numeric(table[name], errors="coerce")
    return table


@st.cache_data(ttl=TTL, show_spinner=False)
def version_labels(symbol: str) -> dict[int, str]:
    """Saved models of ``symbol`` by id, named for a choice box (``format_func``)."""
    return {int(r["id"]): version_label(int(r["id"]), str(r["model"]))
            for r in versions_table(symbol).to_dict("records")}


@dataclass(frozen=True)
class ForecastPayload:
    """A forecast ready for charts and tables (plain data: safe to cache and copy)."""

    symbol: str
    version_id: int
    model: str
    kind: str
    data_date: dt.date
    trained_until: dt.date
    forecast: pd.DataFrame  # date, mean, lo80, hi80, lo95, hi95, naive
    history: pd.Series
    warnings: list[str]
    beats_naive: bool | None
    beats_naive_text: str
    random_walk: bool
    exog_policy: str | None
    band_method: str = ""  # the published bands, e.g. "garch+aci"


@st.cache_data(ttl=TTL, show_spinner="Forecasting…")
def forecast(symbol: str, days: int, version_id: int | None = None) -> ForecastPayload:
    """A forecast to look at: browsing (a horizon, an overlay) logs nothing to the ledger;
    ``log_forecast`` publishes one."""
    ctx = app_context()
    view = service.forecast(ctx.db, ctx.settings, symbol, days, version_id=version_id,
                            log_to_ledger=False)
    frame = view.result.to_frame().reset_index()
    frame["naive"] = view.naive.mean
    return ForecastPayload(
        symbol=view.symbol, version_id=view.version.id, model=_label(view.version),
        kind=view.version.kind, data_date=view.data_date, trained_until=view.version.train_end,
        forecast=frame, history=view.history, warnings=view.warnings,
        beats_naive=view.beats_naive, beats_naive_text=_beats(view.version),
        random_walk=view.random_walk, exog_policy=view.version.exog_policy,
        band_method=view.band_method,
    )


def log_forecast(symbol: str, days: int) -> int:
    """Publish the champion's ``days``-day forecast to the ledger (a write, not cached);
    the ledger keeps one row per (version, data date, target date), so pressing twice
    adds nothing. Returns the rows added."""
    ctx = app_context()
    return service.forecast(ctx.db, ctx.settings, symbol, days, issued_by="dashboard").logged


@st.cache_data(ttl=TTL, show_spinner=False)
def champion_max_horizon(symbol: str) -> int | None:
    """How far the champion can forecast (None: no bound of its own)."""
    version = service.champion(app_context().db, symbol)
    return service.max_horizon(version) if version is not None else None


@st.cache_data(ttl=TTL, show_spinner=False)
def champion_id(symbol: str) -> int | None:
    version = service.champion(app_context().db, symbol)
    return version.id if version else None


@st.cache_data(ttl=TTL, show_spinner=False)
def rollback_choices(symbol: str) -> dict[int, str]:
    """Earlier champions that can be restored, most recently crowned first: id -> label."""
    return {
        v.id: f"model {v.id} · {_label(v)} · trained to {v.train_end}"
        for v in lifecycle.rollback_candidates(app_context().db, symbol)
    }


def clear() -> None:
    """Drop every cached read (after a write: versions, champion, forecasts, choices)."""
    st.cache_data.clear()

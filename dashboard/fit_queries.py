"""Reads for the Model fitting page: the latest fit job and the model it fitted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from core import jobs
from core.db.models import Job
from core.errors import CoreError, ModelNotFound
from core.forecast import drafts
from core.forecast.backtest import METRICS
from core.forecast.diagnostics import Diagnostics, residual_diagnostics
from core.forecast.lstm import LstmCondition
from core.forecast.service import lstm_condition as champion_lstm_condition
from core.monitor import published
from dashboard.resources import app_context

TTL = dt.timedelta(minutes=5)


def latest_job(symbol: str) -> Job | None:
    """The newest fit job of ``symbol`` (not cached: the page polls it)."""
    fits = [j for j in jobs.recent(app_context().db, symbol=symbol, limit=20) if j.kind == "fit"]
    return fits[0] if fits else None


@dataclass(frozen=True)
class FitView:
    """A fitted model ready to render (plain data: safe to cache and copy)."""

    version_id: int
    label: str
    kind: str
    n_obs: int
    aic: float | None
    bic: float | None
    fit_seconds: float
    summary: dict[str, Any]
    backtest: dict[str, Any] | None
    folds: pd.DataFrame | None  # origin, model metrics, naive_<metric>
    steps: pd.DataFrame | None  # step, model metrics, naive_<metric>
    diagnostics: Diagnostics | None
    diagnostics_note: str = ""
    warnings: list[str] = field(default_factory=list)
    band_method: str = ""  # the published bands, e.g. "garch+aci"
    band_scores: pd.DataFrame | None = None  # method, is80, is95, is, coverage80/95, chosen

    @property
    def folds_won(self) -> tuple[int, int] | None:
        verdict = (self.backtest or {}).get("beats_naive")
        if isinstance(verdict, dict):
            return int(verdict.get("folds_won", 0)), int(verdict.get("folds", 0))
        return None


def backtest_frames(report: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-fold and per-step tables from a stored backtest (``BacktestReport.to_dict``)."""
    model = pd.DataFrame(report.get("fold_scores") or []).set_index("fold")
    naive = pd.DataFrame(report.get("naive_scores") or []).set_index("fold")
    naive = naive[[m for m in METRICS if m in naive.columns]].add_prefix("naive_")
    folds = model.join(naive).reset_index()
    per_step = report.get("per_step") or {}
    horizon = int(report.get("horizon") or len(next(iter(per_step.values()), [])))
    idx = pd.RangeIndex(1, horizon + 1, name="step")
    steps = pd.DataFrame(per_step, index=idx).join(
        pd.DataFrame(report.get("naive_per_step") or {}, index=idx).add_prefix("naive_")
    ).reset_index()
    return folds, steps


def md_escape(text: str) -> str:
    """``text`` safe inside Markdown: an ensemble label's ``0.50*ARIMA`` would turn italic."""
    return "".join("\\" + ch if ch in "\\*_`[]#<>" else ch for ch in text)


@dataclass(frozen=True)
class EnsembleView:
    """An ensemble's members by name: their weights and their errors on each weight fold."""

    weighting: str
    weights: pd.DataFrame  # one row, a column per member label
    fold_rmse: pd.DataFrame  # a row per fold, a column per member label


def ensemble_view(summary: dict[str, Any]) -> EnsembleView | None:
    """The weights and per-fold RMSE of an ensemble's summary; None for other models."""
    weights = summary.get("weights")
    members = summary.get("members") or []
    if not weights or len(members) != len(weights):
        return None
    labels = [str(m.get("label") or m.get("kind")) for m in members]
    table = pd.DataFrame([weights], columns=labels)
    fold_rmse = summary.get("member_fold_rmse") or {}
    folds = pd.DataFrame({lab: fold_rmse.get(lab, []) for lab in labels})
    folds.insert(0, "fold", range(1, len(folds) + 1))
    return EnsembleView(str(summary.get("weighting") or "inverse_mse"), table, folds)


@st.cache_data(ttl=TTL, show_spinner=False)
def lstm_condition(symbol: str) -> LstmCondition | None:
    """The requirements' 2% condition for trying an LSTM on ``symbol``'s champion."""
    ctx = app_context()
    return champion_lstm_condition(ctx.db, ctx.settings, symbol)


def band_scores_frame(report: dict[str, Any] | None) -> pd.DataFrame | None:
    """The backtest's band methods side by side (naive beside them), the chosen one
    marked; None for a backtest from before band scoring."""
    scores = (report or {}).get("band_scores") or {}
    if not scores:
        return None
    chosen = (report or {}).get("band_method")
    rows = [{"bands": m, **v, "chosen": m == chosen} for m, v in scores.items()]
    columns = ["bands", "is80", "is95", "is", "coverage80", "coverage95", "chosen"]
    return pd.DataFrame(rows)[columns]


def current_role(version_id: int) -> str | None:
    """The version's role now (draft until saved); None once a newer draft replaced it.
    Not cached: "Save as challenger" changes it."""
    try:
        return drafts.get(app_context().db, version_id).role
    except ModelNotFound:
        return None


@st.cache_data(ttl=TTL, show_spinner="Loading the fitted model…")
def fit_view(version_id: int) -> FitView:
    """Everything the page shows about a fitted version (its fit does not change)."""
    loaded = drafts.load(app_context().db, version_id)
    v = loaded.version
    summary = loaded.forecaster.summary()
    folds = steps = None
    if v.backtest and v.backtest.get("fold_scores"):
        folds, steps = backtest_frames(v.backtest)
    diagnostics, note = None, ""
    try:
        diagnostics = residual_diagnostics(loaded.forecaster.residuals())
    except (CoreError, ValueError) as exc:
        note = str(exc)
    return FitView(
        version_id=v.id, label=str((v.spec or {}).get("label") or v.kind),
        kind=v.kind, n_obs=v.n_obs, aic=v.aic, bic=v.bic, fit_seconds=v.fit_seconds,
        summary=summary, backtest=v.backtest, folds=folds, steps=steps,
        diagnostics=diagnostics, diagnostics_note=note, warnings=loaded.warnings,
        band_method=str((v.spec or {}).get("band_method") or published.band_method(
            loaded.forecaster.band_base, published.calibration_of(v.spec))),
        band_scores=band_scores_frame(v.backtest),
    )


def clear() -> None:
    fit_view.clear()
    lstm_condition.clear()

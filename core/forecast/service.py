"""Forecasting use cases: fit, save, forecast, promote, roll back, retrain.

Every front door (pages, CLI, jobs, API) calls these. Writes check the actor's role and
run in one transaction; an artifact is written before its row and removed again if the
row cannot be written, so nothing half-saved is left behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.auth import Actor, require_analyst
from core.db.engine import Database
from core.db.models import ModelVersion
from core.errors import ModelNotFound, ValidationFailed
from core.forecast import registry
from core.forecast.artifacts import write_artifact
from core.forecast.backtest import BacktestReport, backtest
from core.forecast.base import Forecaster
from core.forecast.checks import check_horizon, finite_or_none
from core.forecast.factory import (
    KINDS,
    forecaster_from_state,
    make_forecaster,
    with_product_defaults,
)
from core.forecast.lstm import LstmCondition, epoch_progress
from core.forecast.result import ForecastResult
from core.market.listing import exchange_for
from core.market.series import PreparedBars, load_series
from core.monitor.published import DEFAULT_CALIBRATION, band_method
from core.settings import Settings
from core.symbols import check_symbol

Progress = Callable[[float, str], None]
EXOG_SOURCE = {"open": "open", "high": "high", "low": "low", "volume": "volume"}


def _noop(fraction: float, message: str) -> None:
    return None


@dataclass(frozen=True)
class FitRequest:
    """What an analyst asked for. ``options`` are the forecaster's own settings."""

    symbol: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    start: dt.date | None = None
    end: dt.date | None = None
    adjust: str = "split"
    outlier_policy: str = "use"
    folds: int = 5
    horizon: int = 5
    step: int | None = None

    def spec(self) -> dict[str, Any]:
        """Everything needed to fit this model again on new data (stored with the version)."""
        return {
            "kind": self.kind,
            "options": self.options,
            "adjust": self.adjust,
            "outlier_policy": self.outlier_policy,
            "folds": self.folds,
            "horizon": self.horizon,
            "step": self.step,
        }


@dataclass
class TrainingData:
    bars: PreparedBars
    y: pd.Series
    X: pd.DataFrame | None


@dataclass
class FittedModel:
    request: FitRequest
    forecaster: Forecaster
    data: TrainingData
    fit_seconds: float
    backtest: BacktestReport | None

    @property
    def summary(self) -> dict[str, Any]:
        return self.forecaster.summary()


def fingerprint(y: pd.Series) -> str:
    """SHA-256 of the training values and dates: identifies the exact data a model saw."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(y.to_numpy(dtype=np.float64)).tobytes())
    digest.update(pd.DatetimeIndex(y.index).to_numpy(dtype="datetime64[ns]").tobytes())
    return digest.hexdigest()


def exog_columns(options: dict[str, Any]) -> list[str]:
    """The exogenous columns an ARIMAX request needs (its ``exog`` option)."""
    return [str(c) for c in options.get("exog") or ()]


def training_data(
    db: Database,
    settings: Settings,
    symbol: str,
    *,
    start: dt.date | None,
    end: dt.date | None,
    adjust: str,
    outlier_policy: str,
    columns: list[str],
) -> TrainingData:
    bars = load_series(
        db, symbol, adjust=adjust, outlier_policy=outlier_policy, start=start, end=end,
        exchange=exchange_for(db, symbol, settings.exchange),
    )
    y = bars.close
    X = None
    if columns:
        frame = bars.frame.set_index(pd.DatetimeIndex(bars.frame["date"]))
        missing = [c for c in columns if c not in EXOG_SOURCE]
        if missing:
            raise ValidationFailed(
                f"unknown exogenous column(s) {missing}; valid: {', '.join(EXOG_SOURCE)}"
            )
        X = frame[[EXOG_SOURCE[c] for c in columns]].astype(float)
        X.columns = columns
    return TrainingData(bars=bars, y=y, X=X)


def fit_model(
    db: Database, settings: Settings, request: FitRequest, *, progress: Progress = _noop
) -> FittedModel:
    """Fit the requested model and backtest it against naive on rolling origins (no save)."""
    symbol = check_symbol(request.symbol)
    if request.kind not in KINDS:
        raise ValidationFailed(f"unknown model {request.kind!r}; valid: {', '.join(KINDS)}")
    if request.folds < 0:
        raise ValidationFailed(
            f"folds must be 0 (no backtest) or more, got {request.folds}")
    progress(0.02, f"Loading {symbol}")
    data = training_data(
        db, settings, symbol, start=request.start, end=request.end, adjust=request.adjust,
        outlier_policy=request.outlier_policy, columns=exog_columns(request.options),
    )
    progress(0.1, f"Fitting {request.kind} on {len(data.y):,} trading days")
    exchange = exchange_for(db, symbol, settings.exchange)
    options = with_product_defaults(request.kind, request.options)
    forecaster = make_forecaster(request.kind, exchange=exchange, **options)
    # Neural members report each epoch (and a cancelled job stops them between epochs):
    # the report goes under the stage (fit or backtest fold) it belongs to.
    at: list[float] = [0.1, 0.25]  # the stage's start and span of the overall fraction
    text: list[str] = [f"Fitting {request.kind}"]

    def on_epoch(fraction: float, message: str) -> None:
        progress(at[0] + at[1] * fraction, f"{text[0]} · {message}")

    started = time.perf_counter()
    with epoch_progress(on_epoch):
        forecaster.fit(data.y, data.X)
    fit_seconds = time.perf_counter() - started
    report = None
    if request.folds > 0:
        progress(0.35, f"Backtesting on {request.folds} rolling origins")

        def on_fold(fraction: float, message: str) -> None:
            at[:], text[:] = [0.35 + 0.6 * fraction, 0.0], [message]
            progress(0.35 + 0.6 * fraction, message)

        with epoch_progress(on_epoch):
            report = backtest(
                lambda: make_forecaster(request.kind, exchange=exchange, **options),
                data.y, data.X, folds=request.folds, horizon=request.horizon,
                step=request.step, refit="every", progress=on_fold,
            )
    if report is not None:
        choose_band_layer(forecaster, report)
    progress(1.0, "Fitted")
    return FittedModel(request, forecaster, data, fit_seconds, report)


def choose_band_layer(forecaster: Forecaster, report: BacktestReport) -> None:
    """Serve the band method the backtest scored best (lowest mean interval score at 80%
    and 95% on its folds): a GARCH layer that lost to the mean model's own Gaussian bands
    is dropped, and the warning says so with both scores."""
    scores, chosen = report.band_scores, report.band_method
    base = forecaster.band_base
    serve = getattr(forecaster, "serve_gaussian", None)
    if chosen == "gaussian" and base != "gaussian" and serve is not None and base in scores:
        serve(f"the backtest scored the Gaussian bands better than {base} (interval score "
              f"{scores['gaussian']['is']:.3f} vs {scores[base]['is']:.3f} % of price); "
              "serving Gaussian bands")


def describe_fit(fitted: FittedModel) -> registry.NewVersion:
    """What the registry records about a fit: spec, window, fingerprint, criteria, backtest."""
    request = fitted.request
    summary = fitted.forecaster.criteria()  # no standard errors: a page asks for those
    y = fitted.data.y
    return registry.NewVersion(
        symbol=check_symbol(request.symbol),
        kind=request.kind,
        engine=request.options.get("engine"),
        spec={**request.spec(), "order": summary.get("order"), "label": fitted.forecaster.label,
              "calibration": DEFAULT_CALIBRATION,
              "band_method": band_method(fitted.forecaster.band_base, DEFAULT_CALIBRATION)},
        exog_policy=request.options.get("exog_policy") if request.kind == "arimax" else None,
        train_start=pd.Timestamp(y.index[0]).date(),
        train_end=pd.Timestamp(y.index[-1]).date(),
        n_obs=len(y),
        data_fingerprint=fingerprint(y),
        fit_seconds=fitted.fit_seconds,
        aic=finite_or_none(summary.get("aic")),
        bic=finite_or_none(summary.get("bic")),
        backtest=fitted.backtest.to_dict() if fitted.backtest is not None else None,
    )


def save_model(
    db: Database, settings: Settings, fitted: FittedModel, actor: Actor
) -> ModelVersion:
    """Write the artifact atomically, then its registry row; the first model is champion."""
    require_analyst(actor, "save a model")
    request = fitted.request
    state = fitted.forecaster.to_state()
    path = registry.artifact_path(settings.model_dir, request.symbol)
    sha256, size = write_artifact(path, state)
    new = describe_fit(fitted)
    try:
        # Locked like a promotion: the symbol's first model becomes its champion.
        with db.locked(registry.lock_scope(new.symbol)) as session:
            return registry.add_version(
                session, new, path=path, sha256=sha256, size=size, created_by=actor.name
            )
    except BaseException:
        path.unlink(missing_ok=True)  # no orphan artifact without its row
        raise


def versions(db: Database, symbol: str) -> list[ModelVersion]:
    with db.read() as session:
        return registry.list_versions(session, check_symbol(symbol))


def champion(db: Database, symbol: str) -> ModelVersion | None:
    with db.read() as session:
        return registry.champion(session, check_symbol(symbol))


@dataclass
class LoadedModel:
    version: ModelVersion
    forecaster: Forecaster
    data: TrainingData
    warnings: list[str]
    new_observations: int


def load_model(
    db: Database, settings: Settings, symbol: str, *, version_id: int | None = None
) -> LoadedModel:
    """Load a saved model (the champion by default) and refresh it with newer observations.

    The daily refresh keeps the stored order and parameters and only filters the new data
    (``update``), instead of searching for an order again.
    """
    symbol = check_symbol(symbol)
    with db.read() as session:
        if version_id is None:
            version = registry.champion(session, symbol)
            if version is None:
                raise ModelNotFound(
                    f"{symbol} has no champion model yet; fit one on the Model fitting page "
                    f"or run `python -m core fit --symbol {symbol} --model auto_arima`"
                )
        else:
            version = registry.get_version(session, version_id)
            if version.symbol != symbol:
                raise ModelNotFound(f"model {version_id} belongs to {version.symbol}, not {symbol}")
    loaded = registry.load_state(version)
    forecaster = forecaster_from_state(loaded.state)
    spec = version.spec
    data = training_data(
        db, settings, symbol, start=version.train_start, end=None,
        adjust=spec.get("adjust", "split"), outlier_policy=spec.get("outlier_policy", "use"),
        columns=exog_columns(spec.get("options", {})),
    )
    after = data.y.index > pd.Timestamp(version.train_end)
    n_new = int(after.sum())
    if n_new:
        new_X = data.X[after] if data.X is not None else None
        forecaster.update(data.y[after], new_X)
    return LoadedModel(version, forecaster, data, loaded.warnings, n_new)


@dataclass
class ForecastView:
    symbol: str
    version: ModelVersion
    result: ForecastResult
    naive: ForecastResult
    history: pd.Series
    warnings: list[str]
    beats_naive: bool | None
    random_walk: bool
    data_date: dt.date
    logged: int = 0  # ledger rows this call added (0 when not asked to log, or logged before)
    band_method: str = "model"  # the published bands, e.g. "garch+aci" (core.monitor.published)
    band_scales: tuple[list[float], list[float]] = ((), ())  # type: ignore[assignment]


def max_horizon(version: ModelVersion) -> int | None:
    """The furthest a saved model can forecast, or None when it has no bound of its own.

    An ARIMAX that lags its regressors by H trading days (``exog_policy="lagged"``, H the
    horizon it was fitted for) knows its regressors only H days ahead."""
    if version.kind != "arimax" or (version.exog_policy or "lagged") != "lagged":
        return None
    options = (version.spec or {}).get("options") or {}
    lag = options.get("horizon")
    if lag is None:  # fitted with the estimator's default horizon
        import inspect

        from core.forecast.arimax import ARIMAX

        lag = inspect.signature(ARIMAX).parameters["horizon"].default
    return int(lag) if isinstance(lag, int | float) and lag >= 1 else None


def _beats_naive(version: ModelVersion) -> bool | None:
    report = version.backtest or {}
    verdict = report.get("beats_naive")
    if isinstance(verdict, dict):
        won, total = verdict.get("folds_won"), verdict.get("folds")
        if isinstance(won, int) and isinstance(total, int) and total:
            return won * 2 > total
    if isinstance(verdict, bool):
        return verdict
    return None


def forecast(
    db: Database,
    settings: Settings,
    symbol: str,
    days: int,
    *,
    version_id: int | None = None,
    issued_by: str = "dashboard",
    log_to_ledger: bool = True,
) -> ForecastView:
    """The champion's (or a chosen version's) forecast ``days`` trading days ahead.

    The naive forecast for the same targets is computed beside it, and both go to the
    prediction ledger so the monitoring page can score them when actuals arrive. The bands
    are the published ones: the model's own, corrected per step by the adaptive conformal
    layer that the symbol's reconciled ledger drives (``core.monitor.published``; the
    version's ``calibration`` can switch it off).
    """
    from core.monitor import ledger, published

    days = check_horizon(days)
    loaded = load_model(db, settings, symbol, version_id=version_id)
    y = loaded.data.y
    data_date = pd.Timestamp(y.index[-1]).date()
    log = bool(getattr(loaded.forecaster, "log", True))
    with db.read() as session:
        bands = published.publish_bands(
            session, loaded.version.symbol, loaded.forecaster.predict(days), log=log,
            base=loaded.forecaster.band_base,
            calibration=published.calibration_of(loaded.version.spec), as_of=data_date,
        )  # fmt: skip
    result = bands.result
    naive = make_forecaster("naive", log=log,
                            exchange=loaded.data.bars.exchange).fit(y).predict(days)
    logged = 0
    if log_to_ledger:
        with db.begin() as session:
            logged = ledger.log_forecast(
                session, symbol=loaded.version.symbol, model_version_id=loaded.version.id,
                data_date=data_date, dates=list(result.dates), mean=result.mean.tolist(),
                lo80=result.lo80.tolist(), hi80=result.hi80.tolist(), lo95=result.lo95.tolist(),
                hi95=result.hi95.tolist(), naive=naive.mean.tolist(),
                last_value=float(y.iloc[-1]), exog_policy=loaded.version.exog_policy,
                issued_by=issued_by,
            )
    # A random walk is a forecast that IS the last price at every step (naive, or
    # ARIMA(0,1,0) without drift); judged on the forecast itself, so an ARIMA(0,1,0) with
    # drift or a drift model, whose line slopes, never gets the banner.
    random_walk = bool(np.allclose(result.mean, float(y.iloc[-1]), rtol=1e-9, atol=0.0))
    return ForecastView(
        symbol=loaded.version.symbol, version=loaded.version, result=result, naive=naive,
        history=y, warnings=loaded.warnings, beats_naive=_beats_naive(loaded.version),
        random_walk=random_walk, data_date=data_date, logged=logged,
        band_method=bands.method,
        band_scales=(bands.scale80.tolist(), bands.scale95.tolist()),
    )


def lstm_condition(db: Database, settings: Settings, symbol: str) -> LstmCondition | None:
    """The requirements' condition for trying an LSTM, on ``symbol``'s champion: its
    backtest RMSE against the last stored close (in the champion's adjustment). None when
    there is no champion or it has no backtest."""
    current = champion(db, symbol)
    if current is None:
        return None
    rmse = finite_or_none(((current.backtest or {}).get("summary") or {}).get("rmse"))
    if rmse is None:
        return None
    spec = current.spec or {}
    bars = load_series(db, current.symbol, adjust=spec.get("adjust", "split"),
                       outlier_policy=spec.get("outlier_policy", "use"),
                       exchange=exchange_for(db, current.symbol, settings.exchange))
    return LstmCondition(rmse=rmse, price=float(bars.close.iloc[-1]))

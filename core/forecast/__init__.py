"""Forecasting engine: ARIMA-family and baseline forecasters, backtesting and metrics.

Every forecaster shares one interface (:class:`core.forecast.base.Forecaster`):
``fit(y, X) -> self``, ``update(new_y, new_X) -> self``, ``predict(h, X_future) ->
ForecastResult``, ``to_state() -> dict`` / ``from_state(state)``, ``summary()``,
``residuals()``. Build one by name with :func:`make_forecaster`.
"""

from __future__ import annotations

from core.forecast.factory import KINDS, forecaster_from_state, make_forecaster
from core.forecast.result import ForecastResult

__all__ = ["KINDS", "ForecastResult", "forecaster_from_state", "make_forecaster"]

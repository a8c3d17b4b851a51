"""Forecasting engine: ARIMA-family and baseline forecasters, backtesting and metrics.

Every forecaster shares one interface (:class:`core.forecast.base.Forecaster`):
``fit(y, X) -> self``, ``update(new_y, new_X) -> self``, ``predict(h, X_future) ->
ForecastResult``, ``to_state() -> dict`` / ``from_state(state)``, ``summary()``,
``residuals()``. Build one by name with :func:`make_forecaster`.

The names below are imported lazily (PEP 562): reading the registry or the ledger must
not pay for importing statsmodels and statsforecast (~2 s), which only fitting and
forecasting need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.forecast.factory import KINDS, forecaster_from_state, make_forecaster
    from core.forecast.result import ForecastResult

__all__ = ["KINDS", "ForecastResult", "forecaster_from_state", "make_forecaster"]


def __getattr__(name: str) -> Any:
    if name in ("KINDS", "forecaster_from_state", "make_forecaster"):
        from core.forecast import factory

        return getattr(factory, name)
    if name == "ForecastResult":
        from core.forecast.result import ForecastResult

        return ForecastResult
    raise AttributeError(f"module 'core.forecast' has no attribute {name!r}")

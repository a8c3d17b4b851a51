"""Build a forecaster by kind name, or rebuild one from its saved state."""

from __future__ import annotations

from typing import Any

from core.errors import ValidationFailed
from core.forecast.arima import ARIMA, AutoARIMA
from core.forecast.arimax import ARIMAX
from core.forecast.base import Forecaster
from core.forecast.baselines import Drift, Naive
from core.forecast.ensemble import Ensemble
from core.forecast.lstm import LSTM

KINDS: dict[str, type[Forecaster]] = {
    "auto_arima": AutoARIMA,
    "arima": ARIMA,
    "arimax": ARIMAX,
    "naive": Naive,
    "drift": Drift,
    "lstm": LSTM,
    "ensemble": Ensemble,
}


def _cls(kind: str) -> type[Forecaster]:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValidationFailed(
            f"unknown forecaster kind {kind!r}; valid kinds: {', '.join(KINDS)}"
        ) from None


def make_forecaster(kind: str, **options: Any) -> Forecaster:
    """An unfitted forecaster, e.g. ``make_forecaster("arima", order=(1, 1, 1))``."""
    cls = _cls(kind)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ValidationFailed(f"bad options for {kind}: {exc}") from exc


def forecaster_from_state(state: dict[str, Any]) -> Forecaster:
    """The fitted forecaster that ``to_state()`` saved."""
    if not isinstance(state, dict) or "kind" not in state:
        raise ValidationFailed("not a forecaster state (expected a dict with a 'kind')")
    return _cls(state["kind"]).from_state(state)

"""Build a forecaster by kind name, or rebuild one from its saved state.

Classes are imported on first use: naming the kinds (a CLI parser, a page's model list)
must not pay for statsmodels, statsforecast or Keras, which only fitting and forecasting need.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from core.errors import ValidationFailed

if TYPE_CHECKING:
    from core.forecast.base import Forecaster

# kind -> "module:Class"; the order is the order the product lists them in.
_CLASSES: dict[str, str] = {
    "auto_arima": "core.forecast.arima:AutoARIMA",
    "arima": "core.forecast.arima:ARIMA",
    "arimax": "core.forecast.arimax:ARIMAX",
    "naive": "core.forecast.baselines:Naive",
    "drift": "core.forecast.baselines:Drift",
    "lstm": "core.forecast.lstm:LSTM",
    "ensemble": "core.forecast.ensemble:Ensemble",
}
KINDS: tuple[str, ...] = tuple(_CLASSES)


# The product's band layer for the ARIMA family (python -m core evaluate: on the bundled
# series GARCH-t bands improved the pooled interval score by ~18% in 2008 and ~10% in a calm
# year over the Gaussian bands). An explicit ``bands`` option wins.
PRODUCT_BANDS: dict[str, str] = {"auto_arima": "garch", "arima": "garch"}


def with_product_defaults(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the product's default band layer for ``kind`` filled in."""
    if kind in PRODUCT_BANDS and "bands" not in options:
        return {**options, "bands": PRODUCT_BANDS[kind]}
    return dict(options)


def forecaster_class(kind: str) -> type[Forecaster]:
    """The class of ``kind`` (imported now if it was not yet)."""
    try:
        module, name = _CLASSES[kind].split(":")
    except KeyError:
        raise ValidationFailed(
            f"unknown forecaster kind {kind!r}; valid kinds: {', '.join(KINDS)}"
        ) from None
    cls: type[Forecaster] = getattr(import_module(module), name)
    return cls


def make_forecaster(kind: str, **options: Any) -> Forecaster:
    """An unfitted forecaster, e.g. ``make_forecaster("arima", order=(1, 1, 1))``."""
    cls = forecaster_class(kind)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ValidationFailed(f"bad options for {kind}: {exc}") from exc


def forecaster_from_state(state: dict[str, Any]) -> Forecaster:
    """The fitted forecaster that ``to_state()`` saved."""
    if not isinstance(state, dict) or "kind" not in state:
        raise ValidationFailed("not a forecaster state (expected a dict with a 'kind')")
    return forecaster_class(state["kind"]).from_state(state)

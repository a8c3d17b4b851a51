"""Small input checks shared by every forecaster; each raises a message naming what is wrong."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from core.errors import NotEnoughHistory, ValidationFailed

MAX_HORIZON = 365
EXOG_COLUMNS = ("open", "high", "low", "volume")


def check_series(y: pd.Series) -> None:
    """A price series: a pandas Series on a strictly increasing DatetimeIndex."""
    if not isinstance(y, pd.Series):
        raise ValidationFailed(f"y must be a pandas Series of prices, got {type(y).__name__}")
    if not isinstance(y.index, pd.DatetimeIndex):
        raise ValidationFailed("y must be indexed by a DatetimeIndex of trading days")
    if not y.index.is_monotonic_increasing or y.index.has_duplicates:
        raise ValidationFailed("y's dates must be strictly increasing (sorted, no duplicates)")


def check_length(have: int, need: int) -> None:
    if have < need:
        raise NotEnoughHistory(f"needs at least {need:,} trading days, {have:,} given")


def check_finite(values: np.ndarray, what: str = "y") -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValidationFailed(
            f"{what} has {int(bad.sum()):,} NaN or infinite values (first at position "
            f"{int(np.argmax(bad))}); fill or drop them before fitting"
        )


def check_not_constant(values: np.ndarray, what: str = "y") -> None:
    if len(values) and np.ptp(values) == 0:
        raise ValidationFailed(f"{what} is constant ({values[0]!r}); nothing to model")


def check_positive(values: np.ndarray, what: str = "y") -> None:
    """Log models need strictly positive prices."""
    bad = values <= 0
    if bad.any():
        raise ValidationFailed(
            f"{what} has {int(bad.sum()):,} non-positive values (e.g. {values[bad][0]!r}); "
            "log=True needs prices > 0 (use log=False)"
        )


def check_horizon(h: object) -> int:
    if isinstance(h, bool) or not isinstance(h, int | np.integer) or not 1 <= int(h) <= MAX_HORIZON:
        raise ValidationFailed(f"horizon must be an integer from 1 to {MAX_HORIZON}, got {h!r}")
    return int(h)


def check_exog(X: pd.DataFrame | None, columns: Iterable[str], index: pd.DatetimeIndex,
               what: str = "X") -> pd.DataFrame:
    """``X`` must carry every column in ``columns`` on exactly ``index``, finite."""
    cols = list(columns)
    if X is None:
        raise ValidationFailed(f"{what} is required with exogenous columns {cols}")
    missing = [c for c in cols if c not in X.columns]
    if missing:
        raise ValidationFailed(
            f"{what} lacks exogenous column(s) {missing}; it has {list(X.columns)}"
        )
    if not X.index.equals(index):
        raise ValidationFailed(f"{what} must be on the same dates as y")
    out = X[cols].astype(np.float64)
    check_finite(out.to_numpy(), what)
    return out


def check_exog_names(columns: Iterable[str]) -> list[str]:
    cols = list(columns)
    bad = [c for c in cols if c not in EXOG_COLUMNS]
    if bad or not cols:
        raise ValidationFailed(
            f"exogenous columns must be a non-empty subset of {list(EXOG_COLUMNS)}, got {cols}"
        )
    return cols


def check_choice(name: str, value: object, valid: Iterable[object]) -> None:
    options = list(valid)
    if value not in options:
        raise ValidationFailed(f"{name} must be one of {options}, got {value!r}")


def finite_or_none(value: object) -> float | None:
    """``value`` as a float when it is a finite number, else None (AIC of a baseline, NaN).

    >>> finite_or_none("1.5"), finite_or_none(float("nan")), finite_or_none(None)
    (1.5, None, None)
    """
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None

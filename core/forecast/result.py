"""The typed result of every forecaster's ``predict``: dates, median/mean and 80/95% bounds."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import ValidationFailed

_TOL = 1e-9


@dataclass(frozen=True)
class ForecastResult:
    """A forecast for ``len(dates)`` trading days after the last observation.

    ``mean`` is the point forecast in price units. For log-price models it is the
    back-transformed mean of the log forecast, i.e. the *median* of the price forecast.
    Bounds are checked on construction: ``lo95 <= lo80 <= mean <= hi80 <= hi95``.
    """

    dates: pd.DatetimeIndex
    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    model: str

    def __post_init__(self) -> None:
        n = len(self.dates)
        for name in ("mean", "lo80", "hi80", "lo95", "hi95"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise ValidationFailed(f"{name} has shape {arr.shape}, expected ({n},)")
            if not np.all(np.isfinite(arr)):
                raise ValidationFailed(f"{self.model}: forecast {name} is not finite")
            object.__setattr__(self, name, arr)
        chain = (self.lo95, self.lo80, self.mean, self.hi80, self.hi95)
        for a, b in itertools.pairwise(chain):
            if np.any(a > b + _TOL * np.maximum(1.0, np.abs(b))):
                raise ValidationFailed(
                    f"{self.model}: forecast bounds out of order "
                    "(need lo95<=lo80<=mean<=hi80<=hi95)"
                )

    @property
    def horizon(self) -> int:
        return len(self.dates)

    def to_frame(self) -> pd.DataFrame:
        """One row per forecast date with columns mean, lo80, hi80, lo95, hi95."""
        return pd.DataFrame(
            {
                "mean": self.mean,
                "lo80": self.lo80,
                "hi80": self.hi80,
                "lo95": self.lo95,
                "hi95": self.hi95,
            },
            index=pd.DatetimeIndex(self.dates, name="date"),
        )

"""Baselines every model must beat: the naive (random walk) and drift forecasts.

Both work in log prices when ``log=True``, like the ARIMA models, and are first-class
forecasters (saved, updated and backtested the same way). Formulas follow Hyndman &
Athanasopoulos, *Forecasting: Principles and Practice*, section 5.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.forecast.base import Forecaster


class Naive(Forecaster):
    """Tomorrow equals today: mean = last value, sd_h = sigma * sqrt(h), with sigma the
    RMS of the in-sample one-step differences. Equivalent to ARIMA(0,1,0) with fixed sigma2.

    ``update`` keeps sigma2 (like the ARIMA models keep their params) and moves the origin.
    """

    kind = "naive"
    n_params = 1

    def min_obs(self) -> int:
        return 3

    def _diffs(self) -> np.ndarray:
        return np.diff(self._to_work(self.values_))

    def _fit(self) -> None:
        self.sigma2_ = float(np.mean(self._diffs() ** 2))

    def _update(self, n_new: int) -> None:
        pass  # parameters are kept; the new origin is simply the last value

    def _forecast_work(self, h: int, X_future: pd.DataFrame | None,
                       dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        steps = np.arange(1, h + 1, dtype=np.float64)
        last = float(self._to_work(self.values_[-1:])[0])
        return np.full(h, last), self.sigma2_ * steps

    def _residuals(self) -> np.ndarray:
        return self._diffs()

    def _summary(self) -> dict[str, Any]:
        resid = self._residuals()
        n = len(resid)
        s2 = float(np.mean(resid**2)) if n else self.sigma2_
        llf = -0.5 * n * (np.log(2 * np.pi * max(s2, 1e-300)) + 1)
        k = self.n_params
        return {"order": [0, 1, 0], "aic": float(-2 * llf + 2 * k),
                "bic": float(-2 * llf + k * np.log(max(n, 1))), "coefficients": self._coefs()}

    def _coefs(self) -> dict[str, Any]:
        return {"sigma2": {"coef": self.sigma2_, "se": None}}

    def _learned_state(self) -> dict[str, Any]:
        return {"sigma2": self.sigma2_}

    def _restore(self, learned: dict[str, Any]) -> None:
        self.sigma2_ = float(learned["sigma2"])


class Drift(Naive):
    """Random walk with drift: mean = last + b*h with b = (y_T - y_1)/(T-1), and
    sd_h = sigma * sqrt(h * (1 + h/(T-1))), where the second term is the uncertainty of the
    estimated drift; sigma2 = sum((diff - b)^2) / (T-2).

    ``update`` keeps b and sigma2 and moves the origin; T counts all observations.
    """

    kind = "drift"
    n_params = 2

    def _fit(self) -> None:
        d = self._diffs()
        self.drift_ = float(np.mean(d))
        self.sigma2_ = float(np.sum((d - self.drift_) ** 2) / max(len(d) - 1, 1))

    def _forecast_work(self, h: int, X_future: pd.DataFrame | None,
                       dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        steps = np.arange(1, h + 1, dtype=np.float64)
        last = float(self._to_work(self.values_[-1:])[0])
        n = len(self.values_)
        return last + self.drift_ * steps, self.sigma2_ * steps * (1 + steps / (n - 1))

    def _residuals(self) -> np.ndarray:
        return self._diffs() - self.drift_

    def _coefs(self) -> dict[str, Any]:
        d = self._diffs()
        se = float(np.sqrt(self.sigma2_ / max(len(d), 1)))
        return {"drift": {"coef": self.drift_, "se": se},
                "sigma2": {"coef": self.sigma2_, "se": None}}

    def _learned_state(self) -> dict[str, Any]:
        return {"sigma2": self.sigma2_, "drift": self.drift_}

    def _restore(self, learned: dict[str, Any]) -> None:
        self.sigma2_ = float(learned["sigma2"])
        self.drift_ = float(learned["drift"])

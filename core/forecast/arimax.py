"""ARIMAX: ARIMA on prices with exogenous regressors from the same day's bar data
(open/high/low/volume), with an explicit policy for the future values of those regressors.

Close is never regressed on same-day Open/High/Low (that would leak the answer): every
regressor is lagged by at least one trading day.

* ``exog_policy="lagged"``: regress y_t on X_{t-H}, H = ``horizon`` fixed at fit. Every
  forecast up to H days ahead needs only exog values already observed; forecasts beyond
  H are refused.
* ``exog_policy="forecast"``: regress y_t on X_{t-1}; the future exog values are forecast
  by one ARIMA(``exog_order``) per column (their uncertainty is not propagated, so the
  intervals are somewhat too narrow).

Price columns are modelled in logs when ``log=True``; volume always as log(1+volume).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.errors import FitFailed, ValidationFailed
from core.forecast import checks
from core.forecast import statespace as ss
from core.forecast.arima import ARIMA, trend_for
from core.forecast.sarimax import SarimaxForecaster, check_bands

POLICIES = ("lagged", "forecast")


class ARIMAX(SarimaxForecaster):
    """ARIMA(order) with lagged exogenous regressors; see the module docstring."""

    kind = "arimax"

    def __init__(self, exog: tuple[str, ...] | list[str] = ("volume",),
                 exog_policy: str = "lagged", horizon: int = 30,
                 order: tuple[int, int, int] = (1, 1, 0), with_constant: bool = False,
                 exog_order: tuple[int, int, int] = (1, 1, 0), log: bool = True,
                 exchange: str = "XNYS", bands: str = "gaussian") -> None:
        super().__init__(log=log, exchange=exchange)
        self.bands = check_bands(bands)
        self.exog = tuple(checks.check_exog_names(exog))
        checks.check_choice("exog_policy", exog_policy, POLICIES)
        self.exog_policy = exog_policy
        self.horizon = checks.check_horizon(horizon)
        self.order: tuple[int, int, int] = (int(order[0]), int(order[1]), int(order[2]))
        self.with_constant = with_constant
        self.exog_order: tuple[int, int, int] = (
            int(exog_order[0]), int(exog_order[1]), int(exog_order[2]))
        trend_for(self.order[1], with_constant)
        self.exog_columns = self.exog

    def min_obs(self) -> int:
        p, d, q = self.order
        return self._lag() + max(20, 2 * (p + q + d + len(self.exog)) + 10)

    def _lag(self) -> int:
        return self.horizon if self.exog_policy == "lagged" else 1

    def _exog_work(self, raw: np.ndarray) -> np.ndarray:
        out = np.empty_like(raw)
        for j, col in enumerate(self.exog):
            if col == "volume":
                out[:, j] = np.log1p(np.maximum(raw[:, j], 0.0))
            elif self.log:
                if np.any(raw[:, j] <= 0):
                    raise ValidationFailed(f"X[{col!r}] has non-positive prices; use log=False")
                out[:, j] = np.log(raw[:, j])
            else:
                out[:, j] = raw[:, j]
        return out

    def _exog_names(self) -> list[str]:
        return ss.trend_names(self.trend_) + [f"{c}.L{self._lag()}" for c in self.exog]

    def _design(self) -> tuple[np.ndarray, np.ndarray]:
        z = self._to_work(self.values_)
        xw = self._exog_work(np.asarray(self.exog_))
        lag = self._lag()
        trend = ss.trend_columns(self.trend_, 0, len(z) - lag)
        return z[lag:], np.hstack([trend, xw[:-lag]])

    def _future_exog(self, h: int, X_future: pd.DataFrame | None,
                     dates: pd.DatetimeIndex) -> np.ndarray:
        n, lag = len(self.values_), self._lag()
        if h > lag and self.exog_policy == "lagged":
            raise ValidationFailed(
                f"this ARIMAX lags its regressors by {lag} trading days, so it forecasts at most "
                f"{lag} days ahead; got horizon {h} (refit with horizon={h})"
            )
        xw = self._exog_work(np.asarray(self.exog_))
        trend = ss.trend_columns(self.trend_, n - lag, h)
        if self.exog_policy == "lagged":
            return np.hstack([trend, xw[n - lag : n - lag + h]])
        future = np.vstack([xw[-1:], self._forecast_exog(h - 1)]) if h > 1 else xw[-1:]
        return np.hstack([trend, future])

    def _forecast_exog(self, h: int) -> np.ndarray:
        cols = [m._forecast_work(h, None, pd.DatetimeIndex([]))[0] for m in self.exog_models_]
        return np.column_stack(cols)

    def _exog_series(self) -> list[pd.Series]:
        xw = self._exog_work(np.asarray(self.exog_))
        return [pd.Series(xw[:, j], index=self.dates_) for j in range(len(self.exog))]

    def _fit(self) -> None:
        self.order_ = self.order
        self.seasonal_order_ = ss.NO_SEASON
        self.trend_ = trend_for(self.order[1], self.with_constant)
        self.exog_models_: list[ARIMA] = []
        if self.exog_policy == "forecast":
            for s in self._exog_series():
                try:
                    self.exog_models_.append(
                        ARIMA(order=self.exog_order, log=False, exchange=self.exchange).fit(s))
                except (FitFailed, ValidationFailed) as exc:
                    raise FitFailed(f"ARIMAX: an exogenous column's model failed: {exc}") from exc
        self._apply(self._fit_order(None, "ARIMAX"))

    def _update(self, n_new: int) -> None:
        super()._update(n_new)
        if not self.exog_models_:
            return
        for m, s in zip(self.exog_models_, self._exog_series(), strict=True):
            m.update(s.iloc[-n_new:])

    def _learned_state(self) -> dict[str, Any]:
        learned = super()._learned_state()
        learned["exog_models"] = [m._learned_state() for m in self.exog_models_]
        return learned

    def _restore(self, learned: dict[str, Any]) -> None:
        self.exog_models_ = []
        for sub, s in zip(learned.get("exog_models", []), self._exog_series(), strict=False):
            m = ARIMA(order=self.exog_order, log=False, exchange=self.exchange)
            m.values_, m.dates_, m.exog_ = s.to_numpy(), pd.DatetimeIndex(s.index), None
            m._restore(sub)
            self.exog_models_.append(m)
        super()._restore(learned)

"""The ``Forecaster`` base class: one interface for every model.

Settings are stored in ``__init__`` under their own names; ``fit`` learns into attributes
with a trailing underscore; ``predict`` returns a :class:`ForecastResult` on the exchange's
trading days. Subclasses work in "work space" (log prices when ``log=True``) and implement
``_fit``, ``_update``, ``_forecast_work`` (mean and variance, Gaussian) and
``_learned_state``/``_restore``. The base class does validation, the log transform, the
calendar and the state format.

State format (``to_state``), small and joblib/JSON-friendly (no library pickles)::

    {"format": 1, "kind": "arima", "options": {...__init__ settings...},
     "values": float64 ndarray (training prices), "dates": datetime64[D] ndarray,
     "exog": float64 ndarray (n, k) or None, "exog_columns": [...],
     "learned": {"order": [p, d, q], "params": [...], ...}}
"""

from __future__ import annotations

import inspect
from statistics import NormalDist
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from core.errors import FitFailed, ValidationFailed
from core.forecast import checks
from core.forecast.result import ForecastResult
from core.market.calendar import trading_calendar

STATE_FORMAT = 1
# The standard library's normal quantiles: scipy.stats costs ~0.4 s to import.
Z80 = NormalDist().inv_cdf(0.90)
Z95 = NormalDist().inv_cdf(0.975)


class Forecaster:
    """Base of all forecasters. See the module docstring for the contract."""

    kind: ClassVar[str] = "base"
    exog_columns: tuple[str, ...] = ()

    def __init__(self, log: bool = True, exchange: str = "XNYS") -> None:
        self.log = log
        self.exchange = exchange

    # ----------------------------------------------------------------- settings
    def get_params(self) -> dict[str, Any]:
        """The ``__init__`` settings, by name (what ``to_state`` saves as options)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        out = {}
        for name in names:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def min_obs(self) -> int:
        """The fewest observations this model accepts."""
        return 10

    @property
    def label(self) -> str:
        return self.kind

    @property
    def band_base(self) -> str:
        """The band layer this fitted model really forecasts with (``"gaussian"``: the
        model's own variance, Normal quantiles); the published method adds the
        calibration layer on top (``core.monitor.published``)."""
        return "gaussian"

    # ----------------------------------------------------------------- data
    def _to_work(self, values: np.ndarray) -> np.ndarray:
        return np.log(values) if self.log else values.copy()

    def _check_values(self, y: pd.Series, what: str = "y") -> np.ndarray:
        checks.check_series(y)
        values = y.to_numpy(dtype=np.float64)
        checks.check_finite(values, what)
        if self.log:
            checks.check_positive(values, what)
        return values

    def _check_X(self, X: pd.DataFrame | None, index: pd.DatetimeIndex,
                 what: str = "X") -> np.ndarray | None:
        if not self.exog_columns:
            return None
        return checks.check_exog(X, self.exog_columns, index, what).to_numpy()

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "values_")

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise FitFailed(f"{self.label} is not fitted; call fit(y) first")

    # ----------------------------------------------------------------- public API
    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> Self:
        """Learn from prices ``y`` (and exogenous ``X`` for ARIMAX); returns ``self``."""
        values = self._check_values(y)
        checks.check_length(len(values), self.min_obs())
        checks.check_not_constant(values)
        self.values_ = values
        self.dates_ = pd.DatetimeIndex(y.index)
        self.exog_ = self._check_X(X, self.dates_)
        self._fit()
        self._fit_bands()
        return self

    def update(self, new_y: pd.Series, new_X: pd.DataFrame | None = None) -> Self:
        """Add observations after the last one and refresh the state at the same order
        and parameters (no re-estimation); cheap compared with ``fit``."""
        self._require_fitted()
        values = self._check_values(new_y, "new_y")
        if len(values) == 0:
            return self
        if new_y.index[0] <= self.dates_[-1]:
            raise ValidationFailed(
                f"new_y must start after the last observation {self.dates_[-1].date()}, "
                f"starts {new_y.index[0].date()}"
            )
        new_exog = self._check_X(new_X, pd.DatetimeIndex(new_y.index), "new_X")
        self.values_ = np.r_[self.values_, values]
        self.dates_ = pd.DatetimeIndex(self.dates_.append(pd.DatetimeIndex(new_y.index)))
        if self.exog_ is not None and new_exog is not None:
            self.exog_ = np.vstack([self.exog_, new_exog])
        self._update(len(values))
        return self

    def predict(self, h: int, X_future: pd.DataFrame | None = None) -> ForecastResult:
        """Forecast the next ``h`` (1..365) trading days with 80% and 95% intervals.

        With ``log=True`` the model forecasts log prices and the mean and bounds are
        back-transformed with ``exp``: the point forecast is then the *median* price."""
        h = checks.check_horizon(h)
        self._require_fitted()
        dates = trading_calendar(self.exchange).next_sessions(self.dates_[-1], h)
        mean, var = self._forecast_work(h, X_future, dates)
        half = self._band_halfwidths(mean, var)
        if half is None:
            return self._result(dates, mean, var)
        return self._result_halfwidths(dates, mean, *half)

    def predict_gaussian(self, h: int, X_future: pd.DataFrame | None = None) -> ForecastResult:
        """``predict`` with the Gaussian bands of the mean model's own variance, whatever
        band layer the model carries (the reference the evaluation compares against)."""
        h = checks.check_horizon(h)
        self._require_fitted()
        dates = trading_calendar(self.exchange).next_sessions(self.dates_[-1], h)
        mean, var = self._forecast_work(h, X_future, dates)
        return self._result(dates, mean, var)

    def _result(self, dates: pd.DatetimeIndex, mean: np.ndarray, var: np.ndarray) -> ForecastResult:
        sd = np.sqrt(np.maximum(var, 0.0))
        return self._result_halfwidths(dates, mean, Z80 * sd, Z95 * sd)

    def _result_halfwidths(self, dates: pd.DatetimeIndex, mean: np.ndarray, half80: np.ndarray,
                           half95: np.ndarray) -> ForecastResult:
        """Bands ``mean -/+ half`` in work space, back-transformed for log models. The 95%
        half-width is kept at least the 80% one so the bounds stay ordered."""
        half95 = np.maximum(half95, half80)
        parts = [mean - half95, mean - half80, mean, mean + half80, mean + half95]
        if self.log:
            parts = [np.exp(p) for p in parts]
        lo95, lo80, mid, hi80, hi95 = parts
        return ForecastResult(dates, mid, lo80, hi80, lo95, hi95, self.label)

    def residuals(self) -> pd.Series:
        """In-sample one-step-ahead errors (work space) on the training dates."""
        self._require_fitted()
        return pd.Series(self._residuals(), index=self.dates_[-len(self._residuals()):],
                         name="residual")

    def summary(self) -> dict[str, Any]:
        """Order, information criteria and coefficients (with standard errors if known)."""
        self._require_fitted()
        return {"kind": self.kind, "label": self.label, "n_obs": len(self.values_),
                "log": self.log, **self._summary()}

    def criteria(self) -> dict[str, Any]:
        """Kind, label, order and information criteria: what the registry records about a
        fit, without the diagnostics ``summary`` may compute (standard errors)."""
        s = self.summary()
        return {k: s.get(k) for k in ("kind", "label", "order", "aic", "bic")}

    def to_state(self) -> dict[str, Any]:
        """A small dict (arrays, numbers, strings) from which ``from_state`` rebuilds an
        equivalent fitted model. Not a library pickle: ~40 KB for 2,500 days."""
        self._require_fitted()
        return {
            "format": STATE_FORMAT,
            "kind": self.kind,
            "options": self.get_params(),
            "values": np.asarray(self.values_, dtype=np.float64),
            "dates": self.dates_.to_numpy().astype("datetime64[D]"),
            "exog": None if self.exog_ is None else np.asarray(self.exog_, dtype=np.float64),
            "exog_columns": list(self.exog_columns),
            "learned": self._learned_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """Rebuild a fitted model from ``to_state`` output (same forecasts as before saving)."""
        if state.get("format") != STATE_FORMAT or state.get("kind") != cls.kind:
            raise ValidationFailed(
                f"state is format {state.get('format')!r} kind {state.get('kind')!r}; "
                f"{cls.__name__} reads format {STATE_FORMAT} kind {cls.kind!r}"
            )
        self = cls(**state["options"])
        self.values_ = np.asarray(state["values"], dtype=np.float64)
        self.dates_ = pd.DatetimeIndex(np.asarray(state["dates"], dtype="datetime64[ns]"))
        exog = state.get("exog")
        self.exog_ = None if exog is None else np.asarray(exog, dtype=np.float64)
        self._restore(state["learned"])
        return self

    # ----------------------------------------------------------------- subclass hooks
    def _fit(self) -> None:
        raise NotImplementedError

    def _update(self, n_new: int) -> None:
        raise NotImplementedError

    def _forecast_work(self, h: int, X_future: pd.DataFrame | None,
                       dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _residuals(self) -> np.ndarray:
        raise NotImplementedError

    def _fit_bands(self) -> None:
        """Learn a band layer after the mean model is fitted (default: none, Gaussian)."""

    def _band_halfwidths(self, mean: np.ndarray,
                         var: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """80% and 95% half-widths (work space) of a band layer, or None for Gaussian."""
        return None

    def _summary(self) -> dict[str, Any]:
        return {}

    def _learned_state(self) -> dict[str, Any]:
        return {}

    def _restore(self, learned: dict[str, Any]) -> None:
        raise NotImplementedError

"""Shared machinery of the ARIMA-family forecasters (ARIMA, AutoARIMA, ARIMAX): the design
matrices, fixed-parameter filtering, fast forecasts, summary and state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.errors import FitFailed
from core.forecast import checks, garch
from core.forecast import statespace as ss
from core.forecast.base import Forecaster

BAND_METHODS = ("gaussian", "garch", "gjr")
# The first one-step residuals of the Kalman filter carry the diffuse start-up: left out
# of the GARCH estimation.
BAND_BURN_IN = 20


def check_bands(bands: str) -> str:
    """``"gaussian"`` (the mean model's own variance), ``"garch"`` or ``"gjr"``."""
    checks.check_choice("bands", bands, BAND_METHODS)
    return bands


class SarimaxForecaster(Forecaster):
    """A forecaster whose fitted model is statsmodels SARIMAX at known order and params.

    Subclasses decide the order and params in ``_fit`` and call ``_apply``; update,
    forecast, save and load are shared here."""

    order_: ss.Order
    seasonal_order_: ss.SeasonalOrder
    trend_: str
    params_: np.ndarray
    fallback_reason_: str | None = None
    estimated_by_: str | None = None
    bands: str = "gaussian"
    band_layer_: garch.GarchLayer | None = None
    band_warning_: str | None = None
    _psi2: np.ndarray | None = None
    _bse: np.ndarray | None = None
    _param_names: list[str]

    # --------------------------------------------------------------- design (overridable)
    def _lag(self) -> int:
        """Rows of y lost at the start because the exogenous regressors are lagged."""
        return 0

    def _design(self) -> tuple[np.ndarray, np.ndarray]:
        """(endog, exog) of the whole training sample in work space."""
        z = self._to_work(self.values_)
        return z, ss.trend_columns(self.trend_, 0, len(z))

    def _future_exog(self, h: int, X_future: pd.DataFrame | None,
                     dates: pd.DatetimeIndex) -> np.ndarray:
        return ss.trend_columns(self.trend_, len(self.values_) - self._lag(), h)

    def _exog_names(self) -> list[str]:
        return ss.trend_names(self.trend_)

    # --------------------------------------------------------------- shared mechanics
    def _apply(self, res: Any) -> None:
        """Adopt a statsmodels results object (fitted or filtered) as the fitted state."""
        self._full_results = res
        self._tail_results = res
        self.params_ = np.asarray(res.params, dtype=np.float64)
        self.tail_ = ss.KalmanTail.from_results(res, len(self._exog_names()))
        self._param_names = self._exog_names() + list(res.model.param_names)[
            len(self._exog_names()):]
        self._bse = None
        self._psi2 = None

    @property
    def results_(self) -> Any:
        """statsmodels results over the whole sample at ``params_`` (after ``update`` they
        are rebuilt on first use: summary and residuals need them, forecasts do not)."""
        if self._full_results is None:
            endog, exog = self._design()
            self._full_results = ss.filter_params(endog, self.order_, exog, self.params_,
                                                  self.seasonal_order_)
        return self._full_results

    def _refilter(self) -> None:
        endog, exog = self._design()
        self._apply(ss.filter_params(endog, self.order_, exog, self.params_, self.seasonal_order_))

    def _update(self, n_new: int) -> None:
        # statsmodels' extend(): same params, the Kalman filter continued over the new
        # observations only from the last state. The final state (all a forecast needs) is
        # the one SARIMAX(extended).filter(params) reaches; append(refit=False) would refilter
        # the whole sample (~25x slower here).
        # It starts from the stored tail, so a model loaded from its artifact (which has no
        # statsmodels results) updates exactly like the one that was saved.
        endog, exog = self._design()
        new_exog = exog[-n_new:] if exog.shape[1] else None
        # No single_threaded() here: a few new rows of tiny matrices use no BLAS threads,
        # and threadpoolctl's library scan cost ~3 ms, a third of a daily update.
        ext = ss.extend_tail(self.tail_, endog[-n_new:], self.order_, new_exog,
                             self.params_, self.seasonal_order_)
        self._tail_results = ext
        self._full_results = None
        self._bse = None
        self.tail_ = ss.KalmanTail.from_results(ext, len(self._exog_names()))
        if self.band_layer_ is not None:
            self.band_layer_.filter(np.asarray(ext.resid, dtype=np.float64)[-n_new:])

    # --------------------------------------------------------------- band layer
    @property
    def band_base(self) -> str:
        """``"garch"``/``"gjr"`` when the layer is fitted, ``"gaussian"`` otherwise (asked
        for, or a GARCH fit that fell back: ``band_warning_`` says why)."""
        return self.bands if self.band_layer_ is not None else "gaussian"

    def serve_gaussian(self, reason: str) -> None:
        """Serve the mean model's Gaussian bands instead of the fitted layer (the backtest
        found them better); ``reason`` is stored and shown as the band warning. A retrain
        estimates the layer again (the ``bands`` setting is kept)."""
        self.band_layer_, self.band_warning_ = None, reason

    def _fit_bands(self) -> None:
        """(Re-)estimate the GARCH layer on the one-step residuals, or record why not."""
        self.band_layer_, self.band_warning_ = None, None
        if self.bands == "gaussian":
            return
        self.band_layer_, self.band_warning_ = garch.fit_garch(self.band_residuals(),
                                                               self.bands)

    def psi_squared(self, h: int) -> np.ndarray:
        """Squared psi-weights psi_0^2..psi_{h-1}^2 of the fitted ARIMA (psi_0 = 1)."""
        if self._psi2 is None or len(self._psi2) < h:
            tail = self.tail_
            sigma2 = float(self.params_[-1])
            self._psi2 = garch.psi_squared(tail.T, tail.Z, tail.RQR / sigma2, max(h, 30))
        return self._psi2[:h]

    def _band_halfwidths(self, mean: np.ndarray,
                         var: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        if self.band_layer_ is None:
            return None
        return self.halfwidths_for(self.band_layer_, len(mean))

    def halfwidths_for(self, layer: garch.GarchLayer, h: int) -> tuple[np.ndarray, np.ndarray]:
        """80% and 95% half-widths (work space) of ``layer``'s bands for this mean model."""
        sd = np.sqrt(garch.combined_variance(self.psi_squared(h), layer.variance_forecast(h)))
        return layer.quantile(0.80) * sd, layer.quantile(0.95) * sd

    def band_residuals(self) -> np.ndarray:
        """The one-step residuals a band layer is estimated on (burn-in left out)."""
        self._require_fitted()
        return self._residuals()[BAND_BURN_IN:]

    def last_residuals(self, n: int) -> np.ndarray:
        """The last ``n`` one-step residuals (work space), cheap after ``update``."""
        tail = self._tail_results
        resid = np.empty(0) if tail is None else np.asarray(tail.resid, dtype=np.float64)
        if len(resid) < n:
            resid = self._residuals()
        return resid[-n:]

    def _forecast_work(self, h: int, X_future: pd.DataFrame | None,
                       dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        return self.tail_.forecast(h, self._future_exog(h, X_future, dates))

    def _residuals(self) -> np.ndarray:
        burn = self.order_[1] + self.seasonal_order_[1] * self.seasonal_order_[3]
        return np.asarray(self.results_.resid, dtype=np.float64)[burn:]

    def _check_fit(self, res: Any) -> str | None:
        endog, _ = self._design()
        return ss.sanity_problem(res, self.order_, endog, len(self._exog_names()))

    @property
    def label(self) -> str:
        if not hasattr(self, "order_"):
            return self.kind
        p, d, q = self.order_
        extra = {"c": " with mean", "t": " with drift"}.get(self.trend_, "")
        seas = ""
        if self.seasonal_order_[3]:
            seas = "({},{},{})[{}]".format(*self.seasonal_order_)
        return f"{self.kind} ARIMA({p},{d},{q}){seas}{extra}"

    def design(self) -> tuple[np.ndarray, np.ndarray]:
        """(endog, exog) the statsmodels model is built on: the reference for tests,
        ``SARIMAX(endog, exog=exog, order=order_, seasonal_order=seasonal_order_)``."""
        self._require_fitted()
        return self._design()

    def param_names(self) -> list[str]:
        return list(self._param_names)

    def standard_errors(self) -> np.ndarray:
        """Standard errors of ``params_`` (OPG): a diagnostic computed when first asked for
        (it costs several filters over the whole sample), then kept until the next update."""
        if self._bse is None:
            endog, exog = self._design()
            try:
                self._bse = ss.standard_errors(endog, self.order_, exog, self.params_,
                                               self.seasonal_order_)
            except (np.linalg.LinAlgError, ValueError):
                self._bse = np.full(len(self.params_), np.nan)
        return self._bse

    def _summary(self) -> dict[str, Any]:
        res = self.results_
        names = self.param_names()
        bse = self.standard_errors()
        return {
            "order": list(self.order_),
            "seasonal_order": list(self.seasonal_order_),
            "trend": self.trend_,
            "aic": float(res.aic),
            "bic": float(res.bic),
            "aicc": float(res.aicc),
            "loglik": float(res.llf),
            "coefficients": {
                n: {"coef": float(c), "se": None if not np.isfinite(s) else float(s)}
                for n, c, s in zip(names, self.params_, bse, strict=True)
            },
            "fallback_reason": self.fallback_reason_,
            "converged": getattr(self, "converged_", None),
            "estimated_by": getattr(self, "estimated_by_", None),
            "bands": self.bands if self.band_layer_ is not None else "gaussian",
            "band_warning": self.band_warning_,
            "garch": None if self.band_layer_ is None else self.band_layer_.summary(),
        }

    def criteria(self) -> dict[str, Any]:
        self._require_fitted()
        return {"kind": self.kind, "label": self.label, "order": list(self.order_),
                "aic": self.aic_, "bic": self.bic_}

    @property
    def aic_(self) -> float:
        return float(self.results_.aic)

    @property
    def bic_(self) -> float:
        return float(self.results_.bic)

    def _learned_state(self) -> dict[str, Any]:
        return {
            "order": list(self.order_),
            "seasonal_order": list(self.seasonal_order_),
            "trend": self.trend_,
            "params": [float(x) for x in self.params_],
            "param_names": self.param_names(),
            "fallback_reason": self.fallback_reason_,
            "estimated_by": getattr(self, "estimated_by_", None),
            "band_layer": None if self.band_layer_ is None else self.band_layer_.to_dict(),
            "band_warning": self.band_warning_,
            # The filter's state after the last observation: loading forecasts and updates
            # from it instead of refiltering the whole history (issue 13).
            "tail": self.tail_.to_dict(),
        }

    def _restore(self, learned: dict[str, Any]) -> None:
        self.order_ = tuple(int(x) for x in learned["order"])  # type: ignore[assignment]
        self.seasonal_order_ = tuple(int(x) for x in learned["seasonal_order"])  # type: ignore[assignment]
        self.trend_ = str(learned["trend"])
        self.params_ = np.asarray(learned["params"], dtype=np.float64)
        self.fallback_reason_ = learned.get("fallback_reason")
        self.estimated_by_ = learned.get("estimated_by")
        tail = learned.get("tail")
        if tail is None or "param_names" not in learned:
            self._refilter()  # an artifact saved before the tail was stored
        else:
            self.tail_ = ss.KalmanTail.from_dict(tail)
            self._param_names = [str(n) for n in learned["param_names"]]
            self._full_results = self._tail_results = None  # rebuilt on first use
            self._bse = None
            self._psi2 = None
        layer = learned.get("band_layer")
        self.band_layer_ = None if layer is None else garch.GarchLayer.from_dict(layer)
        self.band_warning_ = learned.get("band_warning")

    def _fit_order(self, start: np.ndarray | None, what: str,
                   require_convergence: bool = True, maxiter: int = 50) -> Any:
        """MLE at ``self.order_``; raise FitFailed naming the order on failure. With
        ``require_convergence=False`` an unconverged but sane optimum is accepted (an
        engine's estimates are already a maximum; the polish may just stop early)."""
        endog, exog = self._design()
        with ss.single_threaded():
            res, converged = ss.fit_mle(endog, self.order_, exog, start, maxiter=maxiter,
                                        seasonal_order=self.seasonal_order_)
        self.converged_ = converged
        problem = self._check_fit(res)
        if not problem and require_convergence and not converged:
            problem = "the optimiser did not converge"
        if problem:
            raise FitFailed(f"{what} ARIMA{self.order_} could not be fitted: {problem}")
        return res

"""The one statsmodels SARIMAX state space every ARIMA-family forecaster fits, updates and
forecasts with (one likelihood convention, so AIC is comparable across order-selection engines).

A deterministic trend is a regression column, as in ``statsmodels.tsa.arima.model.ARIMA``:
"c" (a mean, for d=0) or "t" (a drift per trading day on the levels, for d=1). That is the
same parameterisation as R/statsforecast's intercept and drift, so an engine's estimates are
good starting values. Forecasts run the Kalman recursions in numpy from the last predicted
state (microseconds) instead of statsmodels' ``get_forecast`` (milliseconds).

statsmodels is imported on first use (``build_model``): a model loaded from its artifact
forecasts from its stored :class:`KalmanTail` and never needs it (the import costs ~2 s).
The filters here skip the parameter covariance (``cov_type="none"``; statsmodels' default
OPG covariance costs more than the filter itself): :func:`standard_errors` computes it
when a summary asks.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import FitFailed

if TYPE_CHECKING:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

Order = tuple[int, int, int]


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run BLAS on one thread: the matrices are tiny, and threads made fits 2x slower here."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional speed-up
        yield
        return
    with threadpool_limits(limits=1):
        yield


def trend_columns(trend: str, start: int, n: int) -> np.ndarray:
    """Deterministic regressors for observations ``start .. start+n-1`` (0-based)."""
    if trend == "c":
        return np.ones((n, 1))
    if trend == "t":
        return np.arange(start + 1, start + n + 1, dtype=np.float64)[:, None]
    return np.empty((n, 0))


def trend_names(trend: str) -> list[str]:
    return {"c": ["const"], "t": ["drift"]}.get(trend, [])


SeasonalOrder = tuple[int, int, int, int]
NO_SEASON: SeasonalOrder = (0, 0, 0, 0)


def build_model(z: np.ndarray, order: Order, exog: np.ndarray | None,
                concentrate_scale: bool = False,
                seasonal_order: SeasonalOrder = NO_SEASON) -> SARIMAX:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    ex = exog if exog is not None and exog.shape[1] else None
    return SARIMAX(z, exog=ex, order=order, seasonal_order=seasonal_order, trend="n",
                   concentrate_scale=concentrate_scale)


@dataclass
class KalmanTail:
    """System matrices and the state predicted for the first out-of-sample day."""

    a: np.ndarray
    P: np.ndarray
    T: np.ndarray
    Z: np.ndarray
    RQR: np.ndarray
    H: float
    beta: np.ndarray

    @classmethod
    def from_results(cls, res: object, k_exog: int) -> KalmanTail:
        model = res.model  # type: ignore[attr-defined]
        ssm = model.ssm
        R = np.asarray(ssm["selection"]).reshape(ssm.k_states, -1)
        Q = np.asarray(ssm["state_cov"]).reshape(R.shape[1], R.shape[1])
        params = np.asarray(res.params)  # type: ignore[attr-defined]
        return cls(
            a=np.array(res.predicted_state[:, -1]),  # type: ignore[attr-defined]
            P=np.array(res.predicted_state_cov[:, :, -1]),  # type: ignore[attr-defined]
            T=np.array(ssm["transition"]).reshape(ssm.k_states, ssm.k_states),
            Z=np.array(ssm["design"]).reshape(1, ssm.k_states),
            RQR=R @ Q @ R.T,
            H=float(np.asarray(ssm["obs_cov"]).ravel()[0]),
            beta=params[:k_exog].copy(),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain float64 arrays and a float (what an artifact stores: no library objects)."""
        return {"a": self.a.copy(), "P": self.P.copy(), "T": self.T.copy(), "Z": self.Z.copy(),
                "RQR": self.RQR.copy(), "H": float(self.H), "beta": self.beta.copy()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KalmanTail:
        def arr(key: str) -> np.ndarray:
            return np.array(d[key], dtype=np.float64)

        k = len(np.asarray(d["a"]))
        return cls(a=arr("a"), P=arr("P").reshape(k, k), T=arr("T").reshape(k, k),
                   Z=arr("Z").reshape(1, k), RQR=arr("RQR").reshape(k, k), H=float(d["H"]),
                   beta=arr("beta"))

    def forecast(self, h: int, exog_future: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of the next ``h`` observations (work space)."""
        a, P = self.a.copy(), self.P.copy()
        mean, var = np.empty(h), np.empty(h)
        d = exog_future @ self.beta if self.beta.size else np.zeros(h)
        Z, T = self.Z[0], self.T
        for i in range(h):
            mean[i] = Z @ a + d[i]
            var[i] = Z @ P @ Z + self.H
            a = T @ a
            P = T @ P @ T.T + self.RQR
        return mean, np.maximum(var, 0.0)


def filter_params(z: np.ndarray, order: Order, exog: np.ndarray | None, params: np.ndarray,
                  seasonal_order: SeasonalOrder = NO_SEASON) -> Any:
    """Run the Kalman filter at fixed ``params``: the reference for update and load."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(z, order, exog, seasonal_order=seasonal_order)
        return model.filter(np.asarray(params, dtype=np.float64), cov_type="none")


def filter_at_ml_scale(z: np.ndarray, order: Order, exog: np.ndarray | None,
                       params: np.ndarray, seasonal_order: SeasonalOrder = NO_SEASON) -> Any:
    """Filtered results at given regression/ARMA ``params`` (no sigma2) and the sigma2 that
    maximises the likelihood given them (statsmodels' concentrated scale): what
    :func:`fit_mle` ends with when its optimiser stops at ``params``."""
    model = build_model(z, order, exog, concentrate_scale=True, seasonal_order=seasonal_order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conc = model.filter(np.asarray(params, dtype=np.float64), cov_type="none",
                            low_memory=True)
    full = np.r_[np.asarray(params, dtype=np.float64), float(conc.scale)]
    return filter_params(z, order, exog, full, seasonal_order)


def standard_errors(z: np.ndarray, order: Order, exog: np.ndarray | None, params: np.ndarray,
                    seasonal_order: SeasonalOrder = NO_SEASON) -> np.ndarray:
    """Standard errors of ``params`` (statsmodels' default OPG covariance): a summary's
    diagnostics, computed only when one is asked for (a filter per parameter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(z, order, exog, seasonal_order=seasonal_order)
        res = model.filter(np.asarray(params, dtype=np.float64), cov_type="opg")
        return np.asarray(res.bse, dtype=np.float64)


def extend_tail(tail: KalmanTail, new_z: np.ndarray, order: Order,
                new_exog: np.ndarray | None, params: np.ndarray,
                seasonal_order: SeasonalOrder = NO_SEASON) -> Any:
    """Continue the Kalman filter over new observations only, from ``tail``'s predicted
    state: what statsmodels' ``results.extend`` does (a model on the new data initialised
    at the last predicted state and covariance), without needing the old results."""
    from statsmodels.tsa.statespace.initialization import Initialization

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(new_z, order, new_exog, seasonal_order=seasonal_order)
        model.ssm.initialization = Initialization(model.k_states, "known", constant=tail.a,
                                                  stationary_cov=tail.P)
        return model.filter(np.asarray(params, dtype=np.float64), cov_type="none")


def fit_mle(z: np.ndarray, order: Order, exog: np.ndarray | None,
            start: np.ndarray | None = None, maxiter: int = 50,
            seasonal_order: SeasonalOrder = NO_SEASON) -> Any:
    """Maximum likelihood (L-BFGS, sigma2 concentrated out), then one filter in the full
    parameterisation (so params end with sigma2 and AIC counts it). Returns the filtered
    results and whether the optimiser converged. The optimiser's own results are built
    with ``low_memory`` and no covariance: only their params and scale are used."""
    model = build_model(z, order, exog, concentrate_scale=True, seasonal_order=seasonal_order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if model.k_params == 0:  # e.g. ARIMA(0,1,0): only sigma2, which is concentrated
                res, converged = model.filter(np.empty(0)), True
            else:
                res = model.fit(start_params=start, maxiter=maxiter, disp=False,
                                low_memory=True, cov_type="none")
                converged = bool(res.mle_retvals.get("converged", False))
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise FitFailed(f"ARIMA{order} failed to fit: {exc}") from exc
    params = np.r_[np.asarray(res.params, dtype=np.float64), float(res.scale)]
    return filter_params(z, order, exog, params, seasonal_order), converged


def sanity_problem(res: object, order: Order, z: np.ndarray, k_exog: int) -> str | None:
    """Why a fit is not trustworthy, or None: non-finite params, all-zero AR/MA when the
    order has them (a known silent failure mode), or an absurd residual variance."""
    params = np.asarray(res.params, dtype=np.float64)  # type: ignore[attr-defined]
    p, d, q = order
    if not np.all(np.isfinite(params)):
        return "non-finite parameters"
    ar = params[k_exog : k_exog + p]
    ma = params[k_exog + p : k_exog + p + q]
    if p and np.all(ar == 0):
        return f"all {p} AR coefficients are zero"
    if q and np.all(ma == 0):
        return f"all {q} MA coefficients are zero"
    sigma2 = params[-1]
    ref = float(np.var(np.diff(z, n=d))) if len(z) > d + 1 else float(np.var(z))
    if not np.isfinite(sigma2) or sigma2 <= 0:
        return f"residual variance {sigma2!r} is not positive"
    if ref > 0 and sigma2 > 10 * ref:
        return f"residual variance {sigma2:.3g} is over 10x the series' variance {ref:.3g}"
    llf = float(res.llf)  # type: ignore[attr-defined]
    if not np.isfinite(llf):
        return "non-finite log-likelihood"
    return None

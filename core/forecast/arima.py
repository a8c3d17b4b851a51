"""ARIMA forecasters: a manual order, and automatic order selection by statsforecast or
pmdarima followed by a statsmodels refit of the chosen order."""

from __future__ import annotations

import importlib.abc
import sys
import warnings
from typing import Any

import numpy as np

from core.errors import FitFailed, ValidationFailed
from core.forecast import checks
from core.forecast import statespace as ss
from core.forecast.sarimax import SarimaxForecaster, check_bands

ENGINES = ("statsforecast", "pmdarima")
CRITERIA = ("aic", "aicc", "bic")
# With the approximation (CSS search) statsforecast ends by refitting its best order by
# exact ML (its C++ Kalman filter, ~3% of the search). Its exact Gaussian likelihood is
# statsmodels' (same diffuse start for the differences, same regression mean/drift), so
# when statsmodels' log-likelihood at the engine's estimates equals the engine's own,
# those estimates are the product's parameters: no statsmodels optimisation (which cost
# more than the whole search and, on MSFT, ended at a lower likelihood). Otherwise
# statsmodels' optimiser starts from them, as before.
ENGINE_FINAL_ML = True
# |statsmodels llf - engine llf| under which the two likelihoods are taken to agree at the
# engine's estimates (measured 2e-5 on 2,500 MSFT closes; 1e-3 is 0.002 AIC units).
LIKELIHOOD_MATCH = 1e-3


def trend_for(d: int, with_constant: bool) -> str:
    """'c' (mean) for d=0, 't' (drift) for d=1; nothing otherwise."""
    if not with_constant:
        return "n"
    if d == 0:
        return "c"
    if d == 1:
        return "t"
    raise ValidationFailed(f"a constant/drift needs d <= 1, got d={d}")


class ARIMA(SarimaxForecaster):
    """ARIMA(p,d,q) at a fixed order, fitted by statsmodels SARIMAX.

    ``with_constant`` adds a mean (d=0) or a drift per trading day (d=1). ``bands``:
    ``"gaussian"`` (the ARIMA's own variance), ``"garch"`` or ``"gjr"`` (a GARCH(1,1)-t
    layer on the residuals, see ``core.forecast.garch``).

    >>> ARIMA(order=(1, 1, 0)).order
    (1, 1, 0)
    """

    kind = "arima"

    def __init__(self, order: tuple[int, int, int] = (1, 1, 0), with_constant: bool = False,
                 log: bool = True, exchange: str = "XNYS", bands: str = "gaussian") -> None:
        super().__init__(log=log, exchange=exchange)
        self.bands = check_bands(bands)
        if len(order) != 3 or min(int(x) for x in order) < 0:
            raise ValidationFailed(f"order must be three non-negative integers, got {order!r}")
        self.order: tuple[int, int, int] = (int(order[0]), int(order[1]), int(order[2]))
        self.with_constant = with_constant
        trend_for(self.order[1], with_constant)

    def min_obs(self) -> int:
        p, d, q = self.order
        return max(20, 2 * (p + q + d) + 10)

    def _fit(self) -> None:
        self.order_ = self.order
        self.seasonal_order_ = ss.NO_SEASON
        self.trend_ = trend_for(self.order[1], self.with_constant)
        try:
            res = self._fit_order(None, "manual", require_convergence=False, maxiter=200)
        except FitFailed as exc:
            d = self.order[1]
            raise FitFailed(f"{exc}; try a different d (e.g. d={1 if d != 1 else 0}) "
                            "or a smaller p/q, or use auto_arima") from exc
        self._apply(res)


class AutoARIMA(SarimaxForecaster):
    """Automatic ARIMA: an engine picks the order, statsmodels refits it.

    ``engine="statsforecast"`` (default; Hyndman-Khandakar stepwise search in C++) or
    ``"pmdarima"``. Both end in the same statsmodels SARIMAX likelihood, so their AIC is
    comparable; the engine's estimates are the optimiser's starting point (statsmodels'
    own cold start is the fallback). Every fit is
    sanity-checked (finite params, AR/MA not all zero, residual variance plausible); a
    failing engine estimate falls back to statsmodels' own start (``fallback_reason_``),
    and a failing final fit raises ``FitFailed``.

    ``approximation=None`` follows R's ``auto.arima``: conditional sum of squares during
    the search when there are more than 150 observations (exact likelihood at the end).

    ``max_d=1`` by default: daily (log) prices are integrated of order one; a second
    difference, which unit-root tests sometimes pick on a long trending window, extrapolates
    the recent trend and makes the bands explode. Raise it deliberately if you need it.
    """

    kind = "auto_arima"
    _engine_loglik: float | None = None
    likelihood_gap_: float | None = None

    def __init__(self, engine: str = "statsforecast", log: bool = True, seasonal: bool = False,
                 season_length: int = 5, information_criterion: str = "aic", max_p: int = 5,
                 max_q: int = 5, max_d: int = 1, approximation: bool | None = None,
                 exchange: str = "XNYS", bands: str = "gaussian") -> None:
        super().__init__(log=log, exchange=exchange)
        self.bands = check_bands(bands)
        checks.check_choice("engine", engine, ENGINES)
        checks.check_choice("information_criterion", information_criterion, CRITERIA)
        self.engine = engine
        self.seasonal = seasonal
        self.season_length = season_length
        self.information_criterion = information_criterion
        self.max_p = max_p
        self.max_q = max_q
        self.max_d = max_d
        self.approximation = approximation

    def min_obs(self) -> int:
        base = max(30, self.max_p + self.max_q + self.max_d + 10)
        return base + (3 * self.season_length if self.seasonal else 0)

    def _fit(self) -> None:
        z = self._to_work(self.values_)
        select = (self._select_statsforecast if self.engine == "statsforecast"
                  else self._select_pmdarima)
        try:
            with ss.single_threaded():
                order, seasonal_order, trend, start = select(z)
        except (ValueError, RuntimeError, KeyError, np.linalg.LinAlgError) as exc:
            raise FitFailed(f"{self.engine} order selection failed: {exc}") from exc
        self.order_, self.seasonal_order_, self.trend_ = order, seasonal_order, trend
        self.fallback_reason_ = None
        bad_start = _start_problem(start, order)
        res = None
        if bad_start:
            self.fallback_reason_ = f"{self.engine} estimates rejected ({bad_start})"
        else:
            res = self._adopt_engine_estimates(start)
            if res is None:
                try:
                    res = self._fit_order(start, self.engine, require_convergence=False)
                    self.estimated_by_ = f"statsmodels ML from {self.engine}'s estimates"
                except FitFailed as exc:
                    self.fallback_reason_ = f"refit from {self.engine} estimates failed ({exc})"
        if res is None:
            res = self._fit_order(None, "statsmodels fallback for", require_convergence=False,
                                  maxiter=200)
            self.estimated_by_ = "statsmodels ML from its own start"
        self._apply(res)

    def _adopt_engine_estimates(self, start: np.ndarray) -> Any:
        """statsmodels results at the engine's exact-ML estimates (sigma2 at its ML value
        given them) when statsmodels' likelihood there equals the engine's and the fit is
        sane; None otherwise (then statsmodels optimises from them)."""
        engine_llf = getattr(self, "_engine_loglik", None)
        self._engine_loglik = None
        self.likelihood_gap_ = None
        if engine_llf is None or not np.isfinite(engine_llf):
            return None
        endog, exog = self._design()
        try:
            with ss.single_threaded():
                res = ss.filter_at_ml_scale(endog, self.order_, exog, start,
                                            self.seasonal_order_)
        except (np.linalg.LinAlgError, ValueError):
            return None
        self.likelihood_gap_ = abs(float(res.llf) - engine_llf)
        if not self.likelihood_gap_ <= LIKELIHOOD_MATCH or self._check_fit(res):
            return None
        self.converged_ = True
        self.estimated_by_ = f"{self.engine} exact ML, checked against statsmodels' likelihood"
        return res

    def _approx(self, n: int) -> bool:
        return n > 150 if self.approximation is None else bool(self.approximation)

    def _select_statsforecast(self, z: np.ndarray) -> tuple[Any, Any, str, np.ndarray]:
        SFAutoARIMA = statsforecast_autoarima()
        approx = self._approx(len(z))
        css_only = approx and not ENGINE_FINAL_ML
        model = SFAutoARIMA(max_p=self.max_p, max_q=self.max_q, max_d=self.max_d,
                            seasonal=self.seasonal, season_length=self.season_length,
                            ic=self.information_criterion, approximation=approx,
                            method="CSS" if css_only else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = model.fit(z).model_
        # method=None: the final fit is CSS-ML, so "loglik" is the exact likelihood.
        loglik = fitted.get("loglik")
        self._engine_loglik = None if css_only or loglik is None else float(loglik)
        return parse_statsforecast(fitted)

    def _select_pmdarima(self, z: np.ndarray) -> tuple[Any, Any, str, np.ndarray]:
        import pmdarima as pm

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = pm.auto_arima(
                z, seasonal=self.seasonal, m=self.season_length if self.seasonal else 1,
                information_criterion=self.information_criterion, max_p=self.max_p,
                max_q=self.max_q, max_d=self.max_d, error_action="ignore",
                suppress_warnings=True,
            )
        p, d, q = (int(x) for x in fitted.order)
        so = tuple(int(x) for x in fitted.seasonal_order)
        seasonal_order = so if so[3] > 1 and any(so[:3]) else ss.NO_SEASON
        names = list(fitted.arima_res_.model.param_names)
        params = dict(zip(names, np.asarray(fitted.params(), dtype=np.float64), strict=True))
        ar = [params.get(f"ar.L{i}", 0.0) for i in range(1, p + 1)]
        # pmdarima's intercept lives in the differenced ARMA equation; as a regression
        # mean/drift it is intercept / (1 - sum(ar)).
        mean = params.get("intercept", 0.0) / (1.0 - sum(ar)) if "intercept" in params else None
        trend = "n" if mean is None or d > 1 else ("c" if d == 0 else "t")
        start = [mean] if trend != "n" else []
        start += ar + [params.get(f"ma.L{i}", 0.0) for i in range(1, q + 1)]
        P, _, Q, m = seasonal_order
        start += [params.get(f"ar.S.L{m * i}", 0.0) for i in range(1, P + 1)]
        start += [params.get(f"ma.S.L{m * i}", 0.0) for i in range(1, Q + 1)]
        return (p, d, q), seasonal_order, trend, np.asarray(start, dtype=np.float64)


class _NoDaskDataFrame(importlib.abc.MetaPathFinder):
    """Makes ``import dask.dataframe`` raise ModuleNotFoundError (see below)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "dask.dataframe":
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


def statsforecast_autoarima() -> Any:
    """statsforecast's AutoARIMA class, imported without dask.dataframe.

    statsforecast's package init reaches ``utilsforecast.compat``, which imports
    ``dask.dataframe`` (1-3 s here, a third of the whole import) only to name it in a
    TypeVar when dask is installed (we have it for the batch backend) and skips it on
    ModuleNotFoundError. Nothing in statsforecast's ARIMA uses it, so it is hidden during
    that first import only; if the import fails that way it is retried normally, and a
    later ``import dask.dataframe`` (the dask batch backend) works as usual."""
    if "statsforecast.models" not in sys.modules and "dask.dataframe" not in sys.modules:
        blocker = _NoDaskDataFrame()
        sys.meta_path.insert(0, blocker)
        try:
            from statsforecast.models import AutoARIMA as SFAutoARIMA

            return SFAutoARIMA
        except ImportError:
            for name in [m for m in sys.modules if m.split(".")[0] in
                         ("statsforecast", "utilsforecast")]:
                del sys.modules[name]  # a half-initialised import: retry from scratch
        finally:
            sys.meta_path.remove(blocker)
    from statsforecast.models import AutoARIMA as SFAutoARIMA

    return SFAutoARIMA


def parse_statsforecast(fitted: dict[str, Any]) -> tuple[Any, Any, str, np.ndarray]:
    """(order, seasonal_order, trend, start params) from a statsforecast ARIMA ``model_``
    dict: the engine's choice, in the form the statsmodels refit takes."""
    p, q, P, Q, m, d, D = (int(x) for x in fitted["arma"])
    coef = {k: float(v) for k, v in fitted["coef"].items()}
    trend = "t" if "drift" in coef else ("c" if "intercept" in coef else "n")
    start = [coef[k] for k in ("intercept", "drift") if k in coef]
    start += [coef.get(f"ar{i}", 0.0) for i in range(1, p + 1)]
    start += [coef.get(f"ma{i}", 0.0) for i in range(1, q + 1)]
    start += [coef.get(f"sar{i}", 0.0) for i in range(1, P + 1)]
    start += [coef.get(f"sma{i}", 0.0) for i in range(1, Q + 1)]
    seasonal_order = (P, D, Q, m) if (P or D or Q) and m > 1 else ss.NO_SEASON
    return (p, d, q), seasonal_order, trend, np.asarray(start, dtype=np.float64)


def _start_problem(start: np.ndarray, order: tuple[int, int, int]) -> str | None:
    """Reject an engine's estimates that are non-finite or silently all zero."""
    if not np.all(np.isfinite(start)):
        return "non-finite coefficients"
    p, _, q = order
    k_trend = len(start) - p - q
    arma = start[max(k_trend, 0):]
    if (p or q) and arma.size and np.all(arma[: p + q] == 0):
        return f"all {p + q} ARMA coefficients are zero"
    return None

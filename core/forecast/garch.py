"""Volatility-aware bands: GARCH(1,1) or GJR-GARCH(1,1) with Student-t innovations on a
mean model's one-step residuals (work space: log prices for log models).

Estimation uses the ``arch`` package (``arch_model(mean="Zero", dist="t")``), fitted on
residuals rescaled to a unit of order one (x100 for log prices, i.e. percent: on raw log
returns ``arch`` warns about the scale and estimates omega = 0). The fitted parameters are
then used in numpy: the daily refresh runs the variance recursion over the new residuals
from the stored last conditional variance (no re-estimation; the same numbers as
``arch_model(...).fix(params)``, see the tests), and the h-step variance forecasts are
arch's analytic ones,

    s2_{T+1} = omega + (alpha + gamma*1[e_T<0]) e_T^2 + beta s2_T
    s2_{T+k} = omega + (alpha + gamma/2 + beta) s2_{T+k-1}          (k >= 2).

The price forecast's h-step variance combines these with the mean model's psi-weights
(its MA(inf) form): ``var_h = sum_{j<h} psi_j^2 s2_{T+h-j}``. Quantiles come from the
standardised Student-t (unit variance) with the fitted degrees of freedom.

A fit that raises, does not converge, is not stationary (persistence >= 1), has fewer than
:data:`MIN_RESIDUALS` residuals or constant residuals gives no GARCH layer but a reason
(``fit_garch`` returns ``(None, reason)``): the forecaster keeps Gaussian bands and says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MIN_RESIDUALS = 250
# The band levels a forecast uses: their t quantiles are computed at fit time and stored
# with the layer, so a model loaded from its artifact forecasts without importing
# scipy.stats (~0.4-2 s).
BAND_LEVELS = (0.80, 0.95)
VOLS = ("garch", "gjr")
MAX_PERSISTENCE = 1.0


def _unit_scale(resid: np.ndarray) -> float:
    """A power of ten that brings the residuals' standard deviation to order one."""
    sd = float(np.std(resid))
    return float(10.0 ** np.round(-np.log10(sd)))


def standardised_t_quantile(p: float | np.ndarray, nu: float) -> np.ndarray:
    """Quantile ``p`` of the Student-t with ``nu`` degrees of freedom scaled to variance 1."""
    from scipy.stats import t as student_t

    return np.asarray(student_t.ppf(p, nu) * np.sqrt((nu - 2.0) / nu), dtype=np.float64)


@dataclass
class GarchLayer:
    """Fitted (GJR-)GARCH(1,1)-t parameters and the filter state after the last residual.

    ``omega`` and the variances are in scaled units (residual x ``scale``)."""

    vol: str
    omega: float
    alpha: float
    gamma: float
    beta: float
    nu: float
    scale: float
    next_sigma2: float  # conditional variance of the first out-of-sample residual
    n_resid: int
    quantiles: dict[float, float] = field(default_factory=dict, repr=False, compare=False)

    @property
    def persistence(self) -> float:
        return self.alpha + 0.5 * self.gamma + self.beta

    def filter(self, resid: np.ndarray) -> None:
        """Run the variance recursion over new residuals (work units) at fixed params."""
        s2 = self.next_sigma2
        for e in np.asarray(resid, dtype=np.float64) * self.scale:
            s2 = self.omega + (self.alpha + self.gamma * (e < 0)) * e * e + self.beta * s2
        self.next_sigma2 = float(s2)
        self.n_resid += len(resid)

    def variance_forecast(self, h: int) -> np.ndarray:
        """Conditional variances of residuals T+1..T+h, in work units squared."""
        out = np.empty(h)
        s2 = self.next_sigma2
        for k in range(h):
            out[k] = s2
            s2 = self.omega + self.persistence * s2
        return out / self.scale**2

    def quantile(self, level: float) -> float:
        """Half-width multiplier of a central ``level`` band (standardised t), memoised."""
        q = self.quantiles.get(level)
        if q is None:
            q = self.quantiles[level] = float(standardised_t_quantile(0.5 + level / 2.0,
                                                                      self.nu))
        return q

    def to_dict(self) -> dict[str, Any]:
        return {"vol": self.vol, "omega": self.omega, "alpha": self.alpha, "gamma": self.gamma,
                "beta": self.beta, "nu": self.nu, "scale": self.scale,
                "next_sigma2": self.next_sigma2, "n_resid": self.n_resid,
                "quantiles": [[level, self.quantile(level)] for level in BAND_LEVELS]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GarchLayer:
        return cls(vol=str(d["vol"]), omega=float(d["omega"]), alpha=float(d["alpha"]),
                   gamma=float(d["gamma"]), beta=float(d["beta"]), nu=float(d["nu"]),
                   scale=float(d["scale"]), next_sigma2=float(d["next_sigma2"]),
                   n_resid=int(d["n_resid"]),
                   quantiles={float(lv): float(q) for lv, q in d.get("quantiles", [])})

    def summary(self) -> dict[str, float | str]:
        out: dict[str, float | str] = {"vol": self.vol, "omega": self.omega / self.scale**2,
                                       "alpha": self.alpha, "beta": self.beta, "nu": self.nu,
                                       "persistence": self.persistence}
        if self.vol == "gjr":
            out["gamma"] = self.gamma
        return out


def arch_spec(resid_scaled: np.ndarray, vol: str) -> Any:
    """The ``arch`` model this module estimates (zero mean, (GJR-)GARCH(1,1), Student-t)."""
    from arch import arch_model

    return arch_model(resid_scaled, mean="Zero", vol="GARCH", p=1, o=1 if vol == "gjr" else 0,
                      q=1, dist="t", rescale=False)


def fit_garch(resid: np.ndarray, vol: str = "garch") -> tuple[GarchLayer | None, str | None]:
    """Estimate the layer on one-step residuals; ``(layer, None)`` or ``(None, reason)``."""
    e = np.asarray(resid, dtype=np.float64)
    e = e[np.isfinite(e)]
    if len(e) < MIN_RESIDUALS:
        return None, (f"GARCH bands need at least {MIN_RESIDUALS} residuals, have {len(e)}; "
                      "using Gaussian bands")
    if float(np.std(e)) <= 1e-12 * max(1.0, float(np.max(np.abs(e)))):
        return None, "residuals are constant: no volatility to model; using Gaussian bands"
    scale = _unit_scale(e)
    x = e * scale
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = arch_spec(x, vol).fit(disp="off", show_warning=False)
    except (ValueError, RuntimeError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
        return None, f"GARCH fit failed ({exc}); using Gaussian bands"
    if int(getattr(res, "convergence_flag", 1)) != 0:
        return None, "GARCH optimiser did not converge; using Gaussian bands"
    p = res.params
    omega, alpha, beta, nu = (float(p["omega"]), float(p["alpha[1]"]), float(p["beta[1]"]),
                              float(p["nu"]))
    gamma = float(p["gamma[1]"]) if vol == "gjr" else 0.0
    values = np.array([omega, alpha, gamma, beta, nu])
    if not np.all(np.isfinite(values)) or omega <= 0 or nu <= 2.0:
        return None, "GARCH estimates are not valid (omega <= 0 or nu <= 2); using Gaussian bands"
    layer = GarchLayer(vol=vol, omega=omega, alpha=alpha, gamma=gamma, beta=beta, nu=nu,
                       scale=scale, next_sigma2=0.0, n_resid=0)
    if layer.persistence >= MAX_PERSISTENCE:
        return None, (f"GARCH persistence {layer.persistence:.4f} >= {MAX_PERSISTENCE} "
                      "(variance not stationary); using Gaussian bands")
    cond = np.asarray(res.conditional_volatility, dtype=np.float64)
    layer.next_sigma2 = float(cond[-1] ** 2)
    layer.n_resid = len(e) - 1
    layer.filter(e[-1:])
    return layer, None


def psi_squared(T: np.ndarray, Z: np.ndarray, RR: np.ndarray, h: int) -> np.ndarray:
    """psi_j^2 for j = 0..h-1 of a state space (T, Z, R R'): ``Z T^j R R' T^j' Z'``."""
    out = np.empty(h)
    M = RR.copy()
    z = Z.ravel()
    for j in range(h):
        out[j] = z @ M @ z
        M = T @ M @ T.T
    return out


def combined_variance(psi2: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    """var_h = sum_{j<h} psi_j^2 sigma2_{h-j} for h = 1..len(sigma2) (sigma2 1-based)."""
    h = len(sigma2)
    return np.array([float(np.dot(psi2[:k], sigma2[k - 1 :: -1][:k])) for k in range(1, h + 1)])

"""Residual diagnostics of a fitted model: ACF/PACF, Ljung-Box, normal Q-Q."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.tsa.stattools import acf, pacf


@dataclass(frozen=True)
class Diagnostics:
    residuals: pd.Series
    acf: np.ndarray  # lags 1..n_lags
    pacf: np.ndarray
    ljung_box: pd.DataFrame  # lag, statistic, p-value
    qq_theoretical: np.ndarray
    qq_sample: np.ndarray

    @property
    def white_noise(self) -> bool:
        """No autocorrelation left at 5% (every Ljung-Box p-value above 0.05)."""
        return bool((self.ljung_box["p_value"] > 0.05).all())


def residual_diagnostics(residuals: pd.Series, n_lags: int = 20) -> Diagnostics:
    """Diagnostics of one-step residuals; the first residual of a differenced model is
    dropped (it carries the diffuse initialisation, not a forecast error)."""
    r = residuals.iloc[1:].dropna()
    lags = max(1, min(n_lags, len(r) // 2 - 1))
    acf_values = np.asarray(acf(r, nlags=lags, fft=True))[1:]
    pacf_values = np.asarray(pacf(r, nlags=lags, method="ywm"))[1:]
    lb_lags = sorted({lag for lag in (5, 10, 20) if lag <= lags} or {lags})
    lb = acorr_ljungbox(r, lags=lb_lags)
    ljung = pd.DataFrame({
        "lag": lb_lags,
        "statistic": lb["lb_stat"].to_numpy(),
        "p_value": lb["lb_pvalue"].to_numpy(),
    })
    (theoretical, sample), _ = stats.probplot(r.to_numpy(), dist="norm")
    return Diagnostics(r, acf_values, pacf_values, ljung, np.asarray(theoretical),
                       np.asarray(sample))

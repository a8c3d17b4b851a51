"""The GARCH(1,1)-t band layer: parameter recovery on simulated data, the numpy filter and
forecasts against arch's own, psi-weights, and every fallback path (stored warning,
Gaussian bands, never a crash)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.forecast import garch
from core.forecast.arima import ARIMA
from core.market.calendar import trading_calendar


def simulate_garch_t(n: int, omega: float, alpha: float, beta: float, nu: float,
                     gamma: float = 0.0, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n + 500) * np.sqrt((nu - 2) / nu)
    e = np.empty(n + 500)
    s2 = omega / (1 - alpha - gamma / 2 - beta)
    for t in range(n + 500):
        e[t] = np.sqrt(s2) * z[t]
        s2 = omega + (alpha + gamma * (e[t] < 0)) * e[t] ** 2 + beta * s2
    return e[500:]


def prices_from(returns: np.ndarray, start: str = "2005-01-03") -> pd.Series:
    idx = trading_calendar("XNYS").sessions(start, "2030-12-31")[: len(returns) + 1]
    return pd.Series(100 * np.exp(np.r_[0.0, np.cumsum(returns)]), index=idx, name="close")


def test_garch_t_recovers_simulated_parameters() -> None:
    # daily log returns in the range of a stock: omega in percent^2
    e = simulate_garch_t(4000, omega=0.05, alpha=0.08, beta=0.90, nu=6.0) / 100
    layer, warning = garch.fit_garch(e, "garch")
    assert warning is None and layer is not None
    assert layer.scale == 100.0  # fitted in percent
    assert layer.alpha == pytest.approx(0.08, abs=0.03)
    assert layer.beta == pytest.approx(0.90, abs=0.04)
    assert layer.nu == pytest.approx(6.0, abs=2.0)
    assert layer.omega == pytest.approx(0.05, rel=0.6)
    assert layer.persistence == pytest.approx(0.98, abs=0.02)


def test_gjr_recovers_the_leverage_term() -> None:
    e = simulate_garch_t(4000, omega=0.05, alpha=0.03, beta=0.88, nu=7.0, gamma=0.12, seed=3)
    layer, warning = garch.fit_garch(e, "gjr")
    assert warning is None and layer is not None
    assert layer.gamma == pytest.approx(0.12, abs=0.05)
    assert layer.beta == pytest.approx(0.88, abs=0.05)
    assert "gamma" in layer.summary()


@pytest.mark.parametrize("vol", ["garch", "gjr"])
def test_filter_and_forecast_match_arch_fixed_params(vol: str) -> None:
    """Update without re-estimation == arch_model(all residuals).fix(params).forecast."""
    e = simulate_garch_t(1500, omega=0.05, alpha=0.07, beta=0.9, nu=5.0, gamma=0.05, seed=11)
    layer, _ = garch.fit_garch(e[:1200], vol)
    assert layer is not None
    layer.filter(e[1200:])
    names = ["omega", "alpha[1]"] + (["gamma[1]"] if vol == "gjr" else []) + ["beta[1]", "nu"]
    values = {"omega": layer.omega, "alpha[1]": layer.alpha, "gamma[1]": layer.gamma,
              "beta[1]": layer.beta, "nu": layer.nu}
    fixed = garch.arch_spec(e * layer.scale, vol).fix([values[n] for n in names])
    expect = fixed.forecast(horizon=10, reindex=False).variance.to_numpy()[0]
    np.testing.assert_allclose(layer.variance_forecast(10) * layer.scale**2, expect, rtol=1e-6)
    assert layer.n_resid == 1500


def test_standardised_t_quantile_has_unit_variance() -> None:
    nu = 5.0
    q = garch.standardised_t_quantile(np.array([0.1, 0.9]), nu)
    np.testing.assert_allclose(q, [-q[1], q[1]])
    from scipy.stats import t

    assert q[1] == pytest.approx(t.ppf(0.9, nu) / np.sqrt(nu / (nu - 2)))


def test_combined_variance_uses_psi_weights() -> None:
    psi2 = np.array([1.0, 0.25, 0.0625])
    s2 = np.array([1.0, 2.0, 3.0])
    # var_3 = psi0^2 s2_3 + psi1^2 s2_2 + psi2^2 s2_1
    np.testing.assert_allclose(garch.combined_variance(psi2, s2),
                               [1.0, 2.0 + 0.25, 3.0 + 0.5 + 0.0625])


def test_psi_weights_of_an_arima_111() -> None:
    """ARIMA(1,1,1) in levels: psi_j of (1 + theta B) / ((1 - phi B)(1 - B))."""
    r = simulate_garch_t(800, omega=0.05, alpha=0.05, beta=0.9, nu=8.0, seed=5) / 100
    f = ARIMA(order=(1, 1, 1), bands="garch").fit(prices_from(r))
    phi, theta = f.params_[0], f.params_[1]
    psi = [1.0]
    ar = [1.0]  # psi of the ARMA part: 1, phi + theta, phi (phi + theta), ...
    for j in range(1, 6):
        ar.append(phi ** (j - 1) * (phi + theta))
        psi.append(sum(ar))  # integrate: cumulative sum
    np.testing.assert_allclose(f.psi_squared(6), np.square(psi), rtol=1e-8)


def test_bands_follow_recent_volatility() -> None:
    """A calm stretch then a turbulent one: GARCH bands are wider than Gaussian bands
    (whose variance is the whole window's) right after the turbulence."""
    rng = np.random.default_rng(0)
    r = np.r_[rng.normal(0, 0.005, 700), rng.normal(0, 0.03, 40)]
    f = ARIMA(order=(0, 1, 0), bands="garch").fit(prices_from(r))
    assert f.band_warning_ is None
    g, n = f.predict(5), f.predict_gaussian(5)
    assert np.all(g.hi95 - g.lo95 > 1.3 * (n.hi95 - n.lo95))


@pytest.mark.parametrize(
    ("residuals", "needle"),
    [
        pytest.param(np.random.default_rng(1).normal(0, 0.01, 249), "at least 250",
                     id="too-few"),
        pytest.param(np.zeros(400), "constant", id="constant"),
        pytest.param(np.full(400, 0.003), "constant", id="constant-nonzero"),
    ],
)
def test_unusable_residuals_give_a_reason_not_a_layer(residuals: np.ndarray,
                                                      needle: str) -> None:
    layer, warning = garch.fit_garch(residuals, "garch")
    assert layer is None and warning is not None and needle in warning


class _Unconverged:
    convergence_flag = 4


class _FailingSpec:
    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    def fit(self, **_: object) -> object:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    ("outcome", "needle"),
    [
        pytest.param(ValueError("optimiser exploded"), "GARCH fit failed (optimiser exploded)",
                     id="raises"),
        pytest.param(np.linalg.LinAlgError("singular"), "GARCH fit failed", id="linalg"),
        pytest.param(_Unconverged(), "did not converge", id="not-converged"),
    ],
)
def test_failed_optimiser_falls_back_to_gaussian_bands(monkeypatch: pytest.MonkeyPatch,
                                                       outcome: object, needle: str) -> None:
    monkeypatch.setattr(garch, "arch_spec", lambda x, vol: _FailingSpec(outcome))
    r = simulate_garch_t(600, omega=0.05, alpha=0.05, beta=0.9, nu=8.0, seed=2) / 100
    f = ARIMA(order=(0, 1, 1), bands="garch").fit(prices_from(r))
    assert f.band_layer_ is None and needle in (f.band_warning_ or "")
    pd.testing.assert_frame_equal(f.predict(5).to_frame(), f.predict_gaussian(5).to_frame())
    state = f.to_state()  # a complete model is saved: the fallback is part of it
    assert state["learned"]["band_layer"] is None
    assert needle in state["learned"]["band_warning"]
    f.update(prices_from(np.r_[r, 0.01])[-1:])  # updates without a layer: no crash
    assert f.summary()["band_warning"] == f.band_warning_

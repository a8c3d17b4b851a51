"""Calibration layers: adaptive conformal inference converges to nominal coverage after a
variance shift; split conformal quantiles; rescaling keeps a forecast's shape and order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationFailed
from core.forecast import conformal
from core.forecast.result import ForecastResult


def run_aci(errors: np.ndarray, gamma: float) -> np.ndarray:
    """One-step ACI on a fixed N(0,1) band; returns the issued bands' misses at 80 and 95."""
    aci = conformal.AdaptiveConformal(horizon=1, gamma=gamma)
    z80, z95 = 1.2815515655446004, 1.959963984540054
    misses = np.empty((len(errors), 2))
    for t, e in enumerate(errors):
        s80, s95 = aci.scales(1)
        u80, u95 = abs(e) / z80, abs(e) / z95
        misses[t] = (u80 > s80, u95 > s95)
        aci.observe(1, u80, u95, s80, s95)
    return misses


def test_aci_converges_to_nominal_coverage_after_a_variance_shift() -> None:
    rng = np.random.default_rng(42)
    errors = np.r_[rng.normal(0, 1, 1000), rng.normal(0, 2.5, 4000)]  # risk jumps 2.5x
    misses = run_aci(errors, gamma=0.01)
    plain95 = np.mean(np.abs(errors[1000:]) > 1.96)
    assert plain95 > 0.4  # the uncalibrated band is badly wrong after the shift
    after = misses[2000:]  # once the level has had time to move
    assert after[:, 0].mean() == pytest.approx(0.20, abs=0.02)
    assert after[:, 1].mean() == pytest.approx(0.05, abs=0.015)


def test_aci_long_run_miscoverage_bound() -> None:
    """Gibbs & Candes: |mean miss - alpha| <= (max(alpha_1, 1 - alpha_1) + gamma) / (gamma T)
    (holds while alpha_t stays inside the clip range, as it does here)."""
    rng = np.random.default_rng(1)
    errors = rng.normal(0, 1, 3000) * np.where(np.arange(3000) % 1000 < 500, 1.0, 2.0)
    gamma = 0.02
    misses = run_aci(errors, gamma)
    bound = (0.95 + gamma) / (gamma * len(errors))
    assert abs(misses[:, 1].mean() - 0.05) <= bound
    assert abs(misses[:, 0].mean() - 0.20) <= (0.8 + gamma) / (gamma * len(errors))


def test_aci_alpha_is_a_function_of_the_hit_history() -> None:
    aci = conformal.AdaptiveConformal(horizon=2, gamma=0.05)
    misses = [0, 1, 0, 0, 1, 1, 0]
    for m in misses:  # u above / below the issued scale gives a miss / hit
        s80, s95 = aci.scales(2)
        aci.observe(2, s80 * (2.0 if m else 0.5), 0.0, s80, s95)
    assert aci.alpha_t[1, 0] == pytest.approx(conformal.aci_alpha(misses, 0.8, gamma=0.05))
    assert aci.alpha_t[0, 0] == pytest.approx(0.2)  # step 1 untouched


def test_aci_scale_is_one_at_the_nominal_level_and_grows_when_alpha_falls() -> None:
    assert conformal.aci_scale(0.05, 0.95) == pytest.approx(1.0)
    assert conformal.aci_scale(0.01, 0.95) > 1.3
    assert conformal.aci_scale(-0.5, 0.95) == conformal.aci_scale(1e-9, 0.95)  # clipped
    with pytest.raises(ValidationFailed, match="level"):
        conformal.aci_scale(0.1, 1.5)


def test_split_conformal_quantile_has_finite_sample_correction() -> None:
    u = np.arange(1, 20, dtype=float)  # 19 values: ceil(20 * 0.8) = 16th smallest
    assert conformal.split_conformal_scale(u, 0.80) == 16.0
    assert conformal.split_conformal_scale(u, 0.95) == 19.0
    assert conformal.split_conformal_scale(u[:10], 0.95) == float("inf")  # too few


def _result() -> ForecastResult:
    dates = pd.bdate_range("2024-01-02", periods=3)
    mean = np.array([100.0, 100.0, 100.0])
    return ForecastResult(dates, mean, mean * 0.97, mean * 1.03, mean * 0.95, mean * 1.05, "m")


def test_rescale_scales_work_space_half_widths_and_keeps_order() -> None:
    fc = _result()
    same = conformal.rescale(fc, 1.0, 1.0, log=True)
    np.testing.assert_allclose(same.hi95, fc.hi95)
    wide = conformal.rescale(fc, [2.0, 2.0, 2.0], [0.1, 0.1, 0.1], log=True)
    np.testing.assert_allclose(np.log(wide.hi80 / wide.mean), 2 * np.log(fc.hi80 / fc.mean))
    assert np.all(wide.hi95 >= wide.hi80) and np.all(wide.lo95 <= wide.lo80)  # ordered
    u80, u95 = conformal.normalised_errors(fc, np.array([103.0, 100.0, 90.0]), log=True)
    assert u80[0] == pytest.approx(np.log(1.03) / np.log(1.03)) and u80[1] == 0.0
    assert u95[2] == pytest.approx(np.log(100 / 90) / np.log(1 / 0.95))
    with pytest.raises(ValidationFailed, match="scales"):
        conformal.rescale(fc, np.inf, 1.0, log=True)

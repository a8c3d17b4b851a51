"""ADWIN/KSWIN over seeded error streams: exact detection indices, calibration figures.

The indices were computed once with river 0.26.1 and numpy's default_rng, then frozen
(river's own drift tests do the same). If river changes its detectors, these move.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationFailed
from core.monitor.drift import (
    KINDS,
    detect_drift,
    detect_kind,
    inject_shift,
    kind_stream,
    replay_detectors,
    standardised_errors,
)

CHANGE = 250


def stream(seed: int = 0) -> np.ndarray:
    """250 errors around 0, then 150 around 2 (the model broke at index 250)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0.0, 1.0, CHANGE), rng.normal(2.0, 1.0, 150)])


def test_adwin_exact_index_after_the_change() -> None:
    points = detect_drift(stream(), detector="adwin")
    assert [p.index for p in points] == [264]
    assert all(p.index >= CHANGE for p in points)
    assert points[0].statistic == pytest.approx(1.891059, abs=1e-6)  # mean error shift


def test_kswin_exact_index_after_the_change() -> None:
    points = detect_drift(stream(), detector="kswin")
    assert [p.index for p in points] == [263]
    assert all(p.index >= CHANGE for p in points)
    assert points[0].statistic == pytest.approx(0.00253, abs=1e-5)  # KS p-value


def test_river_default_clock_is_later() -> None:
    # ADWIN(clock=32), river's default, only checks every 32 points: 23 points later here.
    assert [p.index for p in detect_drift(stream(), detector="adwin", clock=32)] == [287]


def test_kswin_can_cry_wolf_on_a_stationary_stretch() -> None:
    # seed 7: an alarm at 205 before the change - why false-alarm rates are measured
    assert [p.index for p in detect_drift(stream(7), detector="kswin")] == [205, 305]


def test_dates_and_skipped_nan_keep_stream_positions() -> None:
    errors = list(stream())
    errors[100] = math.nan  # an unreconciled forecast
    days = list(pd.bdate_range("2020-01-01", periods=len(errors)))
    [point] = detect_drift(errors, days, detector="adwin")
    assert point.index == 264 and point.date == days[264].date()
    with pytest.raises(ValidationFailed, match="400 errors but 3 dates"):
        detect_drift(errors, days[:3])


@pytest.mark.parametrize(
    ("detector", "params", "message"),
    [
        pytest.param("adwin", {"delta": 0.0}, "delta must be between 0 and 1, got 0.0", id="delta"),
        pytest.param("adwin", {"clock": 0}, "clock must be at least 1, got 0", id="clock"),
        pytest.param("kswin", {"alpha": 2}, "alpha must be between 0 and 1, got 2", id="alpha"),
        pytest.param("kswin", {"stat_size": 100}, "0 < stat_size < window_size", id="sizes"),
        pytest.param("cusum", {}, "unknown drift detector 'cusum'", id="name"),
    ],
)
def test_bad_detector_settings(detector: str, params: dict, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        detect_drift([0.0, 1.0], detector=detector, **params)


STATIONARY = np.random.default_rng(11).normal(0.0, 1.0, 3000)


def test_false_alarm_rate_on_a_stationary_stretch() -> None:
    adwin = replay_detectors(STATIONARY, detector="adwin")
    kswin = replay_detectors(STATIONARY, detector="kswin")
    assert (adwin.false_alarms, adwin.false_alarms_per_1000) == (0, 0.0)
    assert kswin.false_alarms == 4
    assert kswin.false_alarms_per_1000 == pytest.approx(4 / 3)
    assert kswin.params["seed"] == 42 and adwin.params["clock"] == 1


def test_detection_delay_after_an_injected_change() -> None:
    shifted = inject_shift(STATIONARY[:600], 400, 1.5)
    adwin = replay_detectors(shifted, [400], detector="adwin")
    kswin = replay_detectors(shifted, [400], detector="kswin")
    assert (adwin.delays, adwin.mean_delay, adwin.missed, adwin.false_alarms) == ((16,), 16.0, 0, 0)
    assert (kswin.delays, kswin.mean_delay, kswin.stationary_points) == ((13,), 13.0, 400)


def test_missed_change_and_backtest_folds() -> None:
    tiny = inject_shift(STATIONARY[:600], 400, 0.05)  # too small to see
    assert replay_detectors(tiny, [400], detector="adwin").missed == 1
    folds = [STATIONARY[i * 500 : (i + 1) * 500] for i in range(6)]
    loose = replay_detectors(folds, detector="adwin", delta=0.2)
    assert (loose.n_points, loose.false_alarms) == (3000, 1)
    with pytest.raises(ValidationFailed, match="one stream"):
        replay_detectors(folds, [10])
    with pytest.raises(ValidationFailed, match="inside the stream"):
        replay_detectors(STATIONARY[:10], [10])


# ------------------------------------------------------------ standardised errors, by kind
def test_ledger_row_to_z_by_hand() -> None:
    # Log model: band exp(log 100 -+ 0.04): sigma_log = 0.08 / (2 * 1.959964) = 0.0204086;
    # actual 103: z = log(1.03) / 0.0204086 = 0.0295588 / 0.0204086 = 1.448355.
    # Price model: band 46..54 about 50: sigma = 8 / 3.919928 = 2.040854; actual 52: 0.979982.
    z = standardised_errors([103.0, 52.0], [100.0, 50.0], [100 * math.exp(-0.04), 46.0],
                            [100 * math.exp(0.04), 54.0])  # fmt: skip
    assert z.tolist() == pytest.approx([1.448355, 0.979982], abs=1e-6)
    # no width, or a price that is not positive: undefined, skipped by the detectors
    assert np.isnan(standardised_errors([1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0])).all()


BASE = np.random.default_rng(5).normal(0.0, 1.0, 400)


def kinds_fired(z: np.ndarray, **params: float) -> dict[str, list[int]]:
    return {k: [p.index for p in detect_kind(z, None, k, **params)] for k in KINDS}


def test_variance_change_is_a_volatility_event_at_a_known_index() -> None:
    z = np.concatenate([BASE, np.random.default_rng(6).normal(0.0, 2.5, 200)])  # sigma x2.5
    fired = kinds_fired(z)
    # 2 points after the change (Page-Hinkley resets after each detection and fires again
    # while z**2 stays far above the mean it has re-learnt)
    assert fired["volatility"] == [402, 505, 588]
    assert fired["bias"] == [595] and fired["shape"] == []  # much later: the wider spread
    point = detect_kind(z, None, "volatility")[0]
    assert point.statistic == pytest.approx(3.447083, abs=1e-6)  # mean (capped) z^2 shift
    # the same change on |z| (the other volatility stream) is seen later
    assert next(p.index for p in detect_kind(z, None, "volatility", volatility="abs")) > 402


def test_mean_shift_is_a_bias_event() -> None:
    z = np.concatenate([BASE, np.random.default_rng(6).normal(1.0, 1.0, 200)])  # z + 1
    assert kinds_fired(z) == {"volatility": [409, 585], "bias": [419], "shape": [429]}


def test_shape_change_is_a_shape_event() -> None:
    # z's spread collapses (bands now far too wide): KSWIN over z sees the distribution move.
    # KSWIN compares 30 recent points with 30 sampled older ones: at the calibrated alpha
    # (1e-4, for no false alarms on calm years) it needs a larger change; at river's
    # 0.005 this one is caught 83 points in.
    z = np.concatenate([BASE, np.random.default_rng(8).normal(0.0, 0.2, 300)])
    assert [p.index for p in detect_kind(z, None, "shape", alpha=0.005)] == [483]
    assert [p.index for p in detect_kind(BASE, None, "shape", alpha=0.005)] == []


def test_no_kind_fires_on_a_stationary_stream() -> None:
    z = np.random.default_rng(12).normal(0.0, 1.0, 3000)
    assert kinds_fired(z) == {"volatility": [], "bias": [], "shape": []}
    # across three seeded streams (9,000 points) the volatility detector's rate stays
    # inside the calibration target of 2 per 1,000
    alarms = sum(len(kinds_fired(np.random.default_rng(s).normal(0.0, 1.0, 3000))["volatility"])
                 for s in (11, 12, 13))
    assert 1000 * alarms / 9000 <= 2.0


def test_one_outsized_move_is_not_a_volatility_regime() -> None:
    """An earnings jump of 7.4 sigma in a calm stream (as MSFT on 2017-10-27 in the demo
    replay) is one point: |z| is capped at 4, so it cannot fire the CUSUM alone."""
    z = np.random.default_rng(12).normal(0.0, 1.0, 300)
    z[200] = 7.4
    assert [p.index for p in detect_kind(z, None, "volatility")] == []
    assert [p.index for p in detect_kind(z, None, "volatility", cap=None)] == [200]


def test_unknown_kind_and_volatility_stream() -> None:
    with pytest.raises(ValidationFailed, match="unknown drift kind 'trend'"):
        kind_stream([0.0], "trend")
    with pytest.raises(ValidationFailed, match="'square' or 'abs', got 'cube'"):
        kind_stream([0.0], "volatility", "cube")
    assert kind_stream([-2.0], "volatility", "abs").tolist() == [2.0]
    assert kind_stream([-2.0], "volatility").tolist() == [4.0]
    assert kind_stream([-6.0, 1.0], "volatility", cap=4.0).tolist() == [16.0, 1.0]

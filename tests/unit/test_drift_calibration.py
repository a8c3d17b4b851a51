"""The calibration replay's stand-in forecasts: z of a random walk with window sigma."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from core.errors import NotEnoughHistory, ValidationFailed
from core.monitor.calibration import standin_z


def test_standin_z_by_hand() -> None:
    # returns alternate +-1% for 300 days, then +3%: window sigma of +-1% is ~0.01
    r = np.concatenate([np.tile([0.01, -0.01], 150), [0.03]])
    days = pd.bdate_range("2020-01-01", periods=len(r) + 1)
    close = pd.Series(100 * np.exp(np.concatenate([[0.0], np.cumsum(r)])), index=days)
    z, when = standin_z(close, days[-1].date(), days[-1].date(), train_days=300)
    sd = float(np.std(r[:300], ddof=1))
    assert z.tolist() == pytest.approx([0.03 / sd]) and when == [days[-1].date()]
    with pytest.raises(NotEnoughHistory, match="needs 250 trading days before"):
        standin_z(close, days[10].date(), days[-1].date())
    with pytest.raises(ValidationFailed, match="'window' or 'ewma'"):
        standin_z(close, dt.date(2021, 1, 1), days[-1].date(), sigma="garch")


def test_calibrated_defaults_meet_the_drift_acceptance_on_the_bundled_series() -> None:
    """A volatility event within 15 trading days of 2008-09-15 on every bundled series that
    covers it, at most 2 alarms per 1,000 calm trading days (ADWIN over z**2 caught GOOG
    only after 43 days)."""
    pytest.importorskip("bokeh_sampledata")
    from core.monitor.calibration import MAX_DELAY, calibrate_bundled

    report = calibrate_bundled()
    delays = report.crisis_delays()
    assert len(delays) == 5 and all(d is not None and d <= MAX_DELAY for d in delays.values())
    assert report.false_alarms_per_1000() <= 2.0
    assert report.passed


def test_page_hinkley_settings_are_checked() -> None:
    from core.monitor.drift import make_detector

    with pytest.raises(ValidationFailed, match="threshold > 0"):
        make_detector("pagehinkley", threshold=0.0)
    with pytest.raises(ValidationFailed, match="mode must be up, down or both"):
        make_detector("pagehinkley", mode="sideways")

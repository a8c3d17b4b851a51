"""The band evaluation's drift column: when the detectors fired on each method's errors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.forecast import evaluation as ev


def synthetic_rows(n: int = 400, change: int = 280, factor: float = 3.0) -> pd.DataFrame:
    """One-step forecasts of a flat price 100 with a fixed N(0, 1) band (price space);
    the errors' sd jumps ``factor``-fold at forecast ``change`` for method "gaussian" and
    stays 1 for "garch". Targets span 2008 so the delay from 2008-09-15 is defined."""
    rng = np.random.default_rng(3)
    targets = pd.bdate_range("2007-10-01", periods=n)
    rows = []
    for method, jump in (("gaussian", factor), ("garch", 1.0)):
        e = rng.normal(0, 1, n) * np.where(np.arange(n) >= change, jump, 1.0)
        for i, t in enumerate(targets):
            rows.append({"period": "crisis", "series": "s", "method": method, "step": 1,
                         "origin": t - pd.offsets.BDay(1), "target": t, "actual": 100 + e[i],
                         "price": 100.0, "naive": 100.0, "mean": 100.0,
                         "lo80": 100 - 1.281552, "hi80": 100 + 1.281552,
                         "lo95": 100 - 1.959964, "hi95": 100 + 1.959964,
                         "scored": t >= pd.Timestamp("2008-01-01"), "log": False})
    return pd.DataFrame(rows)


def test_drift_column_dates_the_first_volatility_event() -> None:
    rows = synthetic_rows()
    table = ev.Evaluation(rows, {}).pooled()
    targets = pd.bdate_range("2007-10-01", periods=400)
    lehman = int(targets.searchsorted(ev.LEHMAN))
    jumped = table.loc[("crisis", "gaussian")]
    assert lehman < 280  # the change comes after 2008-09-15 here
    first = targets.get_loc(jumped["vol_first"])
    assert 280 <= first <= 290  # within days of the injected variance change
    assert jumped["vol_delay"] == first - lehman and jumped["drift"] >= 1
    steady = table.loc[("crisis", "garch")]
    assert steady["drift"] == 0 and pd.isna(steady["vol_first"])
    assert np.isinf(steady["vol_delay"])  # covers 2008-09-15 but never fired: missed
    text = ev.format_report(ev.Evaluation(rows, {}), per_step=True, per_series=True)
    assert "vol_first" in text and jumped["vol_first"].strftime("%Y-%m-%d") in text
    assert "missed" in text

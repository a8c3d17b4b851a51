"""The statsforecast engine's exact-ML estimates, which AutoARIMA serves when statsmodels'
likelihood agrees with the engine's at them, and statsmodels' own MLE started from the
engine's CSS estimates reach the same model on backtest-sized MSFT windows: same order,
AIC within 0.01 (at most 0.002 worse measured: where AR and MA nearly cancel the likelihood
is flat and the two optimisers stop at slightly different points), params within 1e-2 and
forecasts within 2e-3 relative (1.1e-3 measured; a 95% band is ~100x wider)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.forecast import arima
from core.forecast.arima import AutoARIMA
from core.market.sample import load_sample_bars


def _window(start: int, n: int) -> pd.Series:
    bars = load_sample_bars().iloc[start : start + n]
    return pd.Series(bars["close"].to_numpy(dtype=float), index=pd.DatetimeIndex(bars["date"]))


@pytest.mark.slow
@pytest.mark.parametrize("start,n", [(5400, 2200), (2000, 1000), (0, 1000), (6500, 400)])
def test_engine_exact_ml_matches_statsmodels_mle_from_the_css_start(
    start: int, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    y = _window(start, n)
    monkeypatch.setattr(arima, "ENGINE_FINAL_ML", True)
    exact = AutoARIMA().fit(y)
    monkeypatch.setattr(arima, "ENGINE_FINAL_ML", False)
    css = AutoARIMA().fit(y)
    assert exact.estimated_by_ is not None and exact.estimated_by_.startswith("statsforecast")
    assert css.estimated_by_ == "statsmodels ML from statsforecast's estimates"
    assert css.order_ == exact.order_ and css.trend_ == exact.trend_
    assert css.fallback_reason_ is None and exact.fallback_reason_ is None
    assert exact.aic_ == pytest.approx(css.aic_, abs=0.01)
    np.testing.assert_allclose(css.params_, exact.params_, rtol=1e-2, atol=1e-4)
    a, b = exact.predict(30), css.predict(30)
    for name in ("mean", "lo95", "hi95"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=2e-3)

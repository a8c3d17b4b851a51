"""The statsforecast engine's final exact-ML refit is skipped (``method="CSS"`` with the
approximation): the statsmodels MLE that follows reaches the same model. Same order, same
AIC and parameters within optimiser tolerance, on backtest-sized MSFT windows."""

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
def test_css_start_reaches_the_engine_exact_start_model(
    start: int, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    y = _window(start, n)
    monkeypatch.setattr(arima, "ENGINE_FINAL_ML", True)
    exact = AutoARIMA().fit(y)
    monkeypatch.setattr(arima, "ENGINE_FINAL_ML", False)
    css = AutoARIMA().fit(y)
    assert css.order_ == exact.order_ and css.trend_ == exact.trend_
    assert css.fallback_reason_ is None and css.converged_ == exact.converged_
    assert css.aic_ == pytest.approx(exact.aic_, abs=0.01)
    np.testing.assert_allclose(css.params_, exact.params_, rtol=1e-3, atol=1e-5)

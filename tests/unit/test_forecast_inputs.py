"""Bad inputs fail early with a message that names the problem and what would be valid."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.errors import FitFailed, NotEnoughHistory, ValidationFailed
from core.forecast import forecaster_from_state, make_forecaster
from core.forecast import statespace as ss
from core.forecast.arima import AutoARIMA
from core.forecast.result import ForecastResult
from core.market.calendar import trading_calendar


def on_sessions(values: Any) -> pd.Series:
    values = np.asarray(values, dtype=float)
    idx = trading_calendar("XNYS").sessions("2000-01-01", "2017-11-10")[-len(values):]
    return pd.Series(values, index=idx)


def walk(n: int = 120, seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    return on_sessions(50 * np.exp(np.cumsum(rng.normal(0, 0.01, n))))


def bars(y: pd.Series, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    wiggle = np.exp(np.abs(rng.normal(0, 0.005, (len(y), 2))))
    return pd.DataFrame({"open": y.shift(1).bfill(), "high": y * wiggle[:, 0],
                         "low": y / wiggle[:, 1], "volume": rng.uniform(1e6, 2e6, len(y))},
                        index=y.index)


@pytest.mark.parametrize(
    ("kind", "opts", "n", "need"),
    [
        pytest.param("arima", {"order": (1, 1, 1)}, 10, 20, id="arima"),
        pytest.param("naive", {}, 2, 3, id="naive"),
        pytest.param("auto_arima", {}, 25, 30, id="auto"),
    ],
)
def test_too_short_series_says_needed_and_given(kind: str, opts: dict[str, Any], n: int,
                                                need: int) -> None:
    with pytest.raises(NotEnoughHistory, match=f"needs at least {need} trading days, {n} given"):
        make_forecaster(kind, **opts).fit(walk(n))


@pytest.mark.parametrize(
    ("y", "error", "match"),
    [
        pytest.param(on_sessions([5.0] * 40), ValidationFailed, "constant", id="constant"),
        pytest.param(on_sessions([1.0, np.nan] * 20), ValidationFailed, "NaN", id="nan"),
        pytest.param(on_sessions([1.0, np.inf] * 20), ValidationFailed, "infinite", id="inf"),
        pytest.param(on_sessions(np.linspace(-1, 5, 40)), ValidationFailed, "non-positive",
                     id="non-positive-with-log"),
        pytest.param(pd.Series(np.arange(1.0, 41.0)), ValidationFailed, "DatetimeIndex",
                     id="no-dates"),
    ],
)
@pytest.mark.parametrize("kind", ["naive", "drift", "arima", "auto_arima"])
def test_bad_series(kind: str, y: pd.Series, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make_forecaster(kind).fit(y)


def test_non_positive_is_fine_without_log() -> None:
    fc = make_forecaster("drift", log=False).fit(on_sessions(np.linspace(-1, 5, 40))).predict(3)
    assert fc.mean[0] < fc.mean[-1]


@pytest.mark.parametrize("h", [0, 366, -1, 2.5, "5", True, None])
def test_horizon_outside_1_to_365(h: Any) -> None:
    model = make_forecaster("naive").fit(walk())
    with pytest.raises(ValidationFailed, match="horizon must be an integer from 1 to 365"):
        model.predict(h)


def test_horizon_365_is_accepted() -> None:
    assert make_forecaster("naive").fit(walk()).predict(365).horizon == 365


def test_manual_order_that_does_not_fit_names_order_and_suggests_d() -> None:
    # MA(1) without a mean on price levels: residual variance is absurd vs the series'.
    with pytest.raises(FitFailed, match=r"ARIMA\(0, 0, 1\).*try a different d \(e.g. d=1\)"):
        make_forecaster("arima", order=(0, 0, 1), log=False).fit(walk(120))


def test_constant_needs_d_at_most_one() -> None:
    with pytest.raises(ValidationFailed, match="d <= 1"):
        make_forecaster("arima", order=(0, 2, 1), with_constant=True)


def test_missing_exog_column_is_named() -> None:
    y = walk()
    X = bars(y).drop(columns=["volume"])
    with pytest.raises(ValidationFailed, match=r"lacks exogenous column\(s\) \['volume'\]"):
        make_forecaster("arimax", exog=["volume"], horizon=5).fit(y, X)
    with pytest.raises(ValidationFailed, match="X is required"):
        make_forecaster("arimax", exog=["volume"], horizon=5).fit(y)


def test_exog_columns_must_be_bar_fields() -> None:
    with pytest.raises(ValidationFailed, match="subset of"):
        make_forecaster("arimax", exog=["close"])


def test_lagged_arimax_refuses_horizon_beyond_its_lag() -> None:
    y = walk()
    model = make_forecaster("arimax", exog=["high"], horizon=5).fit(y, bars(y))
    assert model.predict(5).horizon == 5
    with pytest.raises(ValidationFailed, match="at most 5 days ahead"):
        model.predict(6)


def test_arimax_never_uses_same_day_bar_values() -> None:
    y = walk()
    X = bars(y)
    model = make_forecaster("arimax", exog=["high", "low"], exog_policy="forecast").fit(y, X)
    endog, exog = model.design()  # type: ignore[attr-defined]
    np.testing.assert_allclose(exog[:, 0], np.log(X["high"].to_numpy()[:-1]))  # lag 1
    assert len(endog) == len(y) - 1
    assert model.summary()["coefficients"].keys() >= {"high.L1", "low.L1"}


def test_unknown_kind_and_bad_options() -> None:
    with pytest.raises(ValidationFailed, match="valid kinds: auto_arima, arima, arimax, naive"):
        make_forecaster("prophet")
    with pytest.raises(ValidationFailed, match="bad options for naive"):
        make_forecaster("naive", order=(1, 1, 1))
    with pytest.raises(ValidationFailed, match="engine must be one of"):
        make_forecaster("auto_arima", engine="R")
    with pytest.raises(ValidationFailed, match="information_criterion"):
        make_forecaster("auto_arima", information_criterion="hqic")
    with pytest.raises(ValidationFailed, match="not a forecaster state"):
        forecaster_from_state({"values": []})


def test_update_must_come_after_the_last_observation() -> None:
    y = walk()
    model = make_forecaster("naive").fit(y.iloc[:-5])
    with pytest.raises(ValidationFailed, match="must start after the last observation"):
        model.update(y.iloc[-10:])


def test_predict_before_fit() -> None:
    with pytest.raises(FitFailed, match="not fitted"):
        make_forecaster("drift").predict(5)


def test_forecast_result_rejects_unordered_bounds() -> None:
    dates = pd.DatetimeIndex(["2024-01-02"])
    one = np.array([1.0])
    with pytest.raises(ValidationFailed, match="out of order"):
        ForecastResult(dates, one, one * 0.9, one * 1.1, one * 0.95, one * 1.2, "x")


def test_auto_arima_falls_back_when_engine_estimates_are_all_zero(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def zero_start(self, z):  # type: ignore[no-untyped-def]
        return (1, 1, 1), ss.NO_SEASON, "n", np.zeros(2)

    monkeypatch.setattr(AutoARIMA, "_select_statsforecast", zero_start)
    model = AutoARIMA().fit(walk(150))
    assert model.fallback_reason_ == (
        "statsforecast estimates rejected (all 2 ARMA coefficients are zero)")
    assert model.summary()["fallback_reason"] == model.fallback_reason_
    assert model.predict(3).horizon == 3


def test_random_walk_order_without_parameters_fits() -> None:
    model = make_forecaster("arima", order=(0, 1, 0)).fit(walk(60))
    assert model.summary()["coefficients"].keys() == {"sigma2"}
    assert model.predict(3).horizon == 3


def test_auto_arima_fit_failing_sanity_raises(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ss, "sanity_problem", lambda *a: "non-finite parameters")
    with pytest.raises(FitFailed, match="could not be fitted: non-finite parameters"):
        AutoARIMA().fit(walk(150))

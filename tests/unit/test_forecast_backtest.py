"""Backtests and metrics on series whose correct scores are known by hand."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from core.errors import NotEnoughHistory, ValidationFailed
from core.forecast import backtest as bt
from core.forecast import make_forecaster
from core.forecast import metrics as mx
from core.forecast.backtest import backtest, rolling_forecasts
from core.forecast.baselines import Drift, Naive
from core.market.calendar import trading_calendar


def on_sessions(values: np.ndarray, end: str = "2017-11-10") -> pd.Series:
    idx = trading_calendar("XNYS").sessions("2000-01-01", end)[-len(values):]
    return pd.Series(np.asarray(values, dtype=float), index=idx)


def random_walk(n: int, seed: int = 7) -> pd.Series:
    rng = np.random.default_rng(seed)
    return on_sessions(100 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, n))))


# ------------------------------------------------------------------ metric functions
def test_metrics_by_hand() -> None:
    a, p = [10.0, 20.0, 30.0], [12.0, 18.0, 30.0]
    assert mx.rmse(a, p) == pytest.approx(np.sqrt(8 / 3))
    assert mx.mae(a, p) == pytest.approx(4 / 3)
    assert mx.mape(a, p) == pytest.approx(100 * (0.2 + 0.1 + 0) / 3)
    assert mx.smape(a, p) == pytest.approx(100 * (4 / 22 + 4 / 38 + 0) / 3)
    assert mx.naive_scale([1.0, 3.0, 2.0, 6.0]) == pytest.approx((2 + 1 + 4) / 3)
    assert mx.mase(a, p, scale=2.0) == pytest.approx(2 / 3)
    assert mx.mase([1.0], [1.0], scale=0.0) == 0.0
    assert mx.coverage(a, [9, 19, 31], [11, 21, 32]) == pytest.approx(2 / 3)
    # last=15: actual moves -, +, + ; forecast moves -, -, + -> 2 of 3
    assert mx.directional_accuracy([10, 20, 30], [14, 14, 16], last=15) == pytest.approx(2 / 3)
    assert mx.directional_accuracy([15, 16], [15.0 * (1 + 1e-13), 15], last=15) == 0.5


# ------------------------------------------------------------------ exact linear series
FOLDS, H, STEP = 4, 5, 3


@pytest.fixture(scope="module")
def linear_report():  # type: ignore[no-untyped-def]
    y = on_sessions(100.0 + np.arange(60))
    return y, backtest(Drift(log=False), y, folds=FOLDS, horizon=H, step=STEP)


def test_drift_is_exact_on_a_line_and_naive_scores_are_known(linear_report) -> None:  # type: ignore[no-untyped-def]
    _, r = linear_report
    assert r.summary["rmse"] == pytest.approx(0, abs=1e-9)
    assert r.summary["mase"] == pytest.approx(0, abs=1e-9)
    assert r.summary["coverage80"] == 1.0 and r.summary["coverage95"] == 1.0
    assert r.summary["direction"] == 1.0
    steps = np.arange(1, H + 1)
    # naive misses by exactly s at step s; the training naive MAE (MASE scale) is 1
    assert r.naive_summary["rmse"] == pytest.approx(np.sqrt(np.mean(steps**2)))
    assert r.naive_summary["mae"] == pytest.approx(steps.mean())
    assert r.naive_summary["mase"] == pytest.approx(steps.mean())
    assert r.naive_summary["direction"] == 0.0
    np.testing.assert_allclose(r.naive_per_step["rmse"], steps)
    np.testing.assert_allclose(r.naive_per_step["mase"], steps)
    origins = [60 - H - (FOLDS - 1 - i) * STEP for i in range(FOLDS)]
    expected_mape = np.mean([np.mean(100 * steps / (100.0 + o - 1 + steps)) for o in origins])
    assert r.naive_summary["mape"] == pytest.approx(expected_mape)
    assert r.folds_won == FOLDS and r.beats_naive_text == f"beats naive on {FOLDS} of {FOLDS} folds"


def test_fold_layout_and_frames(linear_report) -> None:  # type: ignore[no-untyped-def]
    y, r = linear_report
    folds = r.folds_frame()
    assert list(folds.index) == list(range(FOLDS))
    assert folds["n_train"].tolist() == [60 - H - (FOLDS - 1 - i) * STEP for i in range(FOLDS)]
    assert folds["origin"].iloc[-1] == str(y.index[60 - H - 1].date())  # last fold ends at the end
    assert {"rmse", "naive_rmse", "mase", "naive_mase", "coverage95"} <= set(folds.columns)
    steps = r.steps_frame()
    assert list(steps.index) == list(range(1, H + 1))
    d = r.to_dict()
    assert json.loads(json.dumps(d))["beats_naive"] == {
        "folds_won": FOLDS, "folds": FOLDS, "text": r.beats_naive_text}


def test_too_little_history_for_the_folds() -> None:
    y = on_sessions(100.0 + np.arange(20))
    msg = "needs at least 23 trading days for 4 folds of 5 days 5 apart, 20 given"
    with pytest.raises(NotEnoughHistory, match=msg):
        backtest(Naive(log=False), y, folds=4, horizon=5, step=5)


@pytest.mark.parametrize("refit", [0, "sometimes", True])
def test_bad_refit_policy(refit: object) -> None:
    with pytest.raises(ValidationFailed, match="refit must be"):
        backtest(Naive(), random_walk(80), folds=2, horizon=5, refit=refit)  # type: ignore[arg-type]


# ------------------------------------------------------------------ refit policies
def test_refit_policies_follow_their_definition() -> None:
    y = random_walk(200)
    model = make_forecaster("arima", order=(0, 1, 1))
    origins = [150, 160, 170, 180]
    every = rolling_forecasts(model, y, None, origins, 10, "every")
    update = rolling_forecasts(model, y, None, origins, 10, "update")
    two = rolling_forecasts(model, y, None, origins, 10, 2)
    fresh = [make_forecaster("arima", order=(0, 1, 1)).fit(y.iloc[:o]).predict(10) for o in origins]
    once = make_forecaster("arima", order=(0, 1, 1)).fit(y.iloc[:150])
    for i, o in enumerate(origins):
        np.testing.assert_allclose(every[i].mean, fresh[i].mean, rtol=1e-9)
        if i:
            once.update(y.iloc[origins[i - 1] : o])
        np.testing.assert_allclose(update[i].mean, once.predict(10).mean, rtol=1e-9)
    np.testing.assert_allclose(two[2].mean, fresh[2].mean, rtol=1e-9)  # refit at fold 2
    assert not np.allclose(two[1].mean, fresh[1].mean, rtol=1e-12)  # fold 1 was updated
    assert not model.is_fitted  # folds use clones


def test_progress_callback_and_factory_argument() -> None:
    seen: list[tuple[float, str]] = []
    r = backtest(lambda: make_forecaster("drift"), random_walk(120), folds=3, horizon=5,
                 progress=lambda f, t: seen.append((f, t)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert r.kind == "drift" and r.folds == 3 and len(r.naive_scores) == 3


@pytest.mark.slow  # starting worker processes takes several seconds
def test_parallel_folds_equal_sequential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bt, "usable_cpus", lambda: 2)
    monkeypatch.setattr(bt.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    monkeypatch.setattr(bt, "WORKER_START_SECONDS", 0.0)  # make the workers "pay"
    monkeypatch.setattr(bt, "PARALLEL_MARGIN", 1e9)
    y = random_walk(150)
    seen: list[str] = []
    seq = backtest(make_forecaster("arima", order=(1, 1, 0)), y, folds=3, horizon=5)
    par = backtest(make_forecaster("arima", order=(1, 1, 0)), y, folds=3, horizon=5, n_jobs=2,
                   progress=lambda f, t: seen.append(t))
    assert any("2 processes" in t for t in seen)  # the folds did run in workers
    assert seq.to_dict() == par.to_dict()


def test_small_parallel_backtest_runs_serially(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below the size where workers pay off, n_jobs=2 runs the folds here (issue 13: 10
    ARIMA folds took 9.4 s serially and 20.5 s in two workers), with the same numbers."""
    monkeypatch.setattr(bt, "usable_cpus", lambda: 2)
    monkeypatch.setattr(bt.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    y = random_walk(150)
    seen: list[str] = []
    seq = backtest(make_forecaster("arima", order=(1, 1, 0)), y, folds=3, horizon=5)
    par = backtest(make_forecaster("arima", order=(1, 1, 0)), y, folds=3, horizon=5, n_jobs=2,
                   progress=lambda f, t: seen.append(t))
    assert not any("processes" in t for t in seen)
    assert [t for t in seen if t.startswith("fold")] == ["fold 1 of 3", "fold 2 of 3",
                                                         "fold 3 of 3"]
    assert seq.to_dict() == par.to_dict()


@pytest.mark.parametrize(("n_jobs", "remaining", "seconds", "cpus", "load", "workers"), [
    pytest.param(2, 9, 0.5, 2, 1.0, 1, id="arima-folds-serial"),
    pytest.param(2, 9, 8.0, 2, 1.0, 2, id="lstm-folds-parallel"),
    pytest.param(2, 9, 8.0, 2, 6.4, 1, id="busy-machine-serial"),
    pytest.param(2, 9, 2.3, 2, 6.4, 1, id="slow-folds-because-busy-serial"),
    pytest.param(-1, 9, 8.0, 4, 1.0, 4, id="all-cpus"),
    pytest.param(-1, 9, 8.0, 4, 3.0, 2, id="idle-cpus-only"),
    pytest.param(8, 3, 60.0, 2, 0.2, 2, id="capped-by-cpus"),
    pytest.param(4, 1, 60.0, 4, 1.0, 1, id="one-fold-left"),
    pytest.param(2, 9, 1.0, 2, 1.0, 1, id="break-even-stays-serial"),
])
def test_choose_workers(n_jobs: int, remaining: int, seconds: float, cpus: int, load: float,
                        workers: int) -> None:
    chosen = bt.choose_workers(n_jobs, remaining, seconds, cpus=cpus, load=load)
    assert chosen == workers
    parallel = bt.WORKER_START_SECONDS + -(-remaining // chosen) * seconds
    assert chosen == 1 or parallel < remaining * seconds  # never predicted slower


# ------------------------------------------------------------------ ensemble weights
def test_ensemble_weights_are_normalised_inverse_backtest_mse() -> None:
    y = random_walk(160)
    ens = make_forecaster("ensemble", members=[{"kind": "naive"}, {"kind": "drift"}],
                          folds=3, horizon=10).fit(y)
    origins = [160 - 10 * (3 - i) for i in range(3)]
    mse = []
    for cls in (Naive, Drift):
        fcs = rolling_forecasts(cls(), y, None, origins, 10, "update")
        errors = [y.to_numpy()[o : o + 10] - f.mean for o, f in zip(origins, fcs, strict=True)]
        mse.append(np.mean(np.square(errors)))
    inv = 1 / np.asarray(mse)
    np.testing.assert_allclose(ens.weights_, inv / inv.sum())  # type: ignore[attr-defined]
    assert ens.weights_.sum() == pytest.approx(1.0)  # type: ignore[attr-defined]
    fc = ens.predict(5)
    parts = [m.predict(5) for m in ens.members_]  # type: ignore[attr-defined]
    weights = ens.weights_  # type: ignore[attr-defined]
    expected = sum(w * p.mean for w, p in zip(weights, parts, strict=True))
    np.testing.assert_allclose(fc.mean, expected)


# ------------------------------------------------------------------ band method choice
def garch_walk(n: int = 900, seed: int = 3) -> pd.Series:
    """Log prices whose returns follow a GARCH(1,1): calm, then a volatile last stretch."""
    rng = np.random.default_rng(seed)
    r, s2 = np.empty(n), 1e-4
    for t in range(n):
        r[t] = np.sqrt(s2) * rng.standard_normal()
        s2 = 2e-6 + 0.12 * r[t] ** 2 + 0.86 * s2
    return on_sessions(100 * np.exp(np.cumsum(r)))


def test_backtest_scores_every_band_method_and_picks_the_lowest_interval_score() -> None:
    y = garch_walk()
    report = backtest(make_forecaster("arima", order=(0, 1, 0), bands="garch"), y,
                      folds=6, horizon=5)
    scores = report.band_scores
    assert set(scores) == {"garch", "gaussian", "naive"}
    assert report.band_method == min(("garch", "gaussian"), key=lambda m: scores[m]["is"])
    for v in scores.values():
        assert v["is"] == pytest.approx((v["is80"] + v["is95"]) / 2)
    json.dumps(report.to_dict())  # stored with the model
    # a Gaussian-only model has one candidate, itself
    plain = backtest(make_forecaster("arima", order=(0, 1, 0)), y, folds=3, horizon=5)
    assert set(plain.band_scores) == {"gaussian", "naive"} and plain.band_method == "gaussian"


def test_a_garch_layer_that_lost_the_backtest_is_not_served() -> None:
    from core.forecast.service import choose_band_layer

    y = garch_walk()
    model = make_forecaster("arima", order=(0, 1, 0), bands="garch").fit(y)
    assert model.band_base == "garch"
    report = backtest(make_forecaster("arima", order=(0, 1, 0), bands="garch"), y,
                      folds=3, horizon=5)
    won = {"garch": {"is": 1.0}, "gaussian": {"is": 2.0}, "naive": {"is": 3.0}}
    choose_band_layer(model, dataclasses.replace(report, band_scores=won, band_method="garch"))
    assert model.band_base == "garch"
    lost = {"garch": {"is": 2.0}, "gaussian": {"is": 1.0}, "naive": {"is": 3.0}}
    choose_band_layer(model, dataclasses.replace(report, band_scores=lost,
                                                 band_method="gaussian"))
    assert model.band_base == "gaussian"
    assert "backtest scored the Gaussian bands better" in model.summary()["band_warning"]
    again = type(model).from_state(model.to_state())  # the choice is saved with the model
    assert again.band_base == "gaussian"
    np.testing.assert_allclose(again.predict(5).hi95, model.predict_gaussian(5).hi95)

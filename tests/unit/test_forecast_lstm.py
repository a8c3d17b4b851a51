"""The LSTM forecaster's own guarantees: the numpy forward pass equals Keras', bands come
from held-out errors, the scaler sees the training part only, loading and predicting do
not import Keras, epochs report progress and a raising callback stops training, and the
backtest-tuned ensemble weights."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.errors import CoreError, ValidationFailed
from core.forecast.ensemble import simplex_grid, tune_weights
from core.forecast.lstm import (
    LSTM,
    MIN_CALIBRATION,
    calibrate_bands,
    epoch_progress,
    lstm_forward,
    rmse_share_of_price,
)
from core.market.calendar import trading_calendar


def prices(n: int, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = trading_calendar("XNYS").sessions("2015-01-01", "2030-01-01")[:n]
    return pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), index=idx)


def random_weights(window: int, units: int, layers: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    inputs = 1
    for _ in range(layers):
        out += [rng.normal(0, 0.3, (inputs, 4 * units)), rng.normal(0, 0.3, (units, 4 * units)),
                rng.normal(0, 0.1, 4 * units)]
        inputs = units
    return [*out, rng.normal(0, 0.3, (units, 1)), rng.normal(0, 0.1, 1)]


@pytest.fixture
def no_keras_training(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Replace the Keras training step by fixed random weights (the rest is the real code)."""
    seen: list[np.ndarray] = []

    def train(self: LSTM, X: np.ndarray, y: np.ndarray, X_val: np.ndarray,
              y_val: np.ndarray) -> tuple[list[np.ndarray], dict[str, Any]]:
        seen.append(X_val)
        return random_weights(self.window, self.units, self.layers), {
            "loss": [1.0], "val_loss": [1.0], "epochs_run": 1, "best_epoch": 1,
            "device": "cpu:0"}

    monkeypatch.setattr(LSTM, "_train", train)
    return seen


@pytest.mark.parametrize("layers", [1, 2])
def test_numpy_forward_pass_equals_keras(layers: int) -> None:
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    window, units = 7, 5
    model = keras.Sequential([keras.Input((window, 1))])
    for layer in range(layers):
        model.add(keras.layers.LSTM(units, return_sequences=layer < layers - 1))
    model.add(keras.layers.Dense(1))
    weights = random_weights(window, units, layers, seed=layers)
    model.set_weights([w.astype(np.float32) for w in weights])
    x = np.random.default_rng(3).normal(size=(6, window, 1))
    expected = np.asarray(model.predict(x.astype(np.float32), verbose=0))[:, 0]
    np.testing.assert_allclose(lstm_forward(weights, x, layers), expected, atol=1e-5)


def test_calibration_uses_finite_sample_ranks_and_brackets_zero() -> None:
    n = 39
    errors = np.tile(np.arange(1.0, n + 1)[:, None], (1, 3))  # all positive errors
    errors[-5:, 2] = np.nan  # the last origins run past the data at step 3
    bands = calibrate_bands(errors)
    # rank ceil(40 * 0.975) = 39 -> the largest; ceil(40 * 0.9) = 36
    assert bands["hi95"][0] == 39.0 and bands["hi80"][0] == 36.0
    assert bands["lo80"][0] == 0.0 and bands["lo95"][0] == 0.0  # errors all > 0: clipped
    assert np.all(np.diff(bands["hi95"]) >= 0)  # never narrower at a later step


def test_calibration_drops_steps_with_too_few_errors() -> None:
    errors = np.random.default_rng(0).normal(size=(MIN_CALIBRATION + 2, 6))
    errors[MIN_CALIBRATION - 1 :, 4:] = np.nan  # steps 5 and 6 have too few errors
    bands = calibrate_bands(errors)
    assert len(bands["hi80"]) == 4
    with pytest.raises(CoreError, match="too few held-out errors"):
        calibrate_bands(errors[:5])


def test_scaler_and_bands_see_only_their_own_parts(no_keras_training: list[np.ndarray]) -> None:
    y = prices(300)
    tail = y.copy()
    tail.iloc[-40:] *= np.exp(np.linspace(0, 0.5, 40))  # a different held-out tail
    a = LSTM(window=10, units=4).fit(y)
    b = LSTM(window=10, units=4).fit(tail)
    assert a.n_val_ == 58 and len(no_keras_training[0]) == a.n_val_
    assert (a.loc_, a.scale_) == (b.loc_, b.scale_)  # training part identical
    assert not np.allclose(a.bands_["hi80"], b.bands_["hi80"])  # bands from the tail


def test_update_feeds_new_returns_without_retraining(no_keras_training: list[np.ndarray]) -> None:
    y = prices(305)
    f = LSTM(window=10, units=4).fit(y.iloc[:300])
    before = f.predict(5)
    f.update(y.iloc[300:])
    assert len(no_keras_training) == 1  # trained once
    after = f.predict(5)
    assert after.dates[0] > before.dates[-1] or after.dates[0] > before.dates[0]
    assert not np.allclose(after.mean, before.mean)
    g = LSTM(window=10, units=4).fit(y.iloc[:300])
    g.values_ = y.to_numpy()
    np.testing.assert_allclose(g._forecast_cum(5), f._forecast_cum(5))


def test_horizon_beyond_calibration_grows_with_sqrt(no_keras_training: list[np.ndarray]) -> None:
    f = LSTM(window=10, units=4, calibration=10).fit(prices(300))
    fc = f.predict(40)
    width = np.log(fc.hi95) - np.log(fc.mean)
    np.testing.assert_allclose(width[39] / width[9], np.sqrt(40 / 10), rtol=1e-9)


@pytest.mark.parametrize(("opts", "message"), [
    pytest.param({"window": 1}, "window must be an integer in 2..250", id="window"),
    pytest.param({"units": 2.5}, "units must be an integer", id="units"),
    pytest.param({"dropout": 1.0}, r"dropout must be in \[0, 1\)", id="dropout"),
    pytest.param({"validation": 0.9}, "validation share must be in 0.05..0.5", id="validation"),
    pytest.param({"epochs": 0}, "epochs must be an integer in 1..1000", id="epochs"),
])
def test_bad_settings_are_refused(opts: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        LSTM(**opts)


def test_loading_and_predicting_does_not_import_keras(
        tmp_path: Any, no_keras_training: list[np.ndarray]) -> None:
    from core.forecast.artifacts import read_artifact, write_artifact

    f = LSTM(window=10, units=4).fit(prices(300))
    sha, _ = write_artifact(tmp_path / "m.joblib", f.to_state())
    script = (
        "import sys, pathlib\n"
        "from core.forecast.artifacts import read_artifact\n"
        "from core.forecast import forecaster_from_state\n"
        f"s = read_artifact(pathlib.Path({str(tmp_path / 'm.joblib')!r}), {sha!r})\n"
        "fc = forecaster_from_state(s).predict(30)\n"
        "print(fc.mean[-1], 'keras' in sys.modules, 'jax' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    mean, keras_loaded, jax_loaded = out.stdout.split()
    assert (keras_loaded, jax_loaded) == ("False", "False")
    state = read_artifact(tmp_path / "m.joblib", sha)
    assert float(mean) == pytest.approx(LSTM.from_state(state).predict(30).mean[-1], rel=1e-12)


class Stop(CoreError):
    pass


def test_epochs_report_progress_and_a_raising_callback_stops_training() -> None:
    y = prices(200)
    calls: list[tuple[float, str]] = []

    def record(fraction: float, message: str) -> None:
        calls.append((fraction, message))

    with epoch_progress(record):
        LSTM(window=5, units=2, epochs=2, patience=5, calibration=5).fit(y)
    assert [c[0] for c in calls] == [0.5, 1.0]
    assert calls[0][1].startswith("epoch 1/2 · loss ")

    def cancel(fraction: float, message: str) -> None:
        calls.append((fraction, message))
        raise Stop("cancelled")

    calls.clear()
    with epoch_progress(cancel), pytest.raises(Stop):
        LSTM(window=5, units=2, epochs=50, patience=50, calibration=5).fit(y)
    assert len(calls) == 1  # stopped after the first epoch


def test_backtest_weighting_finds_the_best_convex_combination() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=200)
    errors = np.vstack([a + 0.2, -a + 0.2, np.full(200, 3.0)])  # 0.5/0.5 cancels the noise
    np.testing.assert_allclose(tune_weights(errors, "backtest"), [0.5, 0.5, 0.0])
    inv = tune_weights(errors, "inverse_mse")
    assert inv.sum() == pytest.approx(1.0) and inv[2] < inv[0]
    assert simplex_grid(3).shape == (231, 3)


def test_rmse_share_of_price() -> None:
    assert rmse_share_of_price(3.0, 100.0) == pytest.approx(0.03)
    with pytest.raises(ValidationFailed, match="price must be positive"):
        rmse_share_of_price(1.0, 0.0)

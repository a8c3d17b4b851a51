"""An LSTM forecaster of log returns (Keras 3 on JAX), under the common estimator interface.

What it models: the next return ``r_t = z_t - z_{t-1}`` (``z`` = log price when ``log=True``)
from the ``window`` previous returns, standardised with the mean and standard deviation of
the *training* part only. Training holds out a time-ordered validation tail (the last
``validation`` share of the windows, never shuffled into the training part) for early
stopping (``patience``, best weights restored). ``predict(h)`` feeds its own forecasts back
in, h steps recursively, and adds the cumulative returns to the last observed value.

Bands: no band without a calibration behind it. ``calibrate_bands`` runs the recursive
forecast from every origin in the held-out tail and takes per-step empirical quantiles of
the cumulative (work-space) errors, split-conformal style; beyond the calibrated steps the
last quantiles grow with sqrt(h). It is one function, so a general band layer can replace it.

Importing this module (or loading an LSTM artifact) does not import Keras or JAX: only
``fit`` does. Prediction runs the recurrent forward pass in numpy from the stored weights
(same gate equations as Keras' ``LSTM`` cell; checked against Keras in the unit tests), so a
saved model forecasts in milliseconds without a framework. The state holds the settings and
the weights as float arrays, never a pickled framework object.

``update`` appends new observations without retraining: the next forecast starts from the
newest window of returns with the same weights, scaler and band quantiles.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import FitFailed, ValidationFailed
from core.forecast.base import Forecaster
from core.forecast.result import ForecastResult

Progress = Callable[[float, str], None]
# (level, lower quantile, upper quantile) of the cumulative forecast error
BAND_LEVELS = ((80, 0.10, 0.90), (95, 0.025, 0.975))
MIN_TRAIN = 40  # fewest training windows
MIN_CALIBRATION = 20  # fewest held-out errors behind a band quantile at one step
LSTM_RMSE_SHARE = 0.02  # the requirements: add an LSTM when ARIMA's RMSE > 2% of the price
# Integer settings and their valid ranges (the estimator, the CLI and the page use these).
INT_LIMITS: dict[str, tuple[int, int]] = {
    "window": (2, 250), "units": (1, 512), "layers": (1, 4), "epochs": (1, 1000),
    "batch_size": (1, 4096), "patience": (1, 1000), "calibration": (1, 365)}

_EPOCH_PROGRESS: ContextVar[Progress | None] = ContextVar("lstm_epoch_progress", default=None)


@contextlib.contextmanager
def epoch_progress(callback: Progress | None) -> Iterator[None]:
    """While active, every LSTM trained in this context calls ``callback(fraction, text)``
    after each epoch; an exception it raises (a cancelled job's ``JobCancelled``) stops
    training and propagates. Lets a use case report per-epoch progress of fits it does not
    construct itself (backtest folds, ensemble members)."""
    token = _EPOCH_PROGRESS.set(callback)
    try:
        yield
    finally:
        _EPOCH_PROGRESS.reset(token)


def rmse_share_of_price(rmse: float, price: float) -> float:
    """A backtest RMSE as a share of the price (0.025 = 2.5%)."""
    if not price > 0:
        raise ValidationFailed(f"price must be positive, got {price}")
    return float(rmse) / float(price)


@dataclass(frozen=True)
class LstmCondition:
    """The requirements' condition for trying an LSTM: the champion's backtest RMSE is
    above ``LSTM_RMSE_SHARE`` (2%) of the price.

    >>> c = LstmCondition(rmse=2.41, price=77.6)
    >>> c.met
    True
    >>> print(c.text)  # doctest: +NORMALIZE_WHITESPACE
    Champion RMSE 2.41 = 3.1% of the last close 77.6: above the 2% the requirements set
    for trying an LSTM
    """

    rmse: float
    price: float

    @property
    def share(self) -> float:
        return rmse_share_of_price(self.rmse, self.price)

    @property
    def met(self) -> bool:
        return self.share > LSTM_RMSE_SHARE

    @property
    def text(self) -> str:
        where = "above" if self.met else "not above"
        return (f"Champion RMSE {self.rmse:.3g} = {self.share:.1%} of the last close "
                f"{self.price:.4g}: {where} the {LSTM_RMSE_SHARE:.0%} the requirements set "
                "for trying an LSTM")


def default_settings() -> dict[str, Any]:
    """The LSTM's settings and their defaults (``LSTM.__init__``), for the front doors.

    >>> default_settings()["window"], default_settings()["epochs"]
    (20, 30)
    """
    import inspect

    params = inspect.signature(LSTM.__init__).parameters
    return {name: p.default for name, p in params.items()
            if name not in ("self", "log", "exchange")}


# ---------------------------------------------------------------------------- numpy LSTM
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1/(1+exp(-x)), overflow-free


def lstm_forward(weights: list[np.ndarray], x: np.ndarray, layers: int) -> np.ndarray:
    """Keras ``Sequential([LSTM..., Dense(1)])`` in numpy: ``x`` (batch, window, 1) ->
    (batch,). ``weights`` is ``model.get_weights()``: per layer kernel (in, 4u), recurrent
    kernel (u, 4u), bias (4u) with gates ordered i, f, c, o; then the Dense kernel and bias.
    Activations are Keras' defaults (tanh, sigmoid recurrent activation)."""
    seq = x
    for layer in range(layers):
        kernel, recurrent, bias = weights[3 * layer : 3 * layer + 3]
        units = recurrent.shape[0]
        u2, u3 = 2 * units, 3 * units
        batch, steps, _ = seq.shape
        xw = seq @ kernel + bias  # (batch, steps, 4u): the input part of every step at once
        # Fewest numpy calls per step (a 30-step recursive forecast runs 600 of them): one
        # sigmoid over all four gates (the g part is not used), the first step's h and c
        # are zero; the last layer keeps only its final h.
        gates = _sigmoid(xw[:, 0, :])
        c = gates[:, :units] * np.tanh(xw[:, 0, u2:u3])
        h = gates[:, u3:] * np.tanh(c)
        outs = None if layer == layers - 1 else np.empty((batch, steps, units))
        if outs is not None:
            outs[:, 0, :] = h
        for t in range(1, steps):
            z = xw[:, t, :] + h @ recurrent
            gates = _sigmoid(z)
            c = gates[:, units:u2] * c + gates[:, :units] * np.tanh(z[:, u2:u3])
            h = gates[:, u3:] * np.tanh(c)
            if outs is not None:
                outs[:, t, :] = h
        seq = h if outs is None else outs
    dense_w, dense_b = weights[3 * layers], weights[3 * layers + 1]
    return np.asarray((seq @ dense_w + dense_b)[:, 0])


def recursive_forecast(weights: list[np.ndarray], layers: int, history: np.ndarray,
                       h: int) -> np.ndarray:
    """Scaled returns ``h`` steps ahead from each row of ``history`` (batch, window),
    feeding every forecast back in as the newest input: (batch, h)."""
    buf = np.array(history, dtype=np.float64, copy=True)
    out = np.empty((buf.shape[0], h))
    for k in range(h):
        step = lstm_forward(weights, buf[:, :, None], layers)
        out[:, k] = step
        buf = np.concatenate([buf[:, 1:], step[:, None]], axis=1)
    return out


def calibrate_bands(errors: np.ndarray) -> dict[str, np.ndarray]:
    """Per-step band offsets from held-out cumulative errors ``errors`` (origins, steps),
    NaN where an origin's step runs past the data.

    Split-conformal per step: with n errors at a step, the upper offset at level 1-a/2 is
    the ceil((n+1)(1-a/2))-th smallest error (the finite-sample correction), the lower one
    mirrors it. Steps with fewer than ``MIN_CALIBRATION`` errors are dropped. Offsets never
    shrink with the step (cumulative errors spread out) and always bracket zero, so bands
    contain the point forecast. Returns ``{"lo80", "hi80", "lo95", "hi95"}`` arrays of the
    calibrated steps."""
    n_by_step = np.sum(np.isfinite(errors), axis=0)
    steps = int(np.sum(n_by_step >= MIN_CALIBRATION))
    if steps == 0:
        have = int(n_by_step[0]) if len(n_by_step) else 0
        raise FitFailed(f"LSTM: too few held-out errors to calibrate bands (need "
                        f"{MIN_CALIBRATION} at step 1, have {have})")
    out: dict[str, list[float]] = {k: [] for k in ("lo80", "hi80", "lo95", "hi95")}
    for k in range(steps):
        e = np.sort(errors[np.isfinite(errors[:, k]), k])
        n = len(e)
        for level, lo_q, hi_q in BAND_LEVELS:
            rank_hi = min(math.ceil((n + 1) * hi_q), n)
            rank_lo = max(math.floor((n + 1) * lo_q), 1)
            out[f"lo{level}"].append(min(float(e[rank_lo - 1]), 0.0))
            out[f"hi{level}"].append(max(float(e[rank_hi - 1]), 0.0))
    bands = {k: np.asarray(v) for k, v in out.items()}
    bands["hi80"] = np.maximum.accumulate(bands["hi80"])
    bands["hi95"] = np.maximum(np.maximum.accumulate(bands["hi95"]), bands["hi80"])
    bands["lo80"] = np.minimum.accumulate(bands["lo80"])
    bands["lo95"] = np.minimum(np.minimum.accumulate(bands["lo95"]), bands["lo80"])
    return bands


def _extend(offsets: np.ndarray, h: int) -> np.ndarray:
    """Offsets for steps 1..h: calibrated ones, then the last one times sqrt(k/K)."""
    k_cal = len(offsets)
    if h <= k_cal:
        return offsets[:h]
    steps = np.arange(k_cal + 1, h + 1, dtype=np.float64)
    return np.r_[offsets, offsets[-1] * np.sqrt(steps / k_cal)]


# ---------------------------------------------------------------------------- keras glue
def _keras() -> Any:
    """Import Keras on the JAX backend (first use only; ~5 s)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    if keras.backend.backend() != "jax":
        raise FitFailed(f"LSTM needs Keras on the JAX backend; KERAS_BACKEND is "
                        f"{keras.backend.backend()!r}")
    return keras


def training_device() -> str:
    """Where JAX trains: the first accelerator if there is one, else the CPU."""
    import jax

    devices = jax.devices()
    return f"{devices[0].platform}:{devices[0].id}"


class LSTM(Forecaster):
    """LSTM on the last ``window`` returns; see the module docstring.

    Settings: ``window`` returns in, ``units`` per layer, ``layers`` stacked LSTM layers,
    ``dropout`` on the inputs of each layer, at most ``epochs`` of Adam (``learning_rate``)
    in mini-batches of ``batch_size``, early stopping after ``patience`` epochs without a
    better validation loss on the last ``validation`` share of the windows, ``calibration``
    steps of calibrated bands, ``seed`` for identical results on identical data."""

    kind = "lstm"

    def __init__(self, window: int = 20, units: int = 32, layers: int = 1, dropout: float = 0.0,
                 epochs: int = 30, batch_size: int = 64, patience: int = 5,
                 validation: float = 0.2, learning_rate: float = 1e-3, calibration: int = 30,
                 seed: int = 0, log: bool = True, exchange: str = "XNYS") -> None:
        super().__init__(log=log, exchange=exchange)
        given = {"window": window, "units": units, "layers": layers, "epochs": epochs,
                 "batch_size": batch_size, "patience": patience, "calibration": calibration}
        for name, value in given.items():
            lo, hi = INT_LIMITS[name]
            if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                    or not lo <= value <= hi:
                raise ValidationFailed(f"LSTM {name} must be an integer in {lo}..{hi}, "
                                       f"got {value!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, int | float | np.floating) \
                or not 0.0 <= float(dropout) < 1.0:
            raise ValidationFailed(f"LSTM dropout must be in [0, 1), got {dropout!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValidationFailed(f"LSTM seed must be a whole number >= 0, got {seed!r}")
        if not 0.05 <= float(validation) <= 0.5:
            raise ValidationFailed(f"LSTM validation share must be in 0.05..0.5, "
                                   f"got {validation!r}")
        if not 0.0 < float(learning_rate) <= 1.0:
            raise ValidationFailed(f"LSTM learning_rate must be in (0, 1], got {learning_rate!r}")
        self.window = int(window)
        self.units = int(units)
        self.layers = int(layers)
        self.dropout = float(dropout)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.patience = int(patience)
        self.validation = float(validation)
        self.learning_rate = float(learning_rate)
        self.calibration = int(calibration)
        self.seed = int(seed)

    @property
    def label(self) -> str:
        return f"LSTM({self.layers}x{self.units}, window {self.window})"

    def _n_val(self, n_windows: int) -> int:
        return max(MIN_CALIBRATION, round(self.validation * n_windows))

    def min_obs(self) -> int:
        # prices -> returns (one fewer) -> windows; enough training and held-out windows
        n_windows = math.ceil(MIN_TRAIN / (1.0 - self.validation))
        n_windows = max(n_windows, MIN_TRAIN + MIN_CALIBRATION)
        return self.window + 1 + n_windows

    # ------------------------------------------------------------------ data
    def _returns(self) -> np.ndarray:
        return np.diff(self._to_work(self.values_))

    def _windows(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = self.window
        idx = np.arange(w, len(scaled))
        X = np.stack([scaled[i - w : i] for i in idx]) if len(idx) else np.empty((0, w))
        return X, scaled[w:]

    def _scale(self, r: np.ndarray) -> np.ndarray:
        return (r - self.loc_) / self.scale_

    # ------------------------------------------------------------------ training
    def _fit(self) -> None:
        r = self._returns()
        n_windows = len(r) - self.window
        n_val = self._n_val(n_windows)
        n_train = n_windows - n_val
        if n_train < MIN_TRAIN:
            raise FitFailed(f"LSTM needs {MIN_TRAIN} training windows, has {n_train}")
        train_returns = r[: self.window + n_train]  # the returns the training windows see
        self.loc_ = float(np.mean(train_returns))
        self.scale_ = float(np.std(train_returns))
        if not self.scale_ > 0:
            raise FitFailed("LSTM: the training returns are constant; nothing to learn")
        X, y = self._windows(self._scale(r))
        started = time.perf_counter()
        self.weights_, self.history_ = self._train(X[:n_train], y[:n_train], X[n_train:],
                                                   y[n_train:])
        self.train_seconds_ = time.perf_counter() - started
        self.n_train_, self.n_val_ = n_train, n_val
        self.bands_ = calibrate_bands(self._heldout_errors(r, n_train))

    def _train(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray,
               y_val: np.ndarray) -> tuple[list[np.ndarray], dict[str, Any]]:
        keras = _keras()
        import jax

        keras.utils.set_random_seed(self.seed)
        report = _EPOCH_PROGRESS.get()
        epochs = self.epochs

        class EpochProgress(keras.callbacks.Callback):  # type: ignore[name-defined]
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                if report is not None:
                    logs = logs or {}
                    report((epoch + 1) / epochs,
                           f"epoch {epoch + 1}/{epochs} · loss {logs.get('loss', float('nan')):.4f}"
                           f" · validation {logs.get('val_loss', float('nan')):.4f}")

        device = jax.devices()[0]
        with jax.default_device(device):
            model = keras.Sequential([keras.Input((self.window, 1))])
            for layer in range(self.layers):
                model.add(keras.layers.LSTM(self.units, dropout=self.dropout,
                                            return_sequences=layer < self.layers - 1))
            model.add(keras.layers.Dense(1))
            model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
            stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience,
                                                 restore_best_weights=True)
            # shuffle mixes mini-batches of the training part only: validation_data is the
            # separate, later tail, so nothing of the future leaks into training.
            fit = model.fit(X[:, :, None], y, validation_data=(X_val[:, :, None], y_val),
                            epochs=epochs, batch_size=self.batch_size, shuffle=True,
                            callbacks=[stop, EpochProgress()], verbose=0)
        weights = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
        losses = fit.history
        val = [float(v) for v in losses.get("val_loss", [])]
        history = {"loss": [float(v) for v in losses.get("loss", [])], "val_loss": val,
                   "epochs_run": len(val), "best_epoch": int(np.argmin(val)) + 1 if val else 0,
                   "device": f"{device.platform}:{device.id}"}
        return weights, history

    def _heldout_errors(self, r: np.ndarray, n_train: int) -> np.ndarray:
        """Cumulative work-space errors of recursive forecasts from every origin of the
        held-out tail: (origins, calibration steps), NaN past the end of the data."""
        scaled = self._scale(r)
        first = self.window + n_train  # index of the first held-out return
        origins = np.arange(first, len(r))
        hist = np.stack([scaled[o - self.window : o] for o in origins])
        steps = self.calibration
        fc = recursive_forecast(self.weights_, self.layers, hist, steps)
        fc_cum = np.cumsum(fc * self.scale_ + self.loc_, axis=1)
        errors = np.full((len(origins), steps), np.nan)
        for i, origin in enumerate(origins):
            o = int(origin)
            m = min(steps, len(r) - o)
            errors[i, :m] = np.cumsum(r[o : o + m]) - fc_cum[i, :m]
        return errors

    def _update(self, n_new: int) -> None:
        pass  # weights, scaler and bands are kept; the next window starts at the new data

    # ------------------------------------------------------------------ forecasting
    def _forecast_cum(self, h: int) -> np.ndarray:
        hist = self._scale(self._returns()[-self.window :])[None, :]
        fc = recursive_forecast(self.weights_, self.layers, hist, h)[0]
        return np.cumsum(fc * self.scale_ + self.loc_)

    @property
    def band_base(self) -> str:
        return "conformal"  # split conformal on held-out errors (calibrate_bands)

    def predict(self, h: int, X_future: pd.DataFrame | None = None) -> ForecastResult:
        """h-step recursive forecast with the held-out calibrated 80/95% bands."""
        from core.forecast import checks
        from core.market.calendar import trading_calendar

        h = checks.check_horizon(h)
        self._require_fitted()
        dates = trading_calendar(self.exchange).next_sessions(self.dates_[-1], h)
        last = float(self._to_work(self.values_[-1:])[0])
        mean = last + self._forecast_cum(h)
        parts = [mean + _extend(self.bands_[k], h) for k in ("lo95", "lo80")]
        parts += [mean] + [mean + _extend(self.bands_[k], h) for k in ("hi80", "hi95")]
        if self.log:
            parts = [np.exp(p) for p in parts]
        lo95, lo80, mid, hi80, hi95 = parts
        return ForecastResult(dates, mid, lo80, hi80, lo95, hi95, self.label)

    def _forecast_work(self, h: int, X_future: pd.DataFrame | None,
                       dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError("LSTM.predict builds its bands from calibration quantiles")

    def _residuals(self) -> np.ndarray:
        r = self._returns()
        X, y = self._windows(self._scale(r))
        return (y - lstm_forward(self.weights_, X[:, :, None], self.layers)) * self.scale_

    def n_params(self) -> int:
        return int(sum(w.size for w in self.weights_))

    def _summary(self) -> dict[str, Any]:
        # No AIC/BIC: the network is not fitted by maximum likelihood, and a criterion over
        # thousands of weights would not be comparable with an ARIMA's anyway.
        return {"order": None, "aic": None, "bic": None, "coefficients": {},
                "parameters": self.n_params(), "training": dict(self.history_),
                "train_windows": self.n_train_, "validation_windows": self.n_val_,
                "calibrated_steps": len(self.bands_["hi80"]),
                "train_seconds": round(self.train_seconds_, 3)}

    def _learned_state(self) -> dict[str, Any]:
        return {"weights": [np.asarray(w, dtype=np.float64) for w in self.weights_],
                "loc": self.loc_, "scale": self.scale_,
                "bands": {k: np.asarray(v, dtype=np.float64) for k, v in self.bands_.items()},
                "history": dict(self.history_), "n_train": self.n_train_,
                "n_val": self.n_val_, "train_seconds": self.train_seconds_}

    def _restore(self, learned: dict[str, Any]) -> None:
        weights = [np.asarray(w, dtype=np.float64) for w in learned["weights"]]
        if len(weights) != 3 * self.layers + 2:
            raise ValidationFailed(f"LSTM state has {len(weights)} weight arrays, expected "
                                   f"{3 * self.layers + 2} for {self.layers} layer(s)")
        self.weights_ = weights
        self.loc_ = float(learned["loc"])
        self.scale_ = float(learned["scale"])
        self.bands_ = {k: np.asarray(v, dtype=np.float64) for k, v in learned["bands"].items()}
        self.history_ = dict(learned["history"])
        self.n_train_ = int(learned["n_train"])
        self.n_val_ = int(learned["n_val"])
        self.train_seconds_ = float(learned["train_seconds"])

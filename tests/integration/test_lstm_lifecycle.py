"""An LSTM champion through the scheduled pipeline: the weekly retrain trains a new network
from scratch on the latest window, the daily refresh feeds the new returns to the saved
network without training (issue 14).

Keras' training step is replaced by weights drawn from the training data (the rest is the
real code: windows, scaler, calibration, artifact, registry, gate), so the tests count
trainings and see which data each one saw without paying for Keras.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core import pipeline
from core.auth import SYSTEM
from core.db.engine import Database
from core.forecast import forecaster_from_state, registry
from core.forecast.lstm import LSTM
from core.forecast.service import FitRequest, fit_model, forecast, load_model, save_model
from core.market.sample import load_sample_bars
from core.market.store import upsert_bars
from core.settings import Settings

WINDOW = 400  # trading days the champion trains on
NEW = 60  # days stored after the champion's training end
OPTIONS = {"window": 10, "units": 4, "epochs": 2, "calibration": 5}


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Every LSTM training's targets; weights come from the training data's values."""
    seen: list[np.ndarray] = []

    def train(self: LSTM, X: np.ndarray, y: np.ndarray, X_val: np.ndarray,
              y_val: np.ndarray) -> tuple[list[np.ndarray], dict[str, Any]]:
        seen.append(np.asarray(y))
        rng = np.random.default_rng(abs(int(1e6 * float(np.sum(y)))) % 2**32)
        u = self.units
        weights = [rng.normal(0, 0.3, (1, 4 * u)), rng.normal(0, 0.3, (u, 4 * u)),
                   rng.normal(0, 0.1, 4 * u), rng.normal(0, 0.3, (u, 1)), rng.normal(0, 0.1, 1)]
        return weights, {"loss": [1.0], "val_loss": [1.0], "epochs_run": 1, "best_epoch": 1,
                         "device": "cpu:0"}

    monkeypatch.setattr(LSTM, "_train", train)
    return seen


def _seed(db: Database, settings: Settings) -> tuple[int, dt.date]:
    """MSFT's last WINDOW + NEW days stored; an LSTM champion on the first WINDOW of them."""
    bars = load_sample_bars().iloc[-(WINDOW + NEW):]
    upsert_bars(db, "MSFT", bars, source="sample")
    end = pd.Timestamp(bars["date"].iloc[WINDOW - 1]).date()
    request = FitRequest(symbol="MSFT", kind="lstm", options=dict(OPTIONS), end=end, folds=2)
    version = save_model(db, settings, fit_model(db, settings, request), SYSTEM)
    assert version.role == "champion" and version.n_obs == WINDOW
    return version.id, pd.Timestamp(bars["date"].iloc[-1]).date()


def _weights(db: Database, version_id: int) -> list[np.ndarray]:
    with db.read() as session:
        state = registry.load_state(registry.get_version(session, version_id)).state
    return list(forecaster_from_state(state).weights_)


def test_daily_refresh_feeds_new_returns_without_training(
        db: Database, settings: Settings, trainings: list[np.ndarray]) -> None:
    champion_id, newest = _seed(db, settings)
    trained = len(trainings)
    loaded = load_model(db, settings, "MSFT")
    view = forecast(db, settings, "MSFT", 5, issued_by="schedule")
    assert len(trainings) == trained  # no training: the saved weights forecast
    assert loaded.new_observations == NEW
    assert all(np.array_equal(a, b) for a, b in
               zip(loaded.forecaster.weights_, _weights(db, champion_id), strict=True))
    # The forecast starts after the newest stored day, from the newest window of returns.
    assert view.data_date == newest and view.result.dates[0].date() > newest
    stale = forecaster_from_state(loaded.forecaster.to_state())
    stale.values_, stale.dates_ = stale.values_[:-NEW], stale.dates_[:-NEW]
    assert not np.allclose(stale.predict(5).mean, view.result.mean)


def test_weekly_retrain_trains_an_lstm_champion_again_from_scratch(
        db: Database, settings: Settings, trainings: list[np.ndarray]) -> None:
    champion_id, newest = _seed(db, settings)
    trained = len(trainings)
    run = pipeline.run_weekly_retrain(db, settings, ["MSFT"], n_workers=1,
                                      now=dt.datetime(2017, 11, 13, 23, tzinfo=dt.UTC))
    assert run.status == "succeeded", run.to_dict()
    fit = run.symbols["MSFT"].steps["retrain"]
    assert fit["status"] == "saved", fit
    with db.read() as session:
        challenger = registry.get_version(session, int(fit["version_id"]))
    # The champion's recipe on the latest window of the same length, trained anew.
    assert (challenger.kind, challenger.spec["options"]) == ("lstm", OPTIONS)
    assert (challenger.train_end, challenger.n_obs) == (newest, WINDOW)
    assert len(trainings) > trained
    assert not all(np.array_equal(a, b) for a, b in zip(
        _weights(db, challenger.id), _weights(db, champion_id), strict=True))
    assert "promotion" in run.symbols["MSFT"].steps

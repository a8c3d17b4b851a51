"""The model subcommands refuse bad counts before any work (no traceback, no saved model)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from core.cli import main
from core.errors import CoreError, ValidationFailed
from core.forecast.service import FitRequest, fit_model
from core.settings import Settings


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["backtest", "--symbol", "MSFT", "--folds", "0"],
                     "--folds: must be 1 or more, got 0", id="backtest-zero-folds"),
        pytest.param(["fit", "--symbol", "MSFT", "--folds", "-3"],
                     "--folds: must be 0 or more, got -3", id="fit-negative-folds"),
        pytest.param(["fit", "--symbol", "MSFT", "--folds", "two"],
                     "--folds: 'two' is not a whole number", id="fit-word-folds"),
        pytest.param(["backtest", "--symbol", "MSFT", "--horizon", "0"],
                     "--horizon: must be 1 or more, got 0", id="backtest-zero-horizon"),
        pytest.param(["predict", "--symbol", "MSFT", "--days", "-1"],
                     "--days: must be 1 or more, got -1", id="predict-negative-days"),
    ],
)
def test_bad_counts_are_usage_errors(argv: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def no_context(*_: Any, **__: Any) -> None:
        raise AssertionError("the command ran although its arguments were invalid")

    monkeypatch.setattr("core.context.open_context", no_context)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_fit_model_refuses_negative_folds(tmp_path: Any) -> None:
    settings = Settings(database_url="sqlite://", data_dir=tmp_path, model_dir=tmp_path)
    request = FitRequest(symbol="MSFT", kind="naive", folds=-3)
    with pytest.raises(ValidationFailed, match=r"folds must be 0 .* got -3"):
        fit_model(None, settings, request)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--model", "lstm", "--window", "1"],
                     "LSTM window must be an integer in 2..250, got 1", id="lstm-window"),
        pytest.param(["--model", "lstm", "--dropout", "1.5"],
                     "LSTM dropout must be in [0, 1), got 1.5", id="lstm-dropout"),
        pytest.param(["--model", "lstm", "--seed", "-1"],
                     "LSTM seed must be a whole number >= 0, got -1", id="lstm-seed"),
        pytest.param(["--model", "lstm", "--batch-size", "0"],
                     "LSTM batch_size must be an integer in 1..4096, got 0", id="lstm-batch"),
        pytest.param(["--model", "arima", "--order", "1,1,1", "--epochs", "5"],
                     "--epochs: LSTM settings need --model lstm", id="lstm-setting-on-arima"),
        pytest.param(["--model", "ensemble", "--units", "8"],
                     "--units: LSTM settings need --model lstm, or --model ensemble with lstm",
                     id="ensemble-without-lstm"),
        pytest.param(["--model", "naive", "--weighting", "backtest"],
                     "--weighting applies to --model ensemble, not naive", id="weighting-naive"),
        pytest.param(["--model", "ensemble", "--weighting", "best"],
                     "ensemble weighting must be one of inverse_mse, backtest, got 'best'",
                     id="weighting-unknown"),
    ],
)
def test_bad_lstm_and_ensemble_settings_are_refused_before_any_work(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_context(*_: Any, **__: Any) -> None:
        raise AssertionError("the command ran although its arguments were invalid")

    monkeypatch.setattr("core.context.open_context", no_context)
    assert main(["fit", "--symbol", "MSFT", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


class _Stop(CoreError):
    pass


def _requested(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> FitRequest:
    """The FitRequest that ``fit`` hands to the use case (stopped right there)."""
    seen: list[FitRequest] = []

    def fit(_db: Any, _settings: Any, request: FitRequest, **_: Any) -> None:
        seen.append(request)
        raise _Stop("stop")

    monkeypatch.setattr("core.context.open_context", lambda *a, **k: SimpleNamespace(
        db=None, settings=None))
    monkeypatch.setattr("core.forecast.service.fit_model", fit)
    assert main(["fit", "--symbol", "MSFT", *argv]) == 2
    return seen[0]


def test_lstm_settings_reach_the_forecaster_under_their_own_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    request = _requested(["--model", "lstm", "--window", "10", "--units", "8", "--layers", "2",
                          "--dropout", "0.1", "--epochs", "3", "--batch-size", "32",
                          "--seed", "7"], monkeypatch)
    assert request.kind == "lstm"
    assert request.options == {"window": 10, "units": 8, "layers": 2, "dropout": 0.1,
                               "epochs": 3, "batch_size": 32, "seed": 7, "log": True}


def test_the_arima_lstm_ensemble_gets_its_members_settings_and_weighting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    request = _requested(["--model", "ensemble", "--members", "auto_arima,lstm,naive",
                          "--weighting", "backtest", "--epochs", "3"], monkeypatch)
    assert request.options == {
        "weighting": "backtest",
        "members": [{"kind": "auto_arima"}, {"kind": "lstm", "epochs": 3}, {"kind": "naive"}]}

"""The model subcommands refuse bad counts before any work (no traceback, no saved model)."""

from __future__ import annotations

from typing import Any

import pytest

from core.cli import main
from core.errors import ValidationFailed
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

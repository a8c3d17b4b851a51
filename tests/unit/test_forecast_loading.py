"""Loading a saved ARIMA-family model does not refilter its history (issue 13): the artifact
carries the Kalman filter's final state, the loaded model forecasts exactly as the saved one,
and an artifact written before that state was stored still loads by refiltering."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from core.forecast import forecaster_from_state, make_forecaster
from core.forecast import statespace as ss
from core.forecast.base import Forecaster
from tests.unit.test_forecast_contract import msft

ROOT = Path(__file__).resolve().parents[2]
N, NEW, H = 700, 5, 30  # GARCH bands need 250+ residuals
SPECS: list[Any] = [
    pytest.param("arima", {"order": (1, 1, 1), "with_constant": True}, id="arima-gaussian"),
    pytest.param("arima", {"order": (2, 1, 0), "bands": "garch"}, id="arima-garch"),
    pytest.param("auto_arima", {"bands": "garch"}, id="auto-garch"),
    pytest.param("arimax", {"exog": ["open"], "exog_policy": "forecast"}, id="arimax-forecast"),
]
_CACHE: dict[str, Forecaster] = {}


def fitted(kind: str, opts: dict[str, Any]) -> Forecaster:
    key = f"{kind}{sorted(opts.items(), key=str)}"
    if key not in _CACHE:
        y, X = msft(N + NEW)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _CACHE[key] = make_forecaster(kind, **opts).fit(y.iloc[:N], X.iloc[:N])
    return _CACHE[key]


def saved(state: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    joblib.dump(state, buf, compress=3)  # as core.forecast.artifacts writes it
    buf.seek(0)
    loaded: dict[str, Any] = joblib.load(buf)
    return loaded


def old_format(state: dict[str, Any]) -> dict[str, Any]:
    """The state as artifacts written before the filter's tail was stored look."""
    def strip(learned: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in learned.items() if k != "tail"}
        if "exog_models" in out:
            out["exog_models"] = [strip(m) for m in out["exog_models"]]
        if out.get("band_layer"):
            out["band_layer"] = {k: v for k, v in out["band_layer"].items() if k != "quantiles"}
        return out

    return {**state, "learned": strip(state["learned"])}


@pytest.fixture
def filter_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every Kalman filter over a history (fixed-params filtering and refits)."""
    calls: list[int] = []
    original = ss.filter_params

    def counting(z: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(z))
        return original(z, *args, **kwargs)

    monkeypatch.setattr(ss, "filter_params", counting)
    return calls


@pytest.mark.parametrize(("kind", "opts"), SPECS)
def test_loaded_model_forecasts_exactly_as_saved_without_refiltering(
        kind: str, opts: dict[str, Any], filter_calls: list[int]) -> None:
    f = fitted(kind, opts)
    state = saved(f.to_state())
    filter_calls.clear()
    g = forecaster_from_state(state)
    a, b = f.predict(H), g.predict(H)
    assert filter_calls == []  # neither loading nor forecasting ran the filter
    for name in ("mean", "lo80", "hi80", "lo95", "hi95"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (g.band_layer_ is None) == (f.band_layer_ is None)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("kind", "opts"), SPECS)
def test_update_after_loading_filters_only_the_new_days(
        kind: str, opts: dict[str, Any], filter_calls: list[int]) -> None:
    y, X = msft(N + NEW)
    f = forecaster_from_state(saved(fitted(kind, opts).to_state()))
    ref = forecaster_from_state(saved(fitted(kind, opts).to_state()))
    filter_calls.clear()
    f.update(y.iloc[N:], X.iloc[N:])
    assert filter_calls == []
    # The reference: statsmodels over the whole extended history at the same params.
    ref.update(y.iloc[N:], X.iloc[N:])
    ref._refilter()  # type: ignore[attr-defined]
    np.testing.assert_allclose(f.predict(H).to_frame(), ref.predict(H).to_frame(), rtol=1e-9)


@pytest.mark.parametrize(("kind", "opts"), SPECS)
def test_old_artifact_without_the_tail_still_loads_by_refiltering(
        kind: str, opts: dict[str, Any], filter_calls: list[int]) -> None:
    f = fitted(kind, opts)
    state = saved(old_format(f.to_state()))
    filter_calls.clear()
    g = forecaster_from_state(state)
    assert len(filter_calls) >= 1 and filter_calls[-1] == len(g.design()[0])  # type: ignore[attr-defined]
    np.testing.assert_allclose(f.predict(H).to_frame(), g.predict(H).to_frame(), rtol=1e-10)
    assert "tail" in g.to_state()["learned"]  # saved again, it is the new format


def test_summary_of_a_loaded_model_matches_the_original() -> None:
    f = fitted("arima", {"order": (1, 1, 1), "with_constant": True})
    g = forecaster_from_state(saved(f.to_state()))
    a, b = f.summary(), g.summary()
    assert a["aic"] == pytest.approx(b["aic"], rel=1e-12)
    assert a["coefficients"] == b["coefficients"]
    np.testing.assert_allclose(f.residuals(), g.residuals(), rtol=1e-12)


PROBE = """
import io, json, sys, joblib
from core.forecast import forecaster_from_state
state = joblib.load(io.BytesIO(sys.stdin.buffer.read()))
forecaster_from_state(state).predict(30)
print(json.dumps([m for m in ("statsmodels", "scipy.stats", "statsforecast", "arch")
                  if m in sys.modules]))
"""


def test_loading_and_forecasting_import_no_engine() -> None:
    """The API's first request pays for loading, not for importing statsmodels (~2 s)."""
    buf = io.BytesIO()
    joblib.dump(fitted("arima", {"order": (2, 1, 0), "bands": "garch"}).to_state(), buf)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, input=buf.getvalue(),
                          check=True, capture_output=True)
    assert json.loads(done.stdout.decode().strip().splitlines()[-1]) == []

"""AutoARIMA takes statsforecast's exact-ML estimates when statsmodels' likelihood agrees
with the engine's at them (issue 13: the statsmodels optimisation cost more than the whole
order search). The AIC is then no worse than statsmodels' own optimum from the same start,
and a mismatch falls back to statsmodels' optimiser."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.forecast import arima
from core.forecast import statespace as ss
from core.forecast.arima import AutoARIMA
from tests.unit.test_forecast_contract import msft


@pytest.fixture(scope="module")
def y():  # type: ignore[no-untyped-def]
    return msft(600)[0]


def test_engine_estimates_are_statsmodels_optimum(y) -> None:  # type: ignore[no-untyped-def]
    m = AutoARIMA().fit(y)
    assert m.estimated_by_ is not None and m.estimated_by_.startswith("statsforecast exact ML")
    assert m.likelihood_gap_ is not None and m.likelihood_gap_ <= arima.LIKELIHOOD_MATCH
    # statsmodels' own optimiser started at the same point finds nothing better.
    endog, exog = m.design()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, _ = ss.fit_mle(endog, m.order_, exog, m.params_[:-1], maxiter=200)
    assert m.aic_ <= ref.aic + 1e-6 or not np.isfinite(ref.aic)
    # The served params are statsmodels' results at those estimates (one likelihood).
    again = ss.filter_params(endog, m.order_, exog, m.params_)
    assert float(again.llf) == pytest.approx(float(m.results_.llf), abs=1e-9)
    assert m.summary()["estimated_by"] == m.estimated_by_


def test_likelihood_mismatch_falls_back_to_statsmodels_optimiser(
        y, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    fast = AutoARIMA().fit(y)
    monkeypatch.setattr(arima, "LIKELIHOOD_MATCH", -1.0)  # nothing agrees
    slow = AutoARIMA().fit(y)
    assert slow.estimated_by_ == "statsmodels ML from statsforecast's estimates"
    assert slow.order_ == fast.order_
    assert fast.aic_ <= slow.aic_ + 1e-3  # the engine's optimum is at least as good


def test_css_only_search_has_no_exact_likelihood_to_check(
        y, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(arima, "ENGINE_FINAL_ML", False)
    m = AutoARIMA(approximation=True).fit(y)
    assert m.likelihood_gap_ is None
    assert m.estimated_by_ == "statsmodels ML from statsforecast's estimates"


def test_criteria_match_the_summary_without_standard_errors(
        y, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """What the registry records after a fit comes without the OPG standard errors (a
    filter per parameter), which only a page's summary needs."""
    m = AutoARIMA().fit(y)
    calls: list[int] = []
    original = ss.standard_errors
    monkeypatch.setattr(ss, "standard_errors",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    crit = m.criteria()
    assert calls == []
    summary = m.summary()
    assert calls == [1]
    assert crit == {k: summary.get(k) for k in ("kind", "label", "order", "aic", "bic")}


PROBE = """
import json, sys
import numpy as np
from core.forecast.arima import statsforecast_autoarima
SF = statsforecast_autoarima()
skipped = "dask.dataframe" not in sys.modules
z = np.log(np.linspace(100.0, 120.0, 200) + np.sin(np.arange(200.0)))
order = SF(seasonal=False).fit(z).model_["arma"]
import dask.dataframe  # the dask batch backend still imports it as usual
left = [type(f).__name__ for f in sys.meta_path if type(f).__name__ == "_NoDaskDataFrame"]
print(json.dumps({"skipped": skipped, "ok": len(order) == 7, "left": left}))
"""


def test_statsforecast_is_imported_without_dask_dataframe() -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=root, check=True,
                          capture_output=True, text=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["skipped"] and out["ok"]
    assert out["left"] == []  # the blocker is gone after the import

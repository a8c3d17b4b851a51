"""Model fitting with the LSTM (issue 14): its settings reach the fit job, an ensemble shows
each member's weight and fold errors by name, and the page says when the champion's
backtest RMSE meets the requirements' 2% condition for trying an LSTM."""

from __future__ import annotations

import datetime as dt

import pytest

from core import jobs
from core.auth import SYSTEM
from core.context import AppContext
from core.forecast import drafts
from core.forecast.lstm import default_settings
from core.forecast.service import FitRequest, lstm_condition
from core.handlers import HANDLERS
from dashboard import keys
from tests.app.conftest import assert_clean, run_page

WINDOW = {"start": dt.date(2016, 1, 4), "end": dt.date(2017, 11, 10)}


def _fit(ctx: AppContext, request: FitRequest) -> int:
    job = jobs.submit(ctx.db, kind="fit", symbol=request.symbol,
                      params=drafts.request_to_params(request), actor=SYSTEM)
    done = jobs.run(ctx.db, job.id, HANDLERS)
    assert done.status == "succeeded", done.error
    return int(done.result["version_id"])


def test_lstm_settings_start_at_the_estimators_defaults_and_reach_the_job(
        sample_app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "launch", lambda job_id, **_: None)
    at = run_page("fitting.py")
    at.selectbox(key=keys.FIT_KIND).set_value("lstm").run()
    assert_clean(at)
    defaults = default_settings()
    for name in ("window", "units", "layers", "dropout", "epochs", "batch_size", "seed"):
        assert at.number_input(key=keys.FIT_LSTM + name).value == defaults[name]
    at.number_input(key=keys.FIT_LSTM + "epochs").set_value(3).run()
    at.number_input(key=keys.FIT_LSTM + "units").set_value(8).run()
    at.button(key=keys.FIT_GO).click().run()
    assert_clean(at)
    job = jobs.active(sample_app.db, kind="fit", symbol="MSFT")
    assert job is not None
    assert job.params["kind"] == "lstm"
    assert job.params["options"] == {"epochs": 3, "units": 8, "log": True}


def test_an_ensemble_shows_each_members_weight_and_fold_errors_by_name(
        sample_app: AppContext) -> None:
    request = FitRequest(symbol="MSFT", kind="ensemble", folds=1, horizon=5,
                         options={"members": [{"kind": "drift"}, {"kind": "naive"}],
                                  "weighting": "backtest"}, **WINDOW)
    draft = drafts.load(sample_app.db, _fit(sample_app, request))
    labels = [m.label for m in draft.forecaster.members_]
    at = run_page("fitting.py")
    assert_clean(at)
    heading = at.subheader[0].value
    assert "*" in draft.forecaster.label and "\\*" in heading  # Markdown keeps the stars
    tables = [t.value for t in at.dataframe]
    weights = next(t for t in tables if list(t.columns) == labels)
    assert weights.iloc[0].sum() == pytest.approx(1.0)
    folds = next(t for t in tables if list(t.columns) == ["fold", *labels])
    assert len(folds) == draft.forecaster.folds
    assert any("tuned on the backtest" in m.value for m in at.markdown)


def test_the_page_says_when_the_champion_meets_the_two_percent_condition(
        sample_app: AppContext) -> None:
    request = FitRequest(symbol="MSFT", kind="drift", folds=2, horizon=20, **WINDOW)
    drafts.keep_draft(sample_app.db, _fit(sample_app, request), SYSTEM)
    condition = lstm_condition(sample_app.db, sample_app.settings, "MSFT")
    # 20-day drift errors on 2016-2017 MSFT: RMSE 2.69 = 3.2% of the last close 83.87
    assert condition is not None and condition.met
    at = run_page("fitting.py")
    assert_clean(at)
    shown = [i.value for i in at.info] + [c.value for c in at.caption]
    assert any(condition.text in s for s in shown)
    assert any("condition for trying an LSTM is met" in i.value for i in at.info)

"""AppTest of the model fitting and forecast pages on the bundled sample data."""

from __future__ import annotations

import datetime as dt

import pytest

from core import jobs
from core.auth import SYSTEM
from core.context import AppContext
from core.forecast.service import FitRequest, fit_model, save_model, versions
from dashboard import keys
from tests.app.conftest import assert_clean, run_page


@pytest.fixture(autouse=True)
def _jobs_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fit job runs synchronously in the test process instead of a detached worker."""
    monkeypatch.setattr(jobs, "launch", run_job_here)


def run_job_here(job_id: int, **_: object) -> None:
    from core.context import open_context
    from core.handlers import HANDLERS

    jobs.run(open_context().db, job_id, HANDLERS)


def _fit_on_page(at, kind: str):  # type: ignore[no-untyped-def]
    at.selectbox(key=keys.FIT_KIND).set_value(kind).run()
    at.number_input(key=keys.FIT_FOLDS).set_value(2).run()
    at.button(key=keys.FIT_GO).click().run()
    assert_clean(at)
    return at


def test_fit_save_and_gate(sample_app: AppContext) -> None:
    at = _fit_on_page(run_page("fitting.py"), "drift")
    assert any(m.label == "Beats naive" for m in at.metric)
    assert at.subheader[0].value.startswith("drift")
    at.button(key=keys.FIT_SAVE).click().run()
    assert_clean(at)
    assert any("Saved model 1 as champion" in s.value for s in at.success)

    # A second model is a challenger; promoting it goes through the gate.
    at = _fit_on_page(at, "naive")
    at.button(key=keys.FIT_SAVE).click().run()
    assert any("as challenger" in s.value for s in at.success)
    at.button(key=keys.FIT_PROMOTE).click().run()
    assert_clean(at)
    messages = [*(s.value for s in at.success), *(e.value for e in at.error)]
    assert any("champion" in m for m in messages)
    roles = {v.id: v.role for v in versions(sample_app.db, "MSFT")}
    assert sorted(roles.values()) in (["champion", "retired"], ["challenger", "champion"])


def test_too_short_window_is_a_clear_message_and_saves_nothing(sample_app: AppContext) -> None:
    at = run_page("fitting.py")
    at.selectbox(key=keys.FIT_KIND).set_value("auto_arima").run()
    window = (dt.date(2017, 11, 1), dt.date(2017, 11, 10))
    at.date_input(key=keys.FIT_WINDOW).set_value(window).run()
    at.button(key=keys.FIT_GO).click().run()
    assert_clean(at)
    errors = " ".join(e.value for e in at.error)
    assert "needs at least" in errors and "trading days" in errors
    assert not [b for b in at.button if b.key == keys.FIT_SAVE]
    assert versions(sample_app.db, "MSFT") == []
    assert [j.status for j in jobs.recent(sample_app.db)] == ["failed"]


def test_forecast_page_without_a_model_points_to_fitting(sample_app: AppContext) -> None:
    at = run_page("forecast.py")
    assert_clean(at)
    assert any("no champion model" in i.value for i in at.info)


def test_forecast_page_shows_fan_and_banner(sample_app: AppContext) -> None:
    request = FitRequest(symbol="MSFT", kind="naive", options={}, start=dt.date(2016, 1, 1),
                         folds=2, horizon=5)
    save_model(sample_app.db, sample_app.settings,
               fit_model(sample_app.db, sample_app.settings, request), SYSTEM)
    at = run_page("forecast.py")
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 1
    assert any("random walk" in w.value for w in at.warning)
    at.slider(key=keys.FC_HORIZON).set_value(60).run()
    assert_clean(at)
    assert at.metric[2].label == "Mean in 60 days"

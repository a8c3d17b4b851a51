"""AppTest of the Forecast page: browsing logs nothing, the button logs once, and an
ARIMAX champion's slider stops where the model can forecast."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from core.auth import SYSTEM
from core.context import AppContext
from core.db.models import Prediction
from core.forecast.service import FitRequest, fit_model, save_model, versions
from dashboard import keys
from tests.app.conftest import assert_clean, run_page


def _save(ctx: AppContext, kind: str, options: dict[str, Any]) -> None:
    request = FitRequest(symbol="MSFT", kind=kind, options=options,
                         start=dt.date(2015, 1, 1), folds=0, horizon=5)
    save_model(ctx.db, ctx.settings, fit_model(ctx.db, ctx.settings, request), SYSTEM)


def _ledger_rows(ctx: AppContext) -> int:
    with ctx.db.read() as s:
        return int(s.scalar(select(func.count(Prediction.id))) or 0)


def test_browsing_logs_nothing_and_the_button_logs_once(sample_app: AppContext) -> None:
    _save(sample_app, "drift", {})
    _save(sample_app, "naive", {})  # a second version to overlay
    at = run_page("forecast.py")
    assert_clean(at)
    for days in (5, 33, 60):
        at.slider(key=keys.FC_HORIZON).set_value(days).run()
        assert_clean(at)
    other = [v.id for v in versions(sample_app.db, "MSFT") if v.role != "champion"]
    at.multiselect(key=keys.FC_OVERLAY).set_value(other).run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 1
    assert _ledger_rows(sample_app) == 0

    at.slider(key=keys.FC_HORIZON).set_value(10).run()
    at.button(key=keys.FC_LOG).click().run()
    assert_clean(at)
    assert _ledger_rows(sample_app) == 10
    assert any("Logged model" in s.value for s in at.success)
    at.button(key=keys.FC_LOG).click().run()
    assert_clean(at)
    assert _ledger_rows(sample_app) == 10
    assert any("already in the ledger" in i.value for i in at.info)


def test_an_arimax_champion_bounds_the_horizon_and_says_why(sample_app: AppContext) -> None:
    _save(sample_app, "arimax", {"exog": ["volume"], "horizon": 5})
    at = run_page("forecast.py")
    assert_clean(at)
    slider = at.slider(key=keys.FC_HORIZON)
    assert slider.max == 5 and slider.value == 5
    assert any("At most 5 trading days" in c.value for c in at.caption)
    assert at.metric[2].label == "Mean in 5 days"
    assert not at.error


def test_the_page_names_the_published_band_method(sample_app: AppContext) -> None:
    _save(sample_app, "drift", {})
    at = run_page("forecast.py")
    assert_clean(at)
    assert any(m.delta == "gaussian+aci" for m in at.metric)

"""AppTest of the model fitting and forecast pages on the bundled sample data."""

from __future__ import annotations

import datetime as dt

import pytest

from core import jobs
from core.auth import SYSTEM
from core.context import AppContext
from core.forecast import lifecycle, registry
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
    verdicts = [*(s.value for s in at.success), *(w.value for w in at.warning)]
    assert any(v.startswith("Gate: challenger RMSE") for v in verdicts)
    assert {v.role for v in versions(sample_app.db, "MSFT")} == {"champion", "challenger"}


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


def _saved(ctx: AppContext, kind: str, **options: object) -> int:
    request = FitRequest(symbol="MSFT", kind=kind, options=dict(options),
                         start=dt.date(2015, 1, 1), folds=2, horizon=5)
    return save_model(ctx.db, ctx.settings, fit_model(ctx.db, ctx.settings, request), SYSTEM).id


def _roles_on_screen(at) -> dict[int, str]:  # type: ignore[no-untyped-def]
    table = at.dataframe[0].value
    return dict(zip(table["id"].tolist(), table["role"].tolist(), strict=True))


def _choices(at, key: str) -> list[int]:  # type: ignore[no-untyped-def]
    """The model ids a selectbox offers (its labels start with the id or "model N")."""
    return [int(str(o).removeprefix("model ").split(" ")[0])
            for o in at.selectbox(key=key).options]


def test_an_override_is_used_once_and_the_tables_follow_every_write(
    sample_app: AppContext,
) -> None:
    """Promote A over the gate with a reason; then B (worse again) cannot ride on A's
    reason; the saved-models table and the lists show each write at once."""
    first = _saved(sample_app, "drift")
    a = _saved(sample_app, "arima", order=(0, 0, 1), log=False, with_constant=True)
    b = _saved(sample_app, "arima", order=(0, 0, 0), log=False, with_constant=True)
    at = run_page("fitting.py")
    at.selectbox(key=keys.FIT_CHALLENGER).set_value(a).run()
    at.button(key=keys.FIT_PROMOTE).click().run()
    assert_clean(at)
    assert any(w.value.startswith("Gate: challenger RMSE") and "worse than" in w.value
               for w in at.warning)
    assert len(at.dataframe) == 2  # the saved models, then the verdict's fold-by-fold table
    assert list(at.dataframe[1].value.columns[:4]) == [
        "fold", "origin", "challenger rmse", "champion rmse"]
    at.text_input(key=keys.FIT_OVERRIDE).input("compare live for a week").run()
    at.button(key=keys.FIT_PROMOTE_CONFIRM).click().run()
    assert_clean(at)
    assert any(f"Model {a} is now the champion (gate overridden)" in s.value for s in at.success)
    assert _roles_on_screen(at) == {b: "challenger", a: "champion", first: "retired"}
    assert _choices(at, keys.FIT_CHALLENGER) == [b]
    assert _choices(at, keys.FIT_ROLLBACK_TO) == [first]

    at.selectbox(key=keys.FIT_CHALLENGER).set_value(b).run()
    at.button(key=keys.FIT_PROMOTE).click().run()
    assert_clean(at)
    assert at.text_input(key=keys.FIT_OVERRIDE).value == ""  # A's reason is gone
    at.button(key=keys.FIT_PROMOTE_CONFIRM).click().run()
    assert_clean(at)
    assert any("promotion refused" in e.value for e in at.error)
    assert _roles_on_screen(at)[b] == "challenger"
    with sample_app.db.read() as s:
        notes = [(e.version_id, e.note or "") for e in registry.events(s, "MSFT")]
    assert all("compare live" not in note for version, note in notes if version == b)
    assert [v for v, note in notes if "compare live" in note] == [a]


def test_rollback_chooses_from_the_history_and_confirms(sample_app: AppContext) -> None:
    """Two steps back: from C (promoted over B, itself promoted over the gate) straight to
    A, after seeing A's verdict; pressing again does not toggle back."""
    first = _saved(sample_app, "drift")
    worse = _saved(sample_app, "arima", order=(0, 0, 1), log=False, with_constant=True)
    third = _saved(sample_app, "naive")
    lifecycle.promote(sample_app.db, sample_app.settings, worse, SYSTEM,
                      override_reason="compare", override_for=worse)
    lifecycle.promote(sample_app.db, sample_app.settings, third, SYSTEM)
    at = run_page("fitting.py")
    assert _choices(at, keys.FIT_ROLLBACK_TO) == [worse, first]
    at.selectbox(key=keys.FIT_ROLLBACK_TO).set_value(first).run()
    at.button(key=keys.FIT_ROLLBACK).click().run()
    assert_clean(at)
    assert any(m.value.startswith("Gate: challenger RMSE")
               for m in [*at.success, *at.warning])
    assert versions(sample_app.db, "MSFT")[0].role == "champion"  # nothing changed yet
    at.button(key=keys.FIT_ROLLBACK_CONFIRM).click().run()
    assert_clean(at)
    assert any(f"Model {first} is the champion again" in s.value for s in at.success)
    assert _roles_on_screen(at) == {third: "retired", worse: "retired", first: "champion"}
    assert _choices(at, keys.FIT_ROLLBACK_TO) == [third, worse]
    assert not [b for b in at.button if b.key == keys.FIT_ROLLBACK_CONFIRM]  # asks again

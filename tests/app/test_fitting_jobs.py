"""Fits as background jobs (issue 5): the fit handler keeps a draft, the page polls the job,
refuses a second fit of the same symbol, cancels, and only analysts write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from core import jobs
from core.auth import SYSTEM, VIEWER, hash_password
from core.context import AppContext
from core.db.models import Job, ModelEvent, ModelVersion
from core.errors import PermissionDenied, ValidationFailed
from core.forecast import drafts, lifecycle
from core.forecast.service import FitRequest, versions
from core.handlers import HANDLERS
from dashboard import keys
from tests.app.conftest import assert_clean, run_page

REQUEST = FitRequest(symbol="MSFT", kind="drift", options={"log": True},
                     start=dt.date(2015, 1, 2), end=dt.date(2017, 11, 10), folds=2, horizon=5)


def _fit_job(ctx: AppContext, request: FitRequest = REQUEST) -> Job:
    job = jobs.submit(ctx.db, kind="fit", symbol=request.symbol,
                      params=drafts.request_to_params(request), actor=SYSTEM)
    return jobs.run(ctx.db, job.id, HANDLERS)


def _all_versions(ctx: AppContext) -> list[ModelVersion]:
    with ctx.db.read() as session:
        return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id)))


def test_fit_job_keeps_a_draft_that_is_not_a_saved_model(sample_app: AppContext) -> None:
    job = _fit_job(sample_app)
    assert job.status == "succeeded", job.error
    draft_id = job.result["version_id"]
    assert [(v.id, v.role) for v in _all_versions(sample_app)] == [(draft_id, "draft")]
    assert versions(sample_app.db, "MSFT") == []  # not listed, not a champion candidate
    loaded = drafts.load(sample_app.db, draft_id)
    assert loaded.version.backtest["beats_naive"]["folds"] == 2
    assert len(loaded.forecaster.residuals()) > 100


def test_a_new_draft_replaces_the_older_one_row_and_artifact(sample_app: AppContext) -> None:
    first = drafts.get(sample_app.db, _fit_job(sample_app).result["version_id"])
    second = _fit_job(sample_app).result["version_id"]
    assert [(v.id, v.role) for v in _all_versions(sample_app)] == [(second, "draft")]
    assert not Path(first.artifact_path).exists()
    assert Path(drafts.get(sample_app.db, second).artifact_path).exists()


def test_keep_draft_makes_a_champion_then_challengers(sample_app: AppContext) -> None:
    first = drafts.keep_draft(sample_app.db, _fit_job(sample_app).result["version_id"], SYSTEM)
    assert first.role == "champion"
    second = drafts.keep_draft(sample_app.db, _fit_job(sample_app).result["version_id"], SYSTEM)
    assert second.role == "challenger"
    assert {v.id: v.role for v in versions(sample_app.db, "MSFT")} == {
        first.id: "champion", second.id: "challenger"}
    with sample_app.db.read() as session:
        events = [(e.action, e.version_id) for e in session.scalars(select(ModelEvent))]
    assert events == [("promote", first.id), ("create", second.id)]
    with pytest.raises(ValidationFailed, match="already saved"):
        drafts.keep_draft(sample_app.db, second.id, SYSTEM)


def test_viewers_are_refused_by_the_use_cases(sample_app: AppContext) -> None:
    draft_id = _fit_job(sample_app).result["version_id"]
    with pytest.raises(PermissionDenied):
        drafts.keep_draft(sample_app.db, draft_id, VIEWER)
    with pytest.raises(PermissionDenied):
        jobs.submit(sample_app.db, kind="fit", symbol="MSFT", params={}, actor=VIEWER)
    with pytest.raises(PermissionDenied):
        lifecycle.retrain(sample_app.db, sample_app.settings, "MSFT", VIEWER)
    assert drafts.get(sample_app.db, draft_id).role == "draft"


def test_a_cancelled_fit_writes_nothing(sample_app: AppContext) -> None:
    job = jobs.submit(sample_app.db, kind="fit", symbol="MSFT",
                      params=drafts.request_to_params(REQUEST), actor=SYSTEM)

    def cancelled_midway(db, job, progress):  # type: ignore[no-untyped-def]
        jobs.cancel(db, job.id, SYSTEM)  # as if an analyst pressed Cancel
        return HANDLERS["fit"](db, job, progress)

    done = jobs.run(sample_app.db, job.id, {"fit": cancelled_midway})
    assert done.status == "cancelled"
    assert _all_versions(sample_app) == []
    assert not list((sample_app.settings.model_dir).rglob("*.joblib"))


def test_a_failed_fit_records_the_reason(sample_app: AppContext) -> None:
    short = FitRequest(symbol="MSFT", kind="auto_arima", start=dt.date(2017, 11, 1),
                       end=dt.date(2017, 11, 10))
    job = _fit_job(sample_app, short)
    assert job.status == "failed"
    assert "needs at least" in job.error and "trading days" in job.error
    assert _all_versions(sample_app) == []


def test_page_polls_a_running_fit_refuses_a_second_and_cancels(
    sample_app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[int] = []
    monkeypatch.setattr(jobs, "launch", lambda job_id, **_: launched.append(job_id))
    at = run_page("fitting.py")
    at.selectbox(key=keys.FIT_KIND).set_value("drift").run()
    at.button(key=keys.FIT_GO).click().run()
    assert_clean(at)
    assert len(launched) == 1  # the worker would be running it now
    running = jobs.active(sample_app.db, kind="fit", symbol="MSFT")
    assert running is not None and running.id == launched[0]
    jobs.report_progress(sample_app.db, running.id, 0.5, "fold 1 of 2")
    at.run()
    bars = at.get("progress")
    assert bars and "fold 1 of 2" in bars[0].proto.text

    at.button(key=keys.FIT_GO).click().run()  # a second press while it runs
    assert any("already queued or running" in e.value for e in at.error)
    assert len(launched) == 1

    at.button(key=keys.FIT_CANCEL).click().run()
    assert_clean(at)
    assert jobs.get(sample_app.db, running.id).status == "cancelled"
    at.run()
    assert any("was cancelled" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == keys.FIT_SAVE]


def test_page_shows_a_finished_fit_and_saves_it(
    sample_app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft_id = _fit_job(sample_app).result["version_id"]  # finished while the page was away
    at = run_page("fitting.py")
    assert_clean(at)
    assert any(m.label == "Beats naive" and m.value.endswith("of 2 folds") for m in at.metric)
    assert any("Published bands: **gaussian+aci**" in c.value for c in at.caption)
    bands = [d.value for d in at.dataframe if "bands" in d.value.columns]
    assert bands and set(bands[0]["bands"]) == {"gaussian", "naive"}
    assert bands[0].set_index("bands").loc["gaussian", "chosen"]
    assert any("not saved yet" in c.value for c in at.caption)
    assert any("No saved models" in c.value for c in at.caption)
    at.button(key=keys.FIT_SAVE).click().run()
    assert_clean(at)
    assert any(f"Saved model {draft_id} as champion" in s.value for s in at.success)
    assert any(f"saved as model {draft_id} (champion)" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key == keys.FIT_SAVE]


def test_viewer_sees_results_but_no_write_buttons(
    sample_app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    drafts.keep_draft(sample_app.db, _fit_job(sample_app).result["version_id"], SYSTEM)
    _fit_job(sample_app)  # a draft the viewer may look at but not save
    monkeypatch.setenv("ANALYST_PASSWORD_HASH", hash_password("analyst-pass"))
    at = run_page("fitting.py")
    assert_clean(at)
    assert any(m.label == "Beats naive" for m in at.metric)
    present = {b.key for b in at.button}
    assert not present & {keys.FIT_GO, keys.FIT_SAVE, keys.FIT_PROMOTE, keys.FIT_ROLLBACK,
                          keys.FIT_CANCEL}
    assert any("needs an analyst sign-in" in c.value for c in at.caption)

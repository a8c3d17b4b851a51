"""What each background job kind does: the same use cases the pages and CLI call."""

from __future__ import annotations

from typing import Any

from core.auth import Actor
from core.db.engine import Database
from core.db.models import Job
from core.jobs import Handler, Progress
from core.settings import Settings


def _actor(job: Job) -> Actor:
    # Only analysts can submit jobs (checked in jobs.submit), so the submitter is one.
    return Actor(name=job.created_by, role="analyst")


def _retrain(db: Database, job: Job, progress: Progress) -> dict[str, Any]:
    from core.forecast.lifecycle import retrain

    assert job.symbol is not None
    params = job.params or {}
    return retrain(
        db, Settings.from_env(), job.symbol, _actor(job), progress=progress,
        auto_promote=bool(params.get("auto_promote", False)),
        force=bool(params.get("force", False)),
    )


def _fit(db: Database, job: Job, progress: Progress) -> dict[str, Any]:
    """Fit and backtest the requested model, then keep it as the symbol's draft; the
    analyst decides on the page whether to save it. Nothing is written before the fit
    finishes, so a cancelled or failed fit leaves the registry as it was."""
    from core.forecast import drafts
    from core.forecast.service import fit_model

    assert job.symbol is not None
    settings = Settings.from_env()
    request = drafts.request_from_params(job.symbol, job.params or {})

    def fit_progress(fraction: float, message: str) -> None:
        progress(0.95 * fraction, message)

    fitted = fit_model(db, settings, request, progress=fit_progress)
    progress(0.96, "Keeping the fitted model as a draft")
    draft = drafts.save_draft(db, settings, fitted, _actor(job))
    report = fitted.backtest
    return {
        "version_id": draft.id,
        "label": fitted.forecaster.label,
        "fit_seconds": round(fitted.fit_seconds, 3),
        "beats_naive": report.beats_naive_text if report is not None else None,
    }


def _ingest(db: Database, job: Job, progress: Progress) -> dict[str, Any]:
    from core.market.ingest import ingest_yahoo

    params = job.params or {}
    summary = ingest_yahoo(
        db, Settings.from_env(), params.get("symbols") or [job.symbol], actor=_actor(job),
        progress=progress,
    )
    return {
        "ok": summary.ok,
        "results": [
            {"symbol": r.symbol, "status": r.status, "message": r.message}
            for r in summary.results
        ],
    }


def _demo(db: Database, job: Job, progress: Progress) -> dict[str, Any]:
    from core.demo import load_demo

    return load_demo(db, Settings.from_env(), _actor(job), progress=progress)


HANDLERS: dict[str, Handler] = {
    "demo": _demo,
    "retrain": _retrain,
    "fit": _fit,
    "ingest": _ingest,
}

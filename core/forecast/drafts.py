"""Drafts: a model fitted by a background job, kept until the analyst decides.

A fit job saves its model as a version with role ``draft`` (artifact written atomically,
then the row, exactly like a saved model), so the page can show it after reruns, page
changes or a reload. "Save as challenger" turns the draft into a challenger (champion when
the symbol has none). Drafts are never champion candidates nor listed with the saved
models, and a new draft of a symbol replaces the older ones (row and artifact), so nothing
accumulates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.auth import Actor, require_analyst
from core.db.engine import Database
from core.db.models import ModelVersion
from core.errors import ValidationFailed
from core.forecast import registry
from core.forecast.artifacts import write_artifact
from core.forecast.base import Forecaster
from core.forecast.factory import forecaster_from_state
from core.forecast.service import FitRequest, FittedModel, describe_fit
from core.settings import Settings
from core.symbols import check_symbol

DRAFT = "draft"


def request_to_params(request: FitRequest) -> dict[str, Any]:
    """A FitRequest as JSON-able job params (dates as ISO strings)."""
    return {
        "kind": request.kind,
        "options": request.options,
        "start": request.start.isoformat() if request.start else None,
        "end": request.end.isoformat() if request.end else None,
        "adjust": request.adjust,
        "outlier_policy": request.outlier_policy,
        "folds": request.folds,
        "horizon": request.horizon,
        "step": request.step,
    }


def request_from_params(symbol: str, params: dict[str, Any]) -> FitRequest:
    """The FitRequest that ``request_to_params`` stored in a job.

    >>> r = FitRequest("MSFT", "drift", {"log": True}, dt.date(2016, 1, 4), None, folds=2)
    >>> request_from_params("MSFT", request_to_params(r)) == r
    True
    """
    if "kind" not in params:
        raise ValidationFailed("a fit job needs a 'kind' in its params")

    def day(value: Any) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    step = params.get("step")
    return FitRequest(
        symbol=symbol,
        kind=str(params["kind"]),
        options=dict(params.get("options") or {}),
        start=day(params.get("start")),
        end=day(params.get("end")),
        adjust=str(params.get("adjust", "split")),
        outlier_policy=str(params.get("outlier_policy", "use")),
        folds=int(params.get("folds", 5)),
        horizon=int(params.get("horizon", 5)),
        step=int(step) if step is not None else None,
    )


def save_draft(
    db: Database, settings: Settings, fitted: FittedModel, actor: Actor
) -> ModelVersion:
    """Store a fitted model as the symbol's draft, replacing older drafts (row + artifact)."""
    require_analyst(actor, "save a model")
    request = fitted.request
    symbol = check_symbol(request.symbol)
    state = fitted.forecaster.to_state()
    path = registry.artifact_path(settings.model_dir, symbol)
    sha256, size = write_artifact(path, state)
    new = describe_fit(fitted)
    try:
        with db.begin() as session:
            old = list(session.scalars(
                select(ModelVersion).where(ModelVersion.symbol == symbol,
                                           ModelVersion.role == DRAFT)
            ))
            old_paths = [Path(v.artifact_path) for v in old]
            for version in old:
                session.delete(version)
            draft = registry.make_row(
                new, path=path, sha256=sha256, size=size, role=DRAFT, created_by=actor.name
            )
            session.add(draft)
            session.flush()
    except BaseException:
        path.unlink(missing_ok=True)  # no orphan artifact without its row
        raise
    for old_path in old_paths:  # only once their rows are gone
        old_path.unlink(missing_ok=True)
    return draft


def keep_draft(db: Database, version_id: int, actor: Actor) -> ModelVersion:
    """"Save as challenger": the draft becomes a challenger, or the champion when the
    symbol has none (recorded in the model events, like any saved model)."""
    require_analyst(actor, "save a model")
    with db.read() as session:
        symbol = registry.get_version(session, version_id).symbol
    with db.locked(registry.lock_scope(symbol)) as session:
        version = registry.get_version(session, version_id)
        if version.role != DRAFT:
            raise ValidationFailed(
                f"model {version.id} is already saved (it is the {version.symbol} {version.role})"
            )
        registry.enter(session, version, created_by=actor.name)
        session.flush()
        return version


def get(db: Database, version_id: int) -> ModelVersion:
    """A version by id (draft or saved): raises ModelNotFound when it was replaced."""
    with db.read() as session:
        return registry.get_version(session, version_id)


@dataclass
class LoadedDraft:
    version: ModelVersion
    forecaster: Forecaster
    warnings: list[str]


def load(db: Database, version_id: int) -> LoadedDraft:
    """The version and its fitted forecaster, rebuilt from the verified artifact."""
    version = get(db, version_id)
    loaded = registry.load_state(version)
    return LoadedDraft(version, forecaster_from_state(loaded.state), loaded.warnings)

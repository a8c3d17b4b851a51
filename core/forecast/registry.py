"""Model registry: a database row per saved version, one champion per symbol.

A retrain creates a challenger; ``promote`` and ``rollback`` are one call each and keep
the history in ``model_events``. Repositories here take a Session and never commit:
the use case owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import ModelEvent, ModelVersion
from core.errors import ModelNotFound, ValidationFailed
from core.forecast.artifacts import library_versions, read_artifact, version_mismatches


@dataclass(frozen=True)
class NewVersion:
    """What a fit produced, ready to be registered."""

    symbol: str
    kind: str
    engine: str | None
    spec: dict[str, Any]
    exog_policy: str | None
    train_start: dt.date
    train_end: dt.date
    n_obs: int
    data_fingerprint: str
    fit_seconds: float
    aic: float | None
    bic: float | None
    backtest: dict[str, Any] | None


def lock_scope(symbol: str) -> str:
    """The ``Database.locked`` scope every change of ``symbol``'s champion holds."""
    return f"the champion of {symbol}"


def artifact_path(model_dir: Path, symbol: str) -> Path:
    return model_dir / symbol / f"{uuid.uuid4().hex}.joblib"


def make_row(
    new: NewVersion, *, path: Path, sha256: str, size: int, role: str, created_by: str
) -> ModelVersion:
    """The registry row for a fitted model whose artifact is at ``path``."""
    return ModelVersion(
        symbol=new.symbol,
        kind=new.kind,
        engine=new.engine,
        spec=new.spec,
        exog_policy=new.exog_policy,
        train_start=new.train_start,
        train_end=new.train_end,
        n_obs=new.n_obs,
        data_fingerprint=new.data_fingerprint,
        fit_seconds=new.fit_seconds,
        aic=new.aic,
        bic=new.bic,
        backtest=new.backtest,
        lib_versions=library_versions(),
        artifact_path=str(path),
        artifact_sha256=sha256,
        artifact_bytes=size,
        role=role,
        created_by=created_by,
    )


def add_version(
    session: Session,
    new: NewVersion,
    *,
    path: Path,
    sha256: str,
    size: int,
    created_by: str,
) -> ModelVersion:
    """Insert a version row; the first version of a symbol becomes its champion."""
    version = make_row(new, path=path, sha256=sha256, size=size, role="challenger",
                       created_by=created_by)
    session.add(version)
    session.flush()
    enter(session, version, created_by=created_by)
    return version


def enter(session: Session, version: ModelVersion, *, created_by: str) -> None:
    """Make a flushed row a registered model: the symbol's first becomes champion, any
    later one a challenger; the history records which."""
    first = champion(session, version.symbol) is None
    version.role = "champion" if first else "challenger"
    version.created_by = created_by
    session.add(
        ModelEvent(
            symbol=version.symbol,
            action="promote" if first else "create",
            version_id=version.id,
            previous_id=None,
            note="first model for this symbol" if first else "saved as challenger",
            created_by=created_by,
        )
    )


def champion(session: Session, symbol: str) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.symbol == symbol, ModelVersion.role == "champion")
    ).first()


def get_version(session: Session, version_id: int) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise ModelNotFound(f"no saved model with id {version_id}; list them with `core models`")
    return version


def list_versions(session: Session, symbol: str) -> list[ModelVersion]:
    """Saved versions, newest first. Drafts (a fit job's model the analyst has not saved
    yet, see ``core.forecast.drafts``) are not saved models and are left out."""
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.symbol == symbol, ModelVersion.role != "draft")
            .order_by(ModelVersion.id.desc())
        )
    )


def events(session: Session, symbol: str) -> list[ModelEvent]:
    return list(
        session.scalars(
            select(ModelEvent).where(ModelEvent.symbol == symbol).order_by(ModelEvent.id)
        )
    )


def set_champion(
    session: Session,
    version: ModelVersion,
    *,
    action: str,
    created_by: str,
    gate_passed: bool | None,
    note: str | None,
) -> ModelVersion | None:
    """Make ``version`` the champion; the old one is retired. Returns the previous champion."""
    previous = champion(session, version.symbol)
    if previous is not None and previous.id == version.id:
        raise ValidationFailed(f"model {version.id} is already the champion of {version.symbol}")
    if previous is not None:
        previous.role = "retired"
        session.flush()  # retire first: the one-champion index checks each UPDATE
    version.role = "champion"
    version.stale = False
    session.add(
        ModelEvent(
            symbol=version.symbol,
            action=action,
            version_id=version.id,
            previous_id=previous.id if previous is not None else None,
            gate_passed=gate_passed,
            note=note,
            created_by=created_by,
        )
    )
    session.flush()
    return previous


def previous_champion(session: Session, symbol: str) -> ModelVersion:
    """The champion before the current one, from the promotion history."""
    current = champion(session, symbol)
    if current is None:
        raise ModelNotFound(f"{symbol} has no champion model to roll back from")
    last = session.scalars(
        select(ModelEvent)
        .where(
            ModelEvent.symbol == symbol,
            ModelEvent.version_id == current.id,
            ModelEvent.action.in_(("promote", "rollback")),
        )
        .order_by(ModelEvent.id.desc())
    ).first()
    if last is None or last.previous_id is None:
        raise ModelNotFound(
            f"{symbol}'s champion (model {current.id}) has no earlier champion to roll back to"
        )
    return get_version(session, last.previous_id)


def champion_history(session: Session, symbol: str) -> list[ModelVersion]:
    """Versions that were champion before the current one (promoted, rolled back to, or
    the first model), most recently crowned first, each once; the current champion and
    deleted drafts are left out."""
    current = champion(session, symbol)
    crowned = session.scalars(
        select(ModelEvent.version_id)
        .where(ModelEvent.symbol == symbol, ModelEvent.action.in_(("promote", "rollback")))
        .order_by(ModelEvent.id.desc())
    )
    seen: list[int] = []
    for version_id in crowned:
        if version_id not in seen and (current is None or version_id != current.id):
            seen.append(version_id)
    rows = {v.id: v for v in session.scalars(
        select(ModelVersion).where(ModelVersion.id.in_(seen), ModelVersion.role != "draft"))}
    return [rows[i] for i in seen if i in rows]


@dataclass
class LoadedArtifact:
    state: dict[str, Any]
    warnings: list[str]


def load_state(version: ModelVersion) -> LoadedArtifact:
    """Read and verify a version's artifact; warn when library versions differ."""
    state = read_artifact(Path(version.artifact_path), version.artifact_sha256)
    warnings = [
        f"model {version.id} was saved with {name} {saved}, running {running}: "
        "its forecasts may differ slightly — retrain to refresh it"
        for name, (saved, running) in version_mismatches(version.lib_versions).items()
    ]
    return LoadedArtifact(state=state, warnings=warnings)

"""Use-case tests: save, forecast, the promotion gate, override, rollback, retrain."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.auth import SYSTEM, VIEWER
from core.db.engine import Database
from core.errors import PermissionDenied, ValidationFailed
from core.forecast import lifecycle, registry, service
from core.forecast.service import FitRequest
from core.market.ingest import ingest_sample
from core.monitor.ledger import ledger_frame
from core.settings import Settings


@pytest.fixture
def msft(db: Database) -> Database:
    ingest_sample(db, actor=SYSTEM)
    return db


def _save(db: Database, settings: Settings, kind: str, **options: object) -> int:
    request = FitRequest(symbol="MSFT", kind=kind, options=dict(options),
                         start=dt.date(2015, 1, 1), folds=3, horizon=5)
    fitted = service.fit_model(db, settings, request)
    return service.save_model(db, settings, fitted, SYSTEM).id


def test_forecast_is_logged_once_with_naive_beside_it(msft: Database, settings: Settings) -> None:
    _save(msft, settings, "drift")
    first = service.forecast(msft, settings, "MSFT", 5, issued_by="cli")
    service.forecast(msft, settings, "MSFT", 5, issued_by="cli")  # same forecast again
    with msft.read() as s:
        ledger = ledger_frame(s, "MSFT")
    assert len(ledger) == 5
    assert ledger["naive"].tolist() == pytest.approx([83.87] * 5)
    assert ledger["mean"].tolist() == pytest.approx(first.result.mean.tolist())
    assert set(ledger["issued_by"]) == {"cli"}


def test_gate_refuses_a_worse_challenger_unless_overridden(
    msft: Database, settings: Settings
) -> None:
    champion = _save(msft, settings, "drift")
    worse = _save(msft, settings, "arima", order=(0, 0, 1), log=False, with_constant=True)
    with pytest.raises(ValidationFailed, match="promotion refused: challenger RMSE"):
        lifecycle.promote(msft, settings, worse, SYSTEM)
    with msft.read() as s:
        assert registry.champion(s, "MSFT").id == champion  # type: ignore[union-attr]
    outcome = lifecycle.promote(msft, settings, worse, SYSTEM,
                                override_reason="stakeholder asked to compare live")
    assert outcome.overridden and outcome.gate is not None and not outcome.gate.passed
    with msft.read() as s:
        last = registry.events(s, "MSFT")[-1]
    assert (last.action, last.gate_passed) == ("promote", False)
    assert "overridden by system: stakeholder asked to compare live" in (last.note or "")
    assert lifecycle.rollback(msft, "MSFT", SYSTEM).id == champion


def test_retrain_makes_a_challenger_compared_on_the_same_folds(
    msft: Database, settings: Settings
) -> None:
    champion = _save(msft, settings, "drift")
    outcome = lifecycle.retrain(msft, settings, "MSFT", SYSTEM)
    assert outcome["champion_id"] == champion and outcome["promoted"] is False
    gate = outcome["gate"]
    assert gate["folds"] == 3 and len(gate["origins"]) == 3
    with msft.read() as s:
        challenger = registry.get_version(s, outcome["challenger_id"])
    assert challenger.role == "challenger" and challenger.backtest["gate"] == gate


def test_viewers_cannot_write(msft: Database, settings: Settings) -> None:
    request = FitRequest(symbol="MSFT", kind="naive", options={}, start=dt.date(2017, 1, 1),
                         folds=0)
    fitted = service.fit_model(msft, settings, request)
    with pytest.raises(PermissionDenied):
        service.save_model(msft, settings, fitted, VIEWER)
    with pytest.raises(PermissionDenied):
        lifecycle.retrain(msft, settings, "MSFT", VIEWER)
    with pytest.raises(PermissionDenied):
        lifecycle.rollback(msft, "MSFT", VIEWER)
    assert service.versions(msft, "MSFT") == []


def test_failed_registry_write_leaves_no_artifact(
    msft: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = FitRequest(symbol="MSFT", kind="naive", options={}, start=dt.date(2017, 1, 1),
                         folds=0)
    fitted = service.fit_model(msft, settings, request)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away mid-write")

    monkeypatch.setattr(registry, "add_version", broken)
    with pytest.raises(RuntimeError):
        service.save_model(msft, settings, fitted, SYSTEM)
    leftovers = list(Path(settings.model_dir).rglob("*.joblib"))
    assert leftovers == []


def test_a_draft_cannot_be_promoted(msft: Database, settings: Settings) -> None:
    from core.forecast import drafts

    _save(msft, settings, "drift")
    request = FitRequest(symbol="MSFT", kind="naive", options={}, start=dt.date(2017, 1, 1),
                         folds=0)
    draft = drafts.save_draft(msft, settings, service.fit_model(msft, settings, request), SYSTEM)
    with pytest.raises(ValidationFailed, match="unsaved draft"):
        lifecycle.promote(msft, settings, draft.id, SYSTEM, override_reason="try anyway")

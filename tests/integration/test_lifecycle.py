"""Use-case tests: save, forecast, the promotion gate, override, rollback, retrain."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth import SYSTEM, VIEWER
from core.db.engine import Database
from core.db.models import ModelVersion
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.forecast import lifecycle, registry, service
from core.forecast.service import FitRequest
from core.market.ingest import ingest_sample
from core.monitor.ledger import ledger_frame
from core.settings import Settings


@pytest.fixture
def msft(db: Database) -> Database:
    ingest_sample(db, actor=SYSTEM)
    return db


def _save(db: Database, settings: Settings, kind: str, end: dt.date | None = None,
          **options: object) -> int:
    request = FitRequest(symbol="MSFT", kind=kind, options=dict(options),
                         start=dt.date(2015, 1, 1), end=end, folds=3, horizon=5)
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
                                override_reason="stakeholder asked to compare live",
                                override_for=worse)
    assert outcome.overridden and outcome.gate is not None and not outcome.gate.passed
    with msft.read() as s:
        last = registry.events(s, "MSFT")[-1]
    assert (last.action, last.gate_passed) == ("promote", False)
    assert "overridden by system: stakeholder asked to compare live" in (last.note or "")
    assert lifecycle.rollback(msft, "MSFT", SYSTEM).id == champion


def test_retrain_makes_a_challenger_compared_on_the_same_folds(
    msft: Database, settings: Settings
) -> None:
    champion = _save(msft, settings, "drift", end=dt.date(2017, 10, 31))  # older than the data
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
        lifecycle.promote(msft, settings, draft.id, SYSTEM, override_reason="try anyway",
                          override_for=draft.id)


def test_the_database_refuses_a_second_champion(msft: Database, settings: Settings) -> None:
    first = _save(msft, settings, "drift")
    second = _save(msft, settings, "naive")
    with pytest.raises(IntegrityError), msft.sessions.begin() as s:
        row = s.get(ModelVersion, second)
        assert row is not None and s.get(ModelVersion, first).role == "champion"  # type: ignore[union-attr]
        row.role = "champion"
        s.flush()
    with msft.read() as s:
        roles = {v.id: v.role for v in registry.list_versions(s, "MSFT")}
    assert roles == {first: "champion", second: "challenger"}


def test_two_concurrent_promotions_leave_one_champion_and_one_conflict(
    msft: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two analysts promote different challengers at the same moment (two connections,
    both inside their write transaction at once): one wins, the other gets Conflict."""
    weak = _save(msft, settings, "arima", order=(0, 0, 1), log=False, with_constant=True)
    a = _save(msft, settings, "drift")
    b = _save(msft, settings, "naive")
    with msft.read() as s:
        assert registry.champion(s, "MSFT").id == weak  # type: ignore[union-attr]
    both_inside = threading.Barrier(2, timeout=3)
    real = registry.set_champion

    def overlapping(session: Session, version: ModelVersion, **kw: Any) -> Any:
        # Without a per-symbol lock both writers get here together; serialised, the
        # barrier times out because the other writer waits for this transaction.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_inside.wait()
        return real(session, version, **kw)

    monkeypatch.setattr(registry, "set_champion", overlapping)
    outcomes: dict[int, str] = {}

    def promote(version_id: int) -> None:
        try:
            lifecycle.promote(msft, settings, version_id, SYSTEM)
        except Conflict as exc:
            outcomes[version_id] = f"conflict: {exc}"
        except Exception as exc:
            outcomes[version_id] = f"{type(exc).__name__}: {exc}"
        else:
            outcomes[version_id] = "promoted"

    threads = [threading.Thread(target=promote, args=(v,)) for v in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with msft.read() as s:
        champions = [v.id for v in registry.list_versions(s, "MSFT") if v.role == "champion"]
    assert sorted(o.split(":")[0] for o in outcomes.values()) == ["conflict", "promoted"], outcomes
    winner = next(v for v, o in outcomes.items() if o == "promoted")
    assert champions == [winner]
    loser = next(o for o in outcomes.values() if o.startswith("conflict"))
    assert "changed while this promote was being decided" in loser


def test_an_override_is_for_one_version_only(msft: Database, settings: Settings) -> None:
    champion = _save(msft, settings, "drift")
    worse = _save(msft, settings, "arima", order=(0, 0, 1), log=False, with_constant=True)
    other = _save(msft, settings, "arima", order=(1, 0, 0), log=False, with_constant=True)
    with pytest.raises(ValidationFailed, match=f"given for model {worse}, not model {other}"):
        lifecycle.promote(msft, settings, other, SYSTEM, override_reason="compare live",
                          override_for=worse)
    with pytest.raises(ValidationFailed, match="given for no model"):
        lifecycle.promote(msft, settings, other, SYSTEM, override_reason="compare live")
    with msft.read() as s:
        assert registry.champion(s, "MSFT").id == champion  # type: ignore[union-attr]
        assert [e.action for e in registry.events(s, "MSFT")] == ["promote", "create", "create"]


def test_rollback_walks_the_champion_history_and_is_not_a_toggle(
    msft: Database, settings: Settings
) -> None:
    first = _save(msft, settings, "drift")
    worse = _save(msft, settings, "arima", order=(0, 0, 1), log=False, with_constant=True)
    third = _save(msft, settings, "naive")
    lifecycle.promote(msft, settings, worse, SYSTEM, override_reason="compare live",
                      override_for=worse)
    lifecycle.promote(msft, settings, third, SYSTEM)
    assert [v.id for v in lifecycle.rollback_candidates(msft, "MSFT")] == [worse, first]
    # Two steps back, straight to the first champion (not through the gate-failed one).
    assert lifecycle.rollback(msft, "MSFT", SYSTEM, to_version_id=first,
                              expected_champion_id=third).id == first
    # Pressing rollback again with the same view is refused, not a silent toggle back.
    with pytest.raises(Conflict, match=f"now model {first}, not model {third}"):
        lifecycle.rollback(msft, "MSFT", SYSTEM, to_version_id=worse, expected_champion_id=third)
    with pytest.raises(ValidationFailed, match="never champion"):
        challenger = _save(msft, settings, "drift")
        lifecycle.rollback(msft, "MSFT", SYSTEM, to_version_id=challenger)
    with msft.read() as s:
        assert registry.champion(s, "MSFT").id == first  # type: ignore[union-attr]
        last = registry.events(s, "MSFT")[-2]
    assert (last.action, last.version_id, last.previous_id) == ("rollback", first, third)


def test_gate_shows_each_folds_errors_and_backtests_the_champion_as_fitted(
    msft: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-running an auto-ARIMA champion's recipe on the challenger's window is the
    challenger's own backtest again (same search, same data): the champion is compared
    with the order it chose."""
    champion = _save(msft, settings, "auto_arima", engine="statsforecast", log=True)
    request = FitRequest(symbol="MSFT", kind="auto_arima",
                         options={"engine": "statsforecast", "log": True},
                         start=dt.date(2015, 6, 1), folds=2, horizon=5)
    challenger = service.save_model(msft, settings, service.fit_model(msft, settings, request),
                                    SYSTEM).id
    seen: list[FitRequest] = []
    real = lifecycle._backtest_on

    def spy(db: Database, settings: Settings, req: FitRequest, progress: Any) -> Any:
        seen.append(req)
        return real(db, settings, req, progress)

    monkeypatch.setattr(lifecycle, "_backtest_on", spy)
    result = lifecycle.gate_for(msft, settings, challenger)
    assert result is not None
    with msft.read() as s:
        order = registry.get_version(s, champion).spec["order"]
    assert [(r.kind, r.options.get("order")) for r in seen] == [("arima", list(order))]
    assert len(result.challenger_folds) == len(result.champion_folds) == result.folds == 2
    assert result.challenger == pytest.approx(sum(result.challenger_folds) / 2)
    assert result.champion == pytest.approx(sum(result.champion_folds) / 2)
    table = result.fold_table()
    assert [row["origin"] for row in table] == result.origins
    assert (result.challenger_id, result.champion_id) == (challenger, champion)


def test_retrain_on_unchanged_data_saves_nothing_unless_forced(
    msft: Database, settings: Settings
) -> None:
    champion = _save(msft, settings, "drift")
    outcome = lifecycle.retrain(msft, settings, "MSFT", SYSTEM)
    assert outcome["unchanged"] is True and outcome["challenger_id"] is None
    assert outcome["message"].startswith(
        "no new data since the champion's training end (2017-11-10)")
    assert [v.id for v in service.versions(msft, "MSFT")] == [champion]
    forced = lifecycle.retrain(msft, settings, "MSFT", SYSTEM, force=True)
    assert forced["challenger_id"] is not None and forced["gate"]["identical"] is True
    assert len(service.versions(msft, "MSFT")) == 2

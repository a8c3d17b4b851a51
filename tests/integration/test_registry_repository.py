from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.db.engine import Database
from core.errors import ModelNotFound, ValidationFailed
from core.forecast import registry
from core.forecast.registry import NewVersion


def _new(symbol: str = "MSFT", kind: str = "naive") -> NewVersion:
    return NewVersion(
        symbol=symbol, kind=kind, engine=None, spec={"kind": kind}, exog_policy=None,
        train_start=dt.date(2015, 1, 2), train_end=dt.date(2017, 11, 10), n_obs=700,
        data_fingerprint="f" * 64, fit_seconds=0.01, aic=None, bic=None, backtest=None,
    )


def _add(db: Database, new: NewVersion) -> int:
    with db.begin() as s:
        path = registry.artifact_path(Path("/nonexistent"), new.symbol)
        v = registry.add_version(s, new, path=path, sha256="0" * 64, size=1, created_by="ana")
        return v.id


def test_first_version_is_champion_then_challengers(db: Database) -> None:
    first = _add(db, _new())
    second = _add(db, _new(kind="drift"))
    with db.read() as s:
        assert registry.champion(s, "MSFT").id == first  # type: ignore[union-attr]
        assert registry.get_version(s, second).role == "challenger"
        assert [v.id for v in registry.list_versions(s, "MSFT")] == [second, first]


def test_promote_and_rollback_keep_history(db: Database) -> None:
    first = _add(db, _new())
    second = _add(db, _new(kind="drift"))
    with db.begin() as s:
        previous = registry.set_champion(
            s, registry.get_version(s, second), action="promote", created_by="ana",
            gate_passed=True, note=None,
        )
        assert previous is not None and previous.id == first
    with db.begin() as s:
        back_to = registry.previous_champion(s, "MSFT")
        assert back_to.id == first
        registry.set_champion(s, back_to, action="rollback", created_by="bo",
                              gate_passed=None, note="worse in production")
    with db.read() as s:
        assert registry.champion(s, "MSFT").id == first  # type: ignore[union-attr]
        assert registry.get_version(s, second).role == "retired"
        actions = [(e.action, e.version_id, e.previous_id, e.created_by)
                   for e in registry.events(s, "MSFT")]
    assert actions == [
        ("promote", first, None, "ana"),
        ("create", second, None, "ana"),
        ("promote", second, first, "ana"),
        ("rollback", first, second, "bo"),
    ]


def test_rollback_without_history_is_a_clear_error(db: Database) -> None:
    _add(db, _new())
    with db.read() as s, pytest.raises(ModelNotFound, match="no earlier champion"):
        registry.previous_champion(s, "MSFT")
    with db.read() as s, pytest.raises(ModelNotFound, match="has no champion"):
        registry.previous_champion(s, "AAPL")


def test_promoting_the_champion_again_is_refused(db: Database) -> None:
    first = _add(db, _new())
    with db.begin() as s, pytest.raises(ValidationFailed, match="already the champion"):
        registry.set_champion(s, registry.get_version(s, first), action="promote",
                              created_by="ana", gate_passed=True, note=None)

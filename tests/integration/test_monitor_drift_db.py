"""Drift events in the database: idempotent per (symbol, detector, date); policy decides."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from core.db.engine import Database
from core.db.models import DriftEvent, ModelVersion
from core.errors import ValidationFailed
from core.monitor.drift import DriftPoint, check_drift, record_drift
from core.monitor.ledger import reconcile
from tests.integration.test_monitor_support import add_bars, add_model_version, log_simple

P1 = DriftPoint(264, dt.date(2024, 6, 3), 1.89)
P2 = DriftPoint(300, dt.date(2024, 7, 22), 2.10)


def events(db: Database) -> list[tuple[str, dt.date, str]]:
    with db.read() as s:
        rows = s.execute(select(DriftEvent.detector, DriftEvent.date, DriftEvent.action)).all()
        return sorted((d, day, a) for d, day, a in rows)


def stale(db: Database, mv: int) -> bool:
    with db.read() as s:
        version = s.get(ModelVersion, mv)
        assert version is not None
        return version.stale


@pytest.mark.parametrize(
    ("policy", "retrain", "action"),
    [pytest.param("manual", "ask", "marked_stale", id="manual"),
     pytest.param("auto", "queue", "retrain_queued", id="auto")],
)  # fmt: skip
def test_record_marks_stale_and_follows_policy(
    db: Database, policy: str, retrain: str, action: str
) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
    with db.begin() as s:
        decision = record_drift(s, "MSFT", mv, [P1], policy, detector="adwin")
    assert (decision.recorded, decision.marked_stale, decision.retrain) == (1, True, retrain)
    assert stale(db, mv)
    assert events(db) == [("adwin", P1.date, action)]


def test_recording_twice_is_idempotent(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        record_drift(s, "MSFT", mv, [P1], "auto", detector="adwin")
    with db.begin() as s:
        again = record_drift(s, "MSFT", mv, [P1, P1], "auto", detector="adwin")
        other = record_drift(s, "MSFT", mv, [P1], "auto", detector="kswin")
        newer = record_drift(s, "MSFT", mv, [P1, P2], "auto", detector="adwin")
    assert (again.recorded, again.retrain) == (0, "none")  # no second retrain queued
    assert (other.recorded, newer.recorded) == (1, 1)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(DriftEvent)) == 3


def test_bad_policy_and_undated_points(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        with pytest.raises(ValidationFailed, match="'manual' or 'auto', got 'sometimes'"):
            record_drift(s, "MSFT", mv, [P1], "sometimes")
        with pytest.raises(ValidationFailed, match="need dates"):
            record_drift(s, "MSFT", mv, [DriftPoint(3, None, 0.1)], "manual")


def test_check_drift_from_the_ledger(db: Database) -> None:
    """Errors logged through the ledger reach the detector in date order."""
    rng = np.random.default_rng(0)
    errors = np.concatenate([rng.normal(0.0, 1.0, 250), rng.normal(2.0, 1.0, 150)])
    days = [d.date() for d in pd.bdate_range("2022-01-03", periods=len(errors) + 1)]
    closes = {d: 100.0 for d in days}
    with db.begin() as s:
        mv = add_model_version(s)
        add_bars(s, "MSFT", closes)
        for prev, day, err in zip(days, days[1:], errors, strict=False):
            log_simple(s, mv, prev, [day], [100.0 - float(err)], 100.0, width80=10, width95=20)
        reconcile(s, "MSFT")
    with db.begin() as s:
        decision = check_drift(s, "MSFT", mv, "manual", detector="adwin")
    with db.begin() as s:
        again = check_drift(s, "MSFT", mv, "manual", detector="adwin")
    assert (decision.recorded, decision.retrain, again.recorded) == (1, "ask", 0)
    assert events(db) == [("adwin", days[1 + 264], "marked_stale")]  # index 264 as in unit test
    assert stale(db, mv)

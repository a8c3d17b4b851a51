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


def kinds(db: Database) -> list[tuple[str, str, dt.date]]:
    with db.read() as s:
        rows = s.execute(select(DriftEvent.kind, DriftEvent.detector, DriftEvent.date)).all()
        return sorted((k, d, day) for k, d, day in rows)


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
    """Ledger rows -> z from their stored 95% bands -> one event per kind, in date order.

    The seeded stream of the unit test (z ~ N(0,1), then sigma x2.5 from index 400) is
    logged as price-space forecasts whose 95% band is mean -+ 1.959964 (sigma 1), so the
    ledger's z is the stream itself and the events land on the unit test's indices."""
    rng = np.random.default_rng(5)
    base = rng.normal(0.0, 1.0, 400)
    z = np.concatenate([base, np.random.default_rng(6).normal(0.0, 2.5, 200)])
    days = [d.date() for d in pd.bdate_range("2021-01-04", periods=len(z) + 1)]
    closes = {d: 100.0 for d in days}
    with db.begin() as s:
        mv = add_model_version(s)
        add_bars(s, "MSFT", closes)
        for prev, day, err in zip(days, days[1:], z, strict=False):
            log_simple(s, mv, prev, [day], [100.0 - float(err)], 100.0,
                       width80=1.281552, width95=1.959964)
        reconcile(s, "MSFT")
    with db.begin() as s:
        decision = check_drift(s, "MSFT", mv, "manual")
    with db.begin() as s:
        again = check_drift(s, "MSFT", mv, "manual")
    assert (decision.recorded, decision.retrain, again.recorded) == (4, "ask", 0)
    assert kinds(db) == sorted([
        ("volatility", "pagehinkley", days[1 + 402]), ("volatility", "pagehinkley", days[1 + 505]),
        ("volatility", "pagehinkley", days[1 + 588]), ("bias", "adwin", days[1 + 595]),
    ])  # fmt: skip
    assert stale(db, mv)


def test_two_kinds_on_the_same_day_are_two_events(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        a = record_drift(s, "MSFT", mv, [P1], "auto", detector="adwin", kind="volatility")
        b = record_drift(s, "MSFT", mv, [P1], "auto", detector="adwin", kind="bias")
    assert (a.recorded, b.recorded) == (1, 1)
    assert kinds(db) == [("bias", "adwin", P1.date), ("volatility", "adwin", P1.date)]

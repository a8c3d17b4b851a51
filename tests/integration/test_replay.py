"""Replay over the bundled MSFT sample: ledger size, idempotence, resume, bad input.

A slice of the sample (the last 320 trading days up to 2017-11-10) keeps it fast; the
fixed-order ARIMA keeps each weekly retrain to milliseconds, and one test runs the default
auto-ARIMA path end to end.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from core.db.engine import Database
from core.db.migrate import upgrade
from core.db.models import Alert, AlertDelivery, DriftEvent, ModelEvent, ModelVersion, Prediction
from core.errors import FitFailed, ValidationFailed
from core.market.sample import load_sample_bars
from core.market.series import load_series
from core.market.store import upsert_bars
from core.monitor.daily import DriftSettings
from core.monitor.ledger import ledger_frame
from core.monitor.replay import _Replayer, is_retrain_day, replay
from core.settings import Settings

ROWS, DAYS, H = 320, 40, 3
# The mechanics tests write into the database they are given (the demo's mode); the
# sandbox tests below drop ``into_production``.
FAST = {"kind": "arima", "options": {"order": [0, 1, 1]}, "train_days": 150, "horizon": H,
        "into_production": True}


def load_slice(db: Database) -> pd.DatetimeIndex:
    upsert_bars(db, "MSFT", load_sample_bars().tail(ROWS), "sample")
    return pd.DatetimeIndex(load_series(db, "MSFT").close.index)


@pytest.fixture
def msft(db: Database) -> tuple[Database, pd.DatetimeIndex]:
    return db, load_slice(db)


def fresh_db(tmp_path: Path, name: str) -> Database:
    db = Database.connect(f"sqlite:///{tmp_path / name}.db")
    upgrade(db)
    return db


def settings_for(tmp_path: Path, name: str) -> Settings:
    return Settings.from_env({
        "DATA_DIR": str(tmp_path / name), "MODEL_DIR": str(tmp_path / name / "models"),
    })  # fmt: skip


def snapshot(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row the replay writes, in id order (timestamps included: they are simulated)."""
    with db.read() as s:
        ledger = ledger_frame(s, "MSFT").sort_values("id")
        ledger = ledger.astype(object).where(ledger.notna(), None)  # NaN != NaN
        versions = s.execute(
            select(ModelVersion.id, ModelVersion.role, ModelVersion.train_start,
                   ModelVersion.train_end, ModelVersion.spec, ModelVersion.created_at)
            .order_by(ModelVersion.id)
        ).all()  # fmt: skip
        events = s.execute(
            select(ModelEvent.action, ModelEvent.version_id, ModelEvent.previous_id,
                   ModelEvent.note, ModelEvent.created_at).order_by(ModelEvent.id)
        ).all()  # fmt: skip
        alerts = s.execute(
            select(Alert.rule, Alert.status, Alert.as_of, Alert.opened_at, Alert.resolved_at,
                   Alert.value).order_by(Alert.id)
        ).all()  # fmt: skip
        drift = s.execute(
            select(DriftEvent.detector, DriftEvent.date, DriftEvent.statistic,
                   DriftEvent.model_version_id).order_by(DriftEvent.id)
        ).all()  # fmt: skip
    return {
        "ledger": [tuple(r) for r in ledger.itertuples(index=False)],
        "versions": [tuple(r) for r in versions],
        "events": [tuple(r) for r in events],
        "alerts": [tuple(r) for r in alerts],
        "drift": [tuple(r) for r in drift],
    }


@pytest.mark.slow
def test_replay_fills_the_ledger_and_a_rerun_changes_nothing(
    msft: tuple[Database, pd.DatetimeIndex], settings: Settings
) -> None:
    db, idx = msft
    days = idx[-DAYS:]
    summary = replay(db, settings, "MSFT", days[0].date(), days[-1].date(), **FAST)

    # One forecast of H steps per day; the (model, data date, target) key collapses
    # nothing because each day is logged once, by the model serving that day.
    assert summary.days_done == DAYS and summary.forecasts_logged == DAYS * H
    # Targets up to the last stored day get actuals: the last H days' forecasts reach past it.
    assert summary.reconciled == (DAYS - H) * H + sum(range(1, H))
    weekly = sum(is_retrain_day(d, p, 0) for p, d in zip(idx[-DAYS - 1 :], days, strict=False))
    assert [r.reason for r in summary.retrains] == ["initial"] + ["weekly"] * weekly

    with db.read() as s:
        frame = ledger_frame(s, "MSFT", issued_by="replay")
        champion = s.scalars(select(ModelVersion).where(ModelVersion.role == "champion")).one()
        notes = list(s.scalars(select(ModelEvent.note).order_by(ModelEvent.id)))
        opened = list(s.scalars(select(Alert)))
        delivered = list(s.scalars(select(AlertDelivery)))
    assert len(frame) == DAYS * H and frame["data_date"].nunique() == DAYS
    assert frame["actual"].notna().sum() == summary.reconciled
    assert (frame["issued_at"].dt.hour == 22).all()  # the replayed evening, not today
    assert champion.id == summary.champion_id == summary.retrains[-1].version_id
    assert notes.count("replay weekly retrain") == weekly
    # Alerts are stamped with the replayed day and go to the log only.
    assert all(a.opened_at.date() == a.as_of for a in opened)
    assert {d.channel for d in delivered} <= {"log"}

    before = snapshot(db)
    again = replay(db, settings, "MSFT", days[0].date(), days[-1].date(), **FAST)
    assert again.days_done == 0 and again.days_skipped == DAYS and again.complete
    assert "already complete" in again.describe()
    assert snapshot(db) == before


@pytest.mark.slow
def test_stop_then_resume_ends_identical_to_an_uninterrupted_run(tmp_path: Path) -> None:
    calls = {"n": 0}

    def stop_after_15() -> bool:
        calls["n"] += 1
        return calls["n"] > 15

    whole, split = fresh_db(tmp_path, "whole"), fresh_db(tmp_path, "split")
    idx = load_slice(whole)
    load_slice(split)
    start, end = idx[-DAYS].date(), idx[-1].date()

    replay(whole, settings_for(tmp_path, "whole"), "MSFT", start, end, **FAST)
    s_split = settings_for(tmp_path, "split")
    first = replay(split, s_split, "MSFT", start, end, should_stop=stop_after_15, **FAST)
    assert first.stopped and first.days_done == 15 and first.next_day == idx[-DAYS + 15].date()
    assert "run the same replay again to resume" in first.describe()
    with split.read() as s:
        assert s.scalar(select(func.count(Prediction.id))) == 15 * H  # whole days only
    rest = replay(split, s_split, "MSFT", start, end, **FAST)
    assert rest.days_skipped == 15 and rest.days_done == DAYS - 15 and rest.complete
    assert not [r for r in rest.retrains if r.reason == "initial"]  # resumed its champion

    assert snapshot(split) == snapshot(whole)


@pytest.mark.slow
def test_default_auto_arima_replay_is_deterministic(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        db = fresh_db(tmp_path, name)
        idx = load_slice(db)
        summary = replay(db, settings_for(tmp_path, name), "MSFT", idx[-15].date(),
                         idx[-1].date(), horizon=2, train_days=250,
                         into_production=True)  # fmt: skip
        assert summary.days_done == 15 and summary.forecasts_logged == 30
        runs.append(snapshot(db))
    assert runs[0] == runs[1]
    assert all("auto_arima" in v[4]["label"] for v in runs[0]["versions"])


@pytest.mark.slow
def test_drift_detection_triggers_a_retrain(
    msft: tuple[Database, pd.DatetimeIndex], settings: Settings
) -> None:
    db, idx = msft
    # A hair-trigger KSWIN (small windows, alpha 0.5) so that this short stream alarms.
    touchy = DriftSettings(
        detector="kswin", params={"alpha": 0.5, "window_size": 20, "stat_size": 8}
    )
    summary = replay(db, settings, "MSFT", idx[-30].date(), idx[-1].date(), drift=touchy,
                     retrain_weekday=6, **FAST)  # fmt: skip
    drift_days = [r.day for r in summary.retrains if r.reason == "drift"]
    assert summary.drift_events >= 1 and drift_days
    with db.read() as s:
        events = list(s.scalars(select(DriftEvent).order_by(DriftEvent.date)))
        notes = list(s.scalars(select(ModelEvent.note)))
    assert {e.action for e in events} == {"retrain_queued"}
    assert sorted(e.date for e in events) == drift_days
    assert notes.count("replay drift retrain") == len(drift_days)


@pytest.mark.parametrize(
    ("symbol", "start", "end", "extra", "message"),
    [
        pytest.param("AAPL", "2017-09-01", "2017-10-02", {}, "no stored data for AAPL; stored "
                     "symbols: MSFT", id="unknown-symbol"),
        pytest.param("MSFT", "2017-10-02", "2017-09-01", {}, "end 2017-09-01 is before its "
                     "start 2017-10-02", id="end-before-start"),
        pytest.param("MSFT", "2016-08-10", "2017-10-02", {}, "must lie between 2016-",
                     id="before-training-history"),
        pytest.param("MSFT", "2017-10-02", "2017-12-29", {}, "and 2017-11-10", id="after-data"),
        pytest.param("MSFT", "2017-10-07", "2017-10-08", {}, "no trading days", id="weekend"),
        pytest.param("MSFT", "2017-10-02", "2017-10-06", {"horizon": 0}, "horizon",
                     id="horizon"),
        pytest.param("MSFT", "2017-10-02", "2017-10-06", {"retrain_weekday": 7},
                     "0 (Monday) to 6 (Sunday)", id="weekday"),
        pytest.param("MSFT", "2017-10-02", "2017-10-06", {"kind": "arimax"},
                     "without exogenous regressors", id="arimax"),
        pytest.param("MSFT", "2017-10-02", "2017-10-06", {"kind": "prophet"},
                     "unknown model 'prophet'", id="kind"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_clearly(
    msft: tuple[Database, pd.DatetimeIndex], settings: Settings, symbol: str, start: str,
    end: str, extra: dict[str, object], message: str,
) -> None:
    db, _ = msft
    kwargs = {**FAST, **extra}
    with pytest.raises(ValidationFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        replay(db, settings, symbol, dt.date.fromisoformat(start), dt.date.fromisoformat(end),
               **kwargs)  # type: ignore[arg-type]  # fmt: skip
    with db.read() as s:
        assert s.scalar(select(func.count(Prediction.id))) == 0
        assert s.scalar(select(func.count(ModelVersion.id))) == 0


def test_a_failed_retrain_keeps_the_champion_serving(
    sqlite_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = load_slice(sqlite_db)
    real_fit, calls = _Replayer.fit, {"n": 0}

    def fails_after_the_first(self: _Replayer, y: pd.Series):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 1:
            raise FitFailed("ARIMA(0,1,1) could not be fitted: boom")
        return real_fit(self, y)

    monkeypatch.setattr(_Replayer, "fit", fails_after_the_first)
    summary = replay(sqlite_db, settings, "MSFT", idx[-10].date(), idx[-1].date(), **FAST)
    assert summary.days_done == 10 and summary.forecasts_logged == 10 * H
    assert [r.reason for r in summary.retrains] == ["initial"]
    assert len(summary.failed_retrains) == calls["n"] - 1 >= 1
    assert "boom" in summary.describe()
    with sqlite_db.read() as s:
        assert s.scalar(select(func.count(ModelVersion.id))) == 1


def dump_all(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, as stored (the byte-identical check)."""
    from core.db.models import Base

    with db.read() as s:
        return {
            t.name: [tuple(r) for r in s.execute(select(t).order_by(*t.primary_key.columns))]
            for t in Base.metadata.sorted_tables
        }


def test_a_replay_leaves_production_untouched(
    msft: tuple[Database, pd.DatetimeIndex], settings: Settings
) -> None:
    """The issue's case: production has a champion, a ledger and alerts; a replay of an
    earlier range (models trained to an earlier date) must not retire that champion."""
    db, idx = msft
    replay(db, settings, "MSFT", idx[-12].date(), idx[-1].date(), **FAST)
    before = dump_all(db)
    assert before["predictions"] and before["model_versions"]
    artifacts = sorted(p.name for p in settings.model_dir.rglob("*") if p.is_file())

    sandboxed = {**FAST, "into_production": False}
    summary = replay(db, settings, "MSFT", idx[-40].date(), idx[-20].date(), **sandboxed)

    assert summary.days_done == 21 and not summary.into_production
    assert summary.database.endswith("replays/MSFT.db")
    assert "production untouched" in summary.describe()
    assert dump_all(db) == before
    assert sorted(p.name for p in settings.model_dir.rglob("*") if p.is_file()) == artifacts
    sandbox = Database.connect(summary.database)
    try:
        with sandbox.read() as s:
            assert s.scalar(select(func.count(Prediction.id))) == 21 * H
            assert s.scalar(select(func.count(ModelVersion.id))) >= 1
    finally:
        sandbox.dispose()
    # resumable in its sandbox: the same replay again does nothing, production still intact
    again = replay(db, settings, "MSFT", idx[-40].date(), idx[-20].date(), **sandboxed)
    assert again.days_done == 0 and again.days_skipped == 21
    assert dump_all(db) == before


def test_a_second_replay_of_one_symbol_is_refused_while_the_first_runs(
    sqlite_db: Database, settings: Settings
) -> None:
    import threading

    from core.monitor.replay import ReplayConflict

    idx = load_slice(sqlite_db)
    running, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def hold(_fraction: float, _message: str) -> None:
        running.set()
        release.wait(timeout=30)

    def first() -> None:
        try:
            outcome["first"] = replay(sqlite_db, settings, "MSFT", idx[-3].date(),
                                      idx[-1].date(), progress=hold, **FAST)
        except BaseException as exc:  # reported below
            outcome["first"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert running.wait(timeout=60)
        for into_production in (True, False):
            with pytest.raises(ReplayConflict, match="a replay of MSFT is already running"):
                replay(sqlite_db, settings, "MSFT", idx[-3].date(), idx[-1].date(),
                       **{**FAST, "into_production": into_production})
    finally:
        release.set()
        thread.join(timeout=60)
    first_summary = outcome["first"]
    assert not isinstance(first_summary, BaseException), first_summary
    with sqlite_db.read() as s:
        assert s.scalar(select(func.count(Prediction.id))) == 3 * H  # not doubled
    # the lock is released with the run: the next replay goes ahead (nothing left to do)
    assert replay(sqlite_db, settings, "MSFT", idx[-3].date(), idx[-1].date(),
                  **FAST).days_skipped == 3

"""Prediction ledger on SQLite and PostgreSQL: idempotent logging, reconciliation, splits."""

from __future__ import annotations

import datetime as dt

import pytest

from core.db.engine import Database
from core.errors import ValidationFailed
from core.monitor.ledger import ledger_frame, reconcile
from tests.integration.test_monitor_support import add_bars, add_model_version, log_simple

D = dt.date
DATA_DAY = D(2024, 6, 3)  # a Monday
TARGETS = [D(2024, 6, 4), D(2024, 6, 5), D(2024, 6, 6)]


def test_logging_twice_adds_rows_once(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        first = log_simple(s, mv, DATA_DAY, TARGETS, [101.0, 102.0, 103.0], 100.0)
    with db.begin() as s:
        second = log_simple(s, mv, DATA_DAY, TARGETS, [101.0, 102.0, 103.0], 100.0)
    with db.read() as s:
        frame = ledger_frame(s, "MSFT")
    assert (first, second) == (3, 0)
    assert list(frame["step"]) == [1, 2, 3]
    assert list(frame["naive"]) == [100.0, 100.0, 100.0]
    assert frame["actual"].isna().all()


def test_partial_overlap_adds_only_new_targets(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        log_simple(s, mv, DATA_DAY, TARGETS[:2], [101.0, 102.0], 100.0)
        added = log_simple(s, mv, DATA_DAY, TARGETS, [101.0, 102.0, 103.0], 100.0)
    assert added == 1


def test_bad_forecast_is_refused_with_the_reason(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        with pytest.raises(ValidationFailed, match="after the data date"):
            log_simple(s, mv, DATA_DAY, [DATA_DAY], [1.0], 1.0)
        with pytest.raises(ValidationFailed, match="finite"):
            log_simple(s, mv, DATA_DAY, TARGETS[:1], [float("nan")], 1.0)


def test_reconcile_scores_then_is_idempotent_then_follows_a_revision(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        log_simple(s, mv, DATA_DAY, TARGETS, [101.0, 102.0, 103.0], 100.0)
        add_bars(s, "MSFT", {DATA_DAY: 100.0, TARGETS[0]: 104.0, TARGETS[1]: 99.0})
    with db.begin() as s:
        assert reconcile(s, "MSFT") == 2  # the third target has no bar yet
    with db.begin() as s:
        assert reconcile(s, "MSFT") == 0
    with db.begin() as s:
        add_bars(s, "MSFT", {TARGETS[1]: 98.0})  # the source revised the close
        assert reconcile(s, "MSFT") == 1
    with db.read() as s:
        frame = ledger_frame(s, "MSFT")
    assert frame["actual"].tolist()[:2] == [104.0, 98.0]
    assert frame["error"].tolist()[:2] == pytest.approx([3.0, -4.0])
    assert frame["naive_error"].tolist()[:2] == pytest.approx([4.0, -2.0])
    assert frame["actual"].isna().tolist() == [False, False, True]


def test_split_between_data_date_and_target_is_taken_out(db: Database) -> None:
    # 2:1 split on 2024-06-05: the raw price halves, ratio 2.0. The forecast (made on
    # 06-03 at ~100) is in pre-split scale, so the raw 51.0 counts as 102.0.
    with db.begin() as s:
        mv = add_model_version(s)
        log_simple(s, mv, DATA_DAY, TARGETS, [101.0, 102.0, 103.0], 100.0)
        add_bars(
            s, "MSFT",
            {D(2024, 5, 31): 99.0, DATA_DAY: 100.0, TARGETS[0]: 100.5, TARGETS[1]: 51.0,
             TARGETS[2]: 52.0},
            splits={D(2024, 5, 31): 3.0, TARGETS[1]: 2.0},  # a split before data_date: ignored
        )  # fmt: skip
        # a forecast made after the split is in post-split scale: no adjustment
        log_simple(s, mv, TARGETS[1], TARGETS[2:], [51.5], 51.0)
        assert reconcile(s, "MSFT") == 4
    with db.read() as s:
        frame = ledger_frame(s, "MSFT")
    before = frame[frame["data_date"] == str(DATA_DAY)]
    after = frame[frame["data_date"] == str(TARGETS[1])]
    assert before["actual"].tolist() == pytest.approx([100.5, 102.0, 104.0])
    assert before["error"].tolist() == pytest.approx([-0.5, 0.0, 1.0])
    assert after["actual"].tolist() == pytest.approx([52.0])


def test_ledger_frame_filters_by_target_window(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        log_simple(s, mv, DATA_DAY, TARGETS, [101.0, 102.0, 103.0], 100.0)
    with db.read() as s:
        frame = ledger_frame(s, "MSFT", start=TARGETS[1], end=TARGETS[1])
        empty = ledger_frame(s, "AAPL")
    assert frame["target_date"].dt.date.tolist() == [TARGETS[1]]
    assert empty.empty and "error" in empty.columns


def test_swapped_intervals_and_repeated_dates_are_refused(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        with pytest.raises(ValidationFailed, match=r"step 1: .* got 102, 100, 102, 100"):
            log_simple(s, mv, DATA_DAY, TARGETS[:1], [101.0], 100.0, width80=1.0, width95=-1.0)
        with pytest.raises(ValidationFailed, match="distinct"):
            log_simple(s, mv, DATA_DAY, [TARGETS[0], TARGETS[0]], [1.0, 1.0], 1.0)


def test_reconcile_since_limits_the_work(db: Database) -> None:
    with db.begin() as s:
        mv = add_model_version(s)
        log_simple(s, mv, DATA_DAY, TARGETS, [101.0, 102.0, 103.0], 100.0)
        add_bars(s, "MSFT", {TARGETS[0]: 104.0, TARGETS[1]: 99.0, TARGETS[2]: 98.0})
        assert reconcile(s, "MSFT", since=TARGETS[1]) == 2
        assert reconcile(s, "MSFT") == 1

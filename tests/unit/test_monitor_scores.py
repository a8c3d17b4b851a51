"""Scores over a hand-made ledger frame: values checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationFailed
from core.monitor.scores import (
    compute_scores,
    last_target_dates,
    rolling_errors,
    scores_by_step,
)


def ledger(rows: list[tuple[str, int, float, float, float]]) -> pd.DataFrame:
    """(target_date, step, mean, actual, last_value); naive = last, intervals mean±1 / ±2."""
    f = pd.DataFrame(rows, columns=["target_date", "step", "mean", "actual", "last_value"])
    f["target_date"] = pd.to_datetime(f["target_date"])
    f["naive"] = f["last_value"]
    f["lo80"], f["hi80"] = f["mean"] - 1, f["mean"] + 1
    f["lo95"], f["hi95"] = f["mean"] - 2, f["mean"] + 2
    return f


FRAME = ledger(
    [
        ("2024-01-02", 1, 101.0, 102.0, 100.0),  # err 1, naive 2, inside 80, up/up hit
        ("2024-01-03", 1, 103.0, 100.0, 102.0),  # err -3, naive 2, outside 95, up/down miss
        ("2024-01-03", 2, 101.0, 100.0, 100.0),  # err -1, naive 0, inside 80, up/flat miss
        ("2024-01-04", 1, 99.0, float("nan"), 100.0),  # not reconciled: ignored
    ]
)


def test_pooled_scores_by_hand() -> None:
    s = compute_scores(FRAME)
    assert s.n == 3
    assert s.rmse == pytest.approx(math.sqrt((1 + 9 + 1) / 3))
    assert s.mae == pytest.approx(5 / 3)
    assert s.naive_mae == pytest.approx(4 / 3)
    assert s.mae_ratio == pytest.approx((5 / 3) / (4 / 3))
    assert s.mape == pytest.approx(100 * (1 / 102 + 3 / 100 + 1 / 100) / 3)
    assert s.coverage80 == pytest.approx(2 / 3)
    assert s.coverage95 == pytest.approx(2 / 3)
    assert s.hit_rate == pytest.approx(1 / 3)


def test_per_step_table() -> None:
    table = scores_by_step(FRAME)
    assert table.index.tolist() == [1, 2]
    assert table.loc[1, "n"] == 2
    assert table.loc[1, "mae_ratio"] == pytest.approx(2 / 2)
    assert np.isnan(table.loc[2, "mae_ratio"])  # naive was exact: MASE undefined, not infinite


def test_empty_frame_gives_nan_not_an_error() -> None:
    s = compute_scores(FRAME.iloc[3:])
    assert s.n == 0 and math.isnan(s.rmse)
    assert rolling_errors(FRAME.iloc[3:]).empty


def test_window_counts_scored_target_dates() -> None:
    last = last_target_dates(FRAME, 1)
    assert last["target_date"].dt.strftime("%Y-%m-%d").unique().tolist() == ["2024-01-03"]
    assert len(last_target_dates(FRAME, 1, as_of=pd.Timestamp("2024-01-02").date())) == 1
    with pytest.raises(ValidationFailed, match="at least 1"):
        last_target_dates(FRAME, 0)


def test_rolling_errors_by_target_date() -> None:
    roll = rolling_errors(FRAME, window=2)
    assert roll.index.strftime("%Y-%m-%d").tolist() == ["2024-01-02", "2024-01-03"]
    assert roll["mae"].tolist() == pytest.approx([1.0, 5 / 3])
    assert roll["mae_ratio"].tolist() == pytest.approx([0.5, 5 / 4])
    assert roll["n"].tolist() == [1, 3]
    one_step = rolling_errors(FRAME, window=1, step=2)
    assert one_step["mae_ratio"].isna().all()

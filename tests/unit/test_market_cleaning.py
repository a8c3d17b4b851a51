"""Missing sessions and outliers: flag and fill, never delete a trading day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationFailed
from core.market.calendar import trading_calendar
from core.market.cleaning import apply_outlier_policy, fill_missing_sessions, flag_outliers
from core.market.frames import canonical_bars


def _bars(
    close: np.ndarray,
    start: str = "2023-01-03",
    volume: np.ndarray | None = None,
    split: dict[int, float] | None = None,
) -> pd.DataFrame:
    dates = trading_calendar().sessions(start, "2030-01-01")[: len(close)]
    ratio = np.ones(len(close))
    for i, r in (split or {}).items():
        ratio[i] = r
    return canonical_bars(
        pd.DataFrame(
            {
                "date": dates,
                "open": close,
                "high": close * 1.01,
                "low": close * 0.99,
                "close": close,
                "volume": volume if volume is not None else np.full(len(close), 1000),
                "split_ratio": ratio,
            }
        )
    )


def _walk(n: int = 300, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))


def test_fill_missing_sessions_marks_imputed_and_skips_holidays() -> None:
    frame = _bars(np.array([10.0, 11.0, 12.0, 13.0, 14.0]), start="2024-03-25")
    # sessions: 03-25, 26, 27, 28, 04-01 (03-29 Good Friday is a holiday)
    gappy = frame.drop(index=[2]).reset_index(drop=True)
    filled = fill_missing_sessions(gappy, trading_calendar())
    assert filled["date"].dt.strftime("%m-%d").tolist() == [
        "03-25",
        "03-26",
        "03-27",
        "03-28",
        "04-01",
    ]
    assert filled["imputed"].tolist() == [False, False, True, False, False]
    row = filled.iloc[2]
    assert row["close"] == 11.0 and row["open"] == 11.0 and row["volume"] == 0


def test_fill_missing_sessions_on_complete_data_is_identity() -> None:
    frame = _bars(_walk(50))
    filled = fill_missing_sessions(frame, trading_calendar())
    assert not filled["imputed"].any()
    pd.testing.assert_frame_equal(filled.drop(columns="imputed"), frame)


def test_spike_is_flagged_not_deleted() -> None:
    close = _walk()
    close[150] *= 1.5
    out = flag_outliers(_bars(close))
    assert len(out) == 300
    assert bool(out.loc[150, "outlier"])
    assert out.loc[150, "outlier_score"] > 6
    assert out["outlier"].sum() <= 3  # the spike and its reversal, little else


def test_split_day_is_explained_not_an_outlier() -> None:
    close = _walk()
    close[200:] /= 2.0  # raw prices halve on a 2-for-1 split
    out = flag_outliers(_bars(close, split={200: 2.0}))
    assert not bool(out.loc[200, "outlier"])
    assert "split day" in out.loc[200, "outlier_reason"]
    unexplained = flag_outliers(_bars(close))
    assert bool(unexplained.loc[200, "outlier"])


def test_big_move_on_high_volume_is_flagged_with_a_reason() -> None:
    close = _walk()
    close[150:] *= 0.7
    volume = np.full(300, 1000)
    volume[150] = 9000
    out = flag_outliers(_bars(close, volume=volume))
    assert bool(out.loc[150, "outlier"])
    assert "more plausibly a real move" in out.loc[150, "outlier_reason"]


def test_invalid_threshold() -> None:
    with pytest.raises(ValidationFailed, match="threshold"):
        flag_outliers(_bars(_walk(10)), threshold=0)


def _spiky() -> tuple[pd.Series, np.ndarray]:
    values = pd.Series(
        [10.0, 10.1, 10.2, 30.0, 10.3, 10.4], index=pd.bdate_range("2024-01-02", periods=6)
    )
    flags = np.array([False, False, False, True, False, False])
    return values, flags


@pytest.mark.parametrize(
    ("policy", "expected_at_spike"),
    [
        pytest.param("use", 30.0, id="use-keeps"),
        pytest.param("exclude", 10.2, id="exclude-forward-fills"),
    ],
)
def test_outlier_policies_keep_the_index(policy: str, expected_at_spike: float) -> None:
    values, flags = _spiky()
    out = apply_outlier_policy(values, flags, policy)
    assert out.index.equals(values.index)
    assert out.iloc[3] == pytest.approx(expected_at_spike)


def test_winsorize_caps_the_move_locally() -> None:
    values, flags = _spiky()
    out = apply_outlier_policy(values, flags, "winsorize")
    largest = np.log(10.4 / 10.3)  # largest unflagged return among the others (approx)
    assert 10.2 < out.iloc[3] < 10.2 * np.exp(0.02)
    assert out.iloc[4] == 10.3 and largest > 0


@pytest.mark.parametrize(
    "policy",
    [pytest.param("drop", id="drop-is-not-a-policy"), pytest.param("USE", id="case-matters")],
)
def test_unknown_policy_names_the_valid_ones(policy: str) -> None:
    values, flags = _spiky()
    with pytest.raises(ValidationFailed, match="use, winsorize, exclude"):
        apply_outlier_policy(values, flags, policy)


def test_flags_must_match_the_series() -> None:
    values, _ = _spiky()
    with pytest.raises(ValidationFailed, match="entries"):
        apply_outlier_policy(values, np.array([True]), "exclude")

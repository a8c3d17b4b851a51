"""One set of metric definitions: MASE pinned by hand, the MAE ratio to naive beside it, and
every front door (backtest tables, monitoring scores, rolling chart, alert rule, overview
card, API verdict, CLI) going through ``core.forecast.metrics``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.forecast import metrics as mx
from core.forecast.backtest import backtest
from core.forecast.baselines import Drift, Naive
from core.market.calendar import trading_calendar
from core.monitor.scores import compute_scores, rolling_errors

ROOT = Path(__file__).resolve().parents[2]


def on_sessions(values: np.ndarray) -> pd.Series:
    idx = trading_calendar("XNYS").sessions("2015-01-01", "2017-11-10")[-len(values):]
    return pd.Series(np.asarray(values, dtype=float), index=idx)


def test_mase_by_hand() -> None:
    # training 10, 11, 13, 12: one-step naive errors 1, 2, 1 -> scale 4/3
    train = [10.0, 11.0, 13.0, 12.0]
    assert mx.naive_scale(train) == pytest.approx(4 / 3)
    # forecasts 13, 13 for actuals 14, 12: MAE 1 -> MASE 1 / (4/3) = 0.75
    assert mx.mase([14.0, 12.0], [13.0, 13.0], mx.naive_scale(train)) == pytest.approx(0.75)
    # the naive forecast (12, 12) of the same targets: MAE 1 -> ratio to naive 1.0
    assert mx.mae_ratio([14.0, 12.0], [13.0, 13.0], [12.0, 12.0]) == pytest.approx(1.0)
    assert np.isnan(mx.mae_ratio([12.0], [13.0], [12.0]))  # naive exact: undefined


def test_backtest_fold_mase_is_the_hand_value() -> None:
    # A line 100, 101, ...: the training window's one-step naive MAE is exactly 1. Naive
    # forecasts from the origin miss by 1, 2, 3 at steps 1..3: fold MAE 2, fold MASE 2.
    y = on_sessions(100.0 + np.arange(40))
    report = backtest(Naive(log=False), y, folds=1, horizon=3)
    [fold] = report.fold_scores
    assert (fold.mae, fold.mase, fold.mae_ratio) == pytest.approx((2.0, 2.0, 1.0))
    assert report.per_step["mase"] == pytest.approx([1.0, 2.0, 3.0])


def test_mase_above_one_while_beating_naive_is_shown_as_such() -> None:
    """The fitting page's "fold MASE 1.19 with MAE 0.534 below naive's 0.722": over h days,
    MASE compares h-day errors with ONE-day moves, so a model better than naive can read
    above 1. The fold row now carries the MAE ratio to naive and the verdict uses it."""
    rng = np.random.default_rng(3)
    y = on_sessions(100.0 + np.arange(300) * 0.5 + rng.normal(0.0, 0.2, 300))
    report = backtest(Drift(log=False), y, folds=3, horizon=10)
    frame = report.folds_frame()
    assert (frame["naive_mase"] > 1).all()  # naive itself: h-day misses vs one-day moves
    assert (frame["mae_ratio"] < 1).all() and (frame["mae"] < frame["naive_mae"]).all()
    assert frame["mae_ratio"].to_numpy() == pytest.approx(
        (frame["mae"] / frame["naive_mae"]).to_numpy())
    assert report.folds_won == 3


def _ledger() -> pd.DataFrame:
    days = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    return pd.DataFrame({
        "step": [1, 1, 1, 1], "target_date": days, "mean": [10.0, 11.0, 12.5, 12.0],
        "actual": [11.0, 11.5, 12.0, 13.0], "naive": [10.5, 11.0, 11.5, 12.0],
        "last_value": [10.5, 11.0, 11.5, 12.0], "lo80": [9.0] * 4, "hi80": [12.0] * 4,
        "lo95": [8.0] * 4, "hi95": [14.0] * 4,
    })  # fmt: skip


def test_monitoring_scores_and_rolling_chart_use_the_same_ratio() -> None:
    frame = _ledger()
    a, p, n = frame["actual"], frame["mean"], frame["naive"]
    s = compute_scores(frame)
    assert s.mae_ratio == mx.mae_ratio(a, p, n) == pytest.approx((1 + 0.5 + 0.5 + 1) / 2.5)
    assert s.mase == s.mae_ratio  # the old attribute name, same (non-MASE) figure
    roll = rolling_errors(frame, window=2)
    assert roll["mae_ratio"].iloc[-1] == pytest.approx(mx.mae_ratio(a[2:], p[2:], n[2:]))
    assert roll["naive_rmse"].iloc[-1] == pytest.approx(mx.rmse(a[2:], n[2:]))


# Source checks: nobody re-implements a metric outside core/forecast/metrics.py, and no
# front door calls the ratio to naive "MASE".
FRONT_DOORS = ["core", "api", "dashboard", "pages"]
REIMPLEMENTED = [
    (re.compile(r"np\.abs\(np\.diff\("), "the MASE scale (metrics.naive_scale)"),
    (re.compile(r"/\s*[\w\[\]\"'.]*naive_mae"), "a ratio to the naive MAE (metrics.mae_ratio)"),
    (re.compile(r"err\s*/\s*scale"), "a MASE (metrics.mase)"),
]
MASE_LABEL = re.compile(r"""["'][^"'\n]*\bMASE\b[^"'\n]*["']""")


def _sources() -> list[Path]:
    files = [p for d in FRONT_DOORS for p in (ROOT / d).rglob("*.py")]
    return [p for p in files if p != ROOT / "core" / "forecast" / "metrics.py"]


def test_no_metric_is_reimplemented_outside_metrics() -> None:
    found = []
    for path in _sources():
        text = path.read_text()
        for pattern, what in REIMPLEMENTED:
            for m in pattern.finditer(text):
                line = text[: m.start()].count("\n") + 1
                found.append(f"{path.relative_to(ROOT)}:{line} re-implements {what}")
    assert found == []


def test_no_label_calls_the_ratio_to_naive_mase() -> None:
    labels = []
    for path in [*(ROOT / "pages").glob("*.py"), ROOT / "dashboard" / "charts.py",
                 ROOT / "core" / "monitor" / "alerts.py", ROOT / "core" / "monitor" / "views.py",
                 ROOT / "core" / "pipeline.py", *(ROOT / "api").glob("*.py")]:
        for m in MASE_LABEL.finditer(path.read_text()):
            if "not a mase" not in m.group(0).lower():
                labels.append(f"{path.relative_to(ROOT)}: {m.group(0)}")
    assert labels == []


def test_every_front_door_reaches_the_one_implementation() -> None:
    uses = {
        "core/forecast/backtest.py": "from core.forecast import metrics as mx",
        "core/monitor/scores.py": "from core.forecast import metrics as mx",
        "core/monitor/alerts.py": "from core.monitor.scores import",
        "core/monitor/views.py": "from core.monitor.scores import",
        "api/routes.py": "service._beats_naive",  # folds_won, from the backtest's ratio
    }
    missing = [f for f, needle in uses.items() if needle not in (ROOT / f).read_text()]
    assert missing == []

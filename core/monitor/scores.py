"""Forecast scores over the ledger: accuracy, calibration and direction, per horizon step.

Pure pandas/numpy on a ``ledger_frame``; only reconciled rows (``actual`` known) count.
Every figure comes from ``core.forecast.metrics`` (one set of definitions). The skill
figure is the MAE ratio to naive, MAE(model) / MAE(naive) on exactly the same reconciled
rows (``metrics.mae_ratio``): above 1 the model did worse than "tomorrow = today" over
that window. It is NOT the MASE: MASE scales by the training window's one-step naive
MAE, which the ledger does not know (see ``core.forecast.metrics``).

>>> import pandas as pd
>>> f = pd.DataFrame({"step": [1, 1], "target_date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
...     "mean": [10.0, 11.0], "actual": [11.0, 11.0], "naive": [10.0, 10.0],
...     "last_value": [10.0, 10.0], "lo80": [9.0, 10.0], "hi80": [12.0, 12.0],
...     "lo95": [8.0, 9.0], "hi95": [13.0, 13.0]})
>>> s = compute_scores(f)
>>> (s.n, s.mae, s.mae_ratio, s.coverage80)
(2, 0.5, 0.5, 1.0)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from core.errors import ValidationFailed
from core.forecast import metrics as mx

SCORE_FIELDS = [
    "n", "rmse", "mae", "mape", "naive_mae", "mae_ratio", "coverage80", "coverage95", "hit_rate",
]  # fmt: skip


@dataclass(frozen=True)
class Scores:
    """Scores of one set of reconciled predictions (NaN where undefined, e.g. no rows)."""

    n: int
    rmse: float
    mae: float
    mape: float  # percent
    naive_mae: float
    mae_ratio: float  # MAE ratio to naive on the same rows; > 1 is worse than naive
    coverage80: float  # share of actuals inside [lo80, hi80]
    coverage95: float
    hit_rate: float  # share where sign(mean - last) == sign(actual - last)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def mase(self) -> float:
        """Old name of ``mae_ratio`` (it never was a MASE); kept for callers written
        before the rename."""
        return self.mae_ratio


def reconciled(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows whose actual is known (the only ones a score can use)."""
    return frame[frame["actual"].notna()]


def last_target_dates(frame: pd.DataFrame, days: int, as_of: dt.date | None = None) -> pd.DataFrame:
    """Reconciled rows whose target date is among the last ``days`` scored target dates.

    The window counts target dates present in the ledger (trading days), not calendar
    days, so a window of 30 means 30 scored sessions whatever the holidays.
    """
    if days < 1:
        raise ValidationFailed(f"the score window must be at least 1 day, got {days}")
    rows = reconciled(frame)
    if as_of is not None:
        rows = rows[rows["target_date"] <= pd.Timestamp(as_of)]
    keep = np.sort(rows["target_date"].unique())[-days:]
    return rows[rows["target_date"].isin(keep)]


def compute_scores(frame: pd.DataFrame) -> Scores:
    """Scores over every reconciled row of ``frame`` (all steps pooled)."""
    rows = reconciled(frame)
    n = len(rows)
    if n == 0:
        nan = float("nan")
        return Scores(0, nan, nan, nan, nan, nan, nan, nan, nan)
    actual = rows["actual"].to_numpy(float)
    mean = rows["mean"].to_numpy(float)
    naive = rows["naive"].to_numpy(float)
    last = rows["last_value"].to_numpy(float)
    priced = actual != 0  # MAPE is undefined at a zero price
    return Scores(
        n=n,
        rmse=mx.rmse(actual, mean),
        mae=mx.mae(actual, mean),
        mape=mx.mape(actual[priced], mean[priced]) if priced.any() else float("nan"),
        naive_mae=mx.mae(actual, naive),
        mae_ratio=mx.mae_ratio(actual, mean, naive),
        coverage80=mx.coverage(actual, rows["lo80"].to_numpy(float), rows["hi80"].to_numpy(float)),
        coverage95=mx.coverage(actual, rows["lo95"].to_numpy(float), rows["hi95"].to_numpy(float)),
        hit_rate=float(np.mean(mx.move_sign(mean, last) == mx.move_sign(actual, last))),
    )


def scores_by_step(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per horizon step (index ``step``), columns ``SCORE_FIELDS``."""
    rows = reconciled(frame)
    data = {step: compute_scores(group).as_dict() for step, group in rows.groupby("step")}
    out = pd.DataFrame.from_dict(data, orient="index", columns=SCORE_FIELDS)
    out.index.name = "step"
    return out


def rolling_errors(frame: pd.DataFrame, window: int = 20, step: int | None = None) -> pd.DataFrame:
    """Rolling accuracy by target date, for charts and the "MAE ratio to naive above 1
    for N days" rule.

    Rows are pooled per target date (all steps, or one ``step``), then a trailing window
    of ``window`` target dates gives ``rmse``/``naive_rmse``, ``mae``/``naive_mae`` (model
    and naive measured alike, so a chart compares like with like) and ``mae_ratio``
    (``metrics.ratio_to_naive``: the same figure as ``metrics.mae_ratio`` over the window).
    Index: target date; a date appears once it has at least one reconciled row.
    """
    if window < 1:
        raise ValidationFailed(f"the rolling window must be at least 1 target date, got {window}")
    rows = reconciled(frame)
    if step is not None:
        rows = rows[rows["step"] == step]
    cols = ["rmse", "naive_rmse", "mae", "naive_mae", "mae_ratio", "n"]
    if rows.empty:
        return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], name="target_date"))
    err = rows["actual"] - rows["mean"]
    naive_err = rows["actual"] - rows["naive"]
    daily = pd.DataFrame(
        {
            "sq": err.pow(2),
            "abs": err.abs(),
            "naive_sq": naive_err.pow(2),
            "naive_abs": naive_err.abs(),
            "n": 1,
            "target_date": rows["target_date"],
        }
    ).groupby("target_date")[["sq", "abs", "naive_sq", "naive_abs", "n"]].sum()
    # Sums over a trailing window, divided by the count: the window's RMSE and MAE, exactly
    # what metrics.rmse / metrics.mae give on the window's rows.
    summed = daily.rolling(window, min_periods=1).sum()
    out = pd.DataFrame(index=summed.index)
    out["rmse"] = np.sqrt(summed["sq"] / summed["n"])
    out["naive_rmse"] = np.sqrt(summed["naive_sq"] / summed["n"])
    out["mae"] = summed["abs"] / summed["n"]
    out["naive_mae"] = summed["naive_abs"] / summed["n"]
    out["mae_ratio"] = mx.ratio_to_naive(out["mae"].to_numpy(), out["naive_mae"].to_numpy())
    out["n"] = summed["n"].astype(int)
    return out

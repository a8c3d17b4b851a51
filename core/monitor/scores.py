"""Forecast scores over the ledger: accuracy, calibration and direction, per horizon step.

Pure pandas/numpy on a ``ledger_frame``; only reconciled rows (``actual`` known) count.
MASE here is MAE(model) / MAE(naive) on exactly the same reconciled rows, so a value
above 1 means the model did worse than "tomorrow = today" over that window.

>>> import pandas as pd
>>> f = pd.DataFrame({"step": [1, 1], "target_date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
...     "mean": [10.0, 11.0], "actual": [11.0, 11.0], "naive": [10.0, 10.0],
...     "last_value": [10.0, 10.0], "lo80": [9.0, 10.0], "hi80": [12.0, 12.0],
...     "lo95": [8.0, 9.0], "hi95": [13.0, 13.0]})
>>> s = compute_scores(f)
>>> (s.n, s.mae, s.mase, s.coverage80)
(2, 0.5, 0.5, 1.0)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from core.errors import ValidationFailed

SCORE_FIELDS = [
    "n", "rmse", "mae", "mape", "naive_mae", "mase", "coverage80", "coverage95", "hit_rate",
]  # fmt: skip


@dataclass(frozen=True)
class Scores:
    """Scores of one set of reconciled predictions (NaN where undefined, e.g. no rows)."""

    n: int
    rmse: float
    mae: float
    mape: float  # percent
    naive_mae: float
    mase: float  # MAE(model) / MAE(naive) on the same rows; > 1 is worse than naive
    coverage80: float  # share of actuals inside [lo80, hi80]
    coverage95: float
    hit_rate: float  # share where sign(mean - last) == sign(actual - last)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


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
    err = actual - mean
    naive_abs = np.abs(actual - rows["naive"].to_numpy(float))
    last = rows["last_value"].to_numpy(float)
    mae = float(np.mean(np.abs(err)))
    naive_mae = float(np.mean(naive_abs))
    with np.errstate(divide="ignore", invalid="ignore"):
        mape_terms = np.abs(err / actual)
    mape_terms = mape_terms[np.isfinite(mape_terms)]

    def inside(lo: str, hi: str) -> float:
        lo_v, hi_v = rows[lo].to_numpy(float), rows[hi].to_numpy(float)
        return float(np.mean((actual >= lo_v) & (actual <= hi_v)))

    return Scores(
        n=n,
        rmse=float(np.sqrt(np.mean(err**2))),
        mae=mae,
        mape=float(np.mean(mape_terms) * 100) if mape_terms.size else float("nan"),
        naive_mae=naive_mae,
        mase=mae / naive_mae if naive_mae > 0 else float("nan"),
        coverage80=inside("lo80", "hi80"),
        coverage95=inside("lo95", "hi95"),
        hit_rate=float(np.mean(np.sign(mean - last) == np.sign(actual - last))),
    )


def scores_by_step(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per horizon step (index ``step``), columns ``SCORE_FIELDS``."""
    rows = reconciled(frame)
    data = {step: compute_scores(group).as_dict() for step, group in rows.groupby("step")}
    out = pd.DataFrame.from_dict(data, orient="index", columns=SCORE_FIELDS)
    out.index.name = "step"
    return out


def rolling_errors(frame: pd.DataFrame, window: int = 20, step: int | None = None) -> pd.DataFrame:
    """Rolling accuracy by target date, for charts and the "MASE > 1 for N days" rule.

    Rows are pooled per target date (all steps, or one ``step``), then a trailing window
    of ``window`` target dates gives ``rmse``, ``mae``, ``naive_mae`` and ``mase``.
    Index: target date; a date appears once it has at least one reconciled row.
    """
    if window < 1:
        raise ValidationFailed(f"the rolling window must be at least 1 target date, got {window}")
    rows = reconciled(frame)
    if step is not None:
        rows = rows[rows["step"] == step]
    cols = ["rmse", "mae", "naive_mae", "mase", "n"]
    if rows.empty:
        return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], name="target_date"))
    err = rows["actual"] - rows["mean"]
    daily = pd.DataFrame(
        {
            "sq": err.pow(2),
            "abs": err.abs(),
            "naive_abs": (rows["actual"] - rows["naive"]).abs(),
            "n": 1,
            "target_date": rows["target_date"],
        }
    ).groupby("target_date")[["sq", "abs", "naive_abs", "n"]].sum()
    summed = daily.rolling(window, min_periods=1).sum()
    out = pd.DataFrame(index=summed.index)
    out["rmse"] = np.sqrt(summed["sq"] / summed["n"])
    out["mae"] = summed["abs"] / summed["n"]
    out["naive_mae"] = summed["naive_abs"] / summed["n"]
    out["mase"] = (out["mae"] / out["naive_mae"]).where(out["naive_mae"] > 0)
    out["n"] = summed["n"].astype(int)
    return out

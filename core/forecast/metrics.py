"""Forecast accuracy metrics as plain numpy functions (used by backtests and monitoring).

All take arrays of the same shape and reduce over every element; percentages are in %.
"""

from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray | list[float]


def _a(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def rmse(actual: ArrayLike, pred: ArrayLike) -> float:
    """Root mean squared error.

    >>> rmse([1, 2, 3], [1, 2, 5])
    1.1547005383792515
    """
    return float(np.sqrt(np.mean((_a(actual) - _a(pred)) ** 2)))


def mae(actual: ArrayLike, pred: ArrayLike) -> float:
    return float(np.mean(np.abs(_a(actual) - _a(pred))))


def mape(actual: ArrayLike, pred: ArrayLike) -> float:
    """Mean absolute percentage error, in % (prices are positive)."""
    a = _a(actual)
    return float(100 * np.mean(np.abs(a - _a(pred)) / np.abs(a)))


def smape(actual: ArrayLike, pred: ArrayLike) -> float:
    """Symmetric MAPE in % (0..200): mean of 2|a-p| / (|a|+|p|), 0 where both are 0."""
    a, p = _a(actual), _a(pred)
    den = np.abs(a) + np.abs(p)
    ratio = np.divide(2 * np.abs(a - p), den, out=np.zeros_like(den), where=den > 0)
    return float(100 * np.mean(ratio))


def naive_scale(train: ArrayLike) -> float:
    """In-sample MAE of the one-step naive forecast: the MASE denominator."""
    return float(np.mean(np.abs(np.diff(_a(train)))))


def mase(actual: ArrayLike, pred: ArrayLike, scale: float) -> float:
    """Mean absolute scaled error: MAE / ``scale`` (see :func:`naive_scale`).

    >>> mase([3, 4], [2, 2], scale=1.5)
    1.0
    """
    err = mae(actual, pred)
    if scale > 0:
        return err / scale
    return 0.0 if err == 0 else float("inf")


def coverage(actual: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> float:
    """Share of actual values inside [lo, hi]."""
    a = _a(actual)
    return float(np.mean((a >= _a(lo)) & (a <= _a(hi))))


def move_sign(values: ArrayLike, last: ArrayLike | float) -> np.ndarray:
    """Sign of ``values - last``, with moves within 1e-9 relative counted as no move (so a
    naive forecast after a log/exp round trip is "flat", not noise)."""
    v, ref = _a(values), np.asarray(last, dtype=np.float64)
    diff = v - ref
    return np.where(np.abs(diff) <= 1e-9 * np.maximum(np.abs(ref), 1.0), 0.0, np.sign(diff))


def directional_accuracy(actual: ArrayLike, pred: ArrayLike, last: float) -> float:
    """Share of steps where the forecast's move from ``last`` (the last observed value) has
    the sign of the actual move (no change counts as its own sign)."""
    return float(np.mean(move_sign(pred, last) == move_sign(actual, last)))


def interval_score(actual: ArrayLike, lo: ArrayLike, hi: ArrayLike, alpha: float) -> float:
    """Mean interval score of central ``1 - alpha`` bands (Gneiting & Raftery 2007): the
    width plus ``2/alpha`` times the distance by which an actual falls outside; lower is
    better, and it rewards a band only for being as narrow as its coverage allows.

    >>> interval_score([1.0, 5.0], [0.0, 0.0], [2.0, 4.0], alpha=0.2)
    8.0
    """
    a, lower, upper = _a(actual), _a(lo), _a(hi)
    score = (upper - lower) + (2.0 / alpha) * (np.maximum(lower - a, 0.0)
                                                + np.maximum(a - upper, 0.0))
    return float(np.mean(score))

"""Forecast accuracy metrics as plain numpy functions: the ONE set of definitions that the
backtest tables, the monitoring scores, the overview cards, the alert rules, the API and
the CLI all use (tests/unit/test_metric_definitions.py checks that nobody re-implements them).

All take arrays of the same shape and reduce over every element; percentages are in %.

Two skill ratios, never to be confused:

- ``mase``: MAE divided by :func:`naive_scale`, the in-sample MAE of the one-step naive
  forecast over the TRAINING window (Hyndman and Koehler 2006). It needs the training data,
  so only a backtest can compute it. At horizons beyond one day it exceeds 1 even for a
  model that beats the naive forecast, because h-day errors are compared with one-day
  moves: the naive forecast's own MASE over 5 steps is about 1.6 on MSFT.
- ``mae_ratio``: MAE of the model divided by the MAE of the naive forecast on exactly the
  same targets ("MAE ratio to naive"). Below 1 means better than naive on those targets.
  The ledger logs the naive forecast beside every prediction, so monitoring uses this one.
"""

from __future__ import annotations

import math

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


def mae_ratio(actual: ArrayLike, pred: ArrayLike, naive: ArrayLike) -> float:
    """MAE ratio to naive: MAE(pred) / MAE(naive) on the same targets (NaN when the naive
    forecast was exact, since the ratio is then undefined, not infinite).

    >>> mae_ratio([10, 12], [11, 12], naive=[10, 10])
    0.5
    """
    return float(ratio_to_naive(mae(actual, pred), mae(actual, naive)))


def ratio_to_naive(model_mae: ArrayLike | float, naive_mae: ArrayLike | float) -> np.ndarray:
    """The division behind :func:`mae_ratio`, elementwise for windows of MAEs already
    summed (rolling charts): NaN where the naive MAE is 0.

    >>> ratio_to_naive([1.0, 2.0], [2.0, 0.0]).tolist()
    [0.5, nan]
    """
    num, den = np.asarray(model_mae, dtype=np.float64), np.asarray(naive_mae, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def binomial_tail(hits: int, n: int, p: float, *, upper: bool) -> float:
    """P(X >= hits) (``upper``) or P(X <= hits) for X ~ Binomial(n, p), exactly (log-space
    terms, so n in the thousands is fine). Written out rather than ``scipy.stats.binom``:
    light CLI commands (``models``) import this module and must not import scipy.stats.

    >>> round(binomial_tail(28, 28, 0.88, upper=True), 3)  # 28 of 28 inside an 88% band
    0.028
    >>> abs(binomial_tail(0, 10, 0.5, upper=False) - 0.5 ** 10) < 1e-15
    True
    """
    if not 0 <= hits <= n:
        raise ValueError(f"hits must be within 0..{n}, got {hits}")
    if p <= 0.0 or p >= 1.0:
        certain = n if p >= 1.0 else 0  # the only count a degenerate p gives
        return float(certain >= hits) if upper else float(certain <= hits)
    ks = range(hits, n + 1) if upper else range(0, hits + 1)
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    return min(1.0, sum(
        math.exp(log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                 + k * log_p + (n - k) * log_q)
        for k in ks
    ))


def coverage_test(hits: int, n: int, low: float, high: float,
                  alpha: float = 0.05) -> tuple[str | None, float]:
    """Is a band that held ``hits`` of ``n`` actuals off its target coverage [low, high]
    beyond chance? "too narrow" when so few hits have probability below ``alpha`` even at
    coverage ``low``, "too wide" when so many have it even at ``high``; else None. Returns
    the verdict and that probability (1.0 when on target). A share outside the range on a
    handful of actuals is not evidence: 6 of 6 inside a 95% band happens 74% of the time.

    >>> coverage_test(6, 6, 0.90, 0.98)[0] is None
    True
    >>> verdict, p = coverage_test(28, 28, 0.72, 0.88); verdict, round(p, 3)
    ('too wide', 0.028)
    >>> coverage_test(10, 28, 0.72, 0.88)[0]
    'too narrow'
    """
    if n <= 0:
        return None, 1.0
    share = hits / n
    if share < low:
        p = binomial_tail(hits, n, low, upper=False)
        return ("too narrow" if p < alpha else None), p
    if share > high:
        p = binomial_tail(hits, n, high, upper=True)
        return ("too wide" if p < alpha else None), p
    return None, 1.0


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

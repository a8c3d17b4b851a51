"""Corporate actions inferred from a file's ``Close`` and ``Adj Close`` columns.

A publisher's adjusted close is the raw close times a backward factor that steps at every
split and dividend: ``adj[t] = close[t] * F[t]``, with ``F[t-1] = F[t] / r`` for a split of
ratio ``r`` on day ``t`` and ``F[t-1] = F[t] * (1 - d / close[t-1])`` for a dividend ``d``
going ex on day ``t`` (the same convention ``core.market.adjust`` undoes on read). So the
ratio ``k[t] = close[t] / adj[t]`` is constant between events and

- jumps by a split factor on a split day: ``k[t-1] / k[t] = r`` (2 for a 2-for-1 split,
  1.5 for 3-for-2, 0.1 for a 1-for-10 reverse split);
- steps up a little on an ex-dividend day: ``k[t-1] / k[t] = 1 / (1 - d / close[t-1])``,
  hence ``d = close[t-1] * (1 - k[t] / k[t-1])``.

Steps smaller than what the files' rounding can produce are noise, not events: the tolerance
is the relative rounding error of the two closes and two adjusted closes involved, from the
number of decimals the file gives. A step of more than 18% (or a fall of more than 15%) is
a split candidate: it is stored only when it is within 1% of a simple ratio p/q with p, q
<= 10; otherwise it is reported and nothing is stored for that day. A dividend on a split
day is folded into the split (its share of the step is under the 1% tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

SPLIT_UP = 1.18  # k[t-1]/k[t] above this: a split, not a dividend (5-for-4 is 1.25)
SPLIT_DOWN = 0.85  # below this: a reverse split (dividends only ever raise the ratio)
SPLIT_TOLERANCE = 0.01  # relative distance to a simple p/q for the step to count as one


@dataclass(frozen=True)
class InferredActions:
    """Per-row ``dividend`` and ``split_ratio`` inferred from Close / Adj Close."""

    dividend: np.ndarray
    split_ratio: np.ndarray
    splits: list[tuple[pd.Timestamp, Fraction]] = field(default_factory=list)
    unrecognised: list[tuple[pd.Timestamp, float]] = field(default_factory=list)

    @property
    def n_dividends(self) -> int:
        return int((self.dividend > 0).sum())

    def describe(self) -> str:
        """``inferred 2 splits: 2:1 on 2000-06-21, 2:1 on 2005-02-28; 34 dividends``."""
        parts = [f"{f.numerator}:{f.denominator} on {d.date()}" for d, f in self.splits]
        head = (f"inferred {len(self.splits)} split(s): " + ", ".join(parts)
                if parts else "inferred 0 splits")
        return f"{head}; {self.n_dividends} dividend(s) from Close / Adj Close"


def split_fraction(step: float, tolerance: float = SPLIT_TOLERANCE) -> Fraction | None:
    """The simple ratio p/q (p, q <= 10) within ``tolerance`` of ``step``, else None.

    >>> split_fraction(2.004), split_fraction(0.1), split_fraction(1.5), split_fraction(2.27)
    (Fraction(2, 1), Fraction(1, 10), Fraction(3, 2), None)
    """
    if not np.isfinite(step) or step <= 0:
        return None
    best = Fraction(step).limit_denominator(10)
    if best.numerator > 10 or best == 1:
        return None
    return best if abs(step / float(best) - 1) <= tolerance else None


def infer_actions(
    dates: pd.Series,
    close: np.ndarray,
    adj_close: np.ndarray,
    *,
    close_decimals: int = 6,
    adj_decimals: int = 6,
) -> InferredActions:
    """Infer splits and dividends on date-sorted rows from the Close / Adj Close ratio."""
    close = np.asarray(close, dtype="float64")
    adj = np.asarray(adj_close, dtype="float64")
    n = len(close)
    dividend = np.zeros(n)
    ratio_out = np.ones(n)
    splits: list[tuple[pd.Timestamp, Fraction]] = []
    unrecognised: list[tuple[pd.Timestamp, float]] = []
    if n < 2:
        return InferredActions(dividend, ratio_out)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = close / adj
        rel = 0.5 * 10.0**-close_decimals / close + 0.5 * 10.0**-adj_decimals / adj
        step = k[:-1] / k[1:]  # step[i] belongs to row i + 1
        tol = rel[:-1] + rel[1:]
    stamps = pd.DatetimeIndex(dates)
    for i in np.flatnonzero(np.isfinite(step) & (np.abs(step - 1) > tol)):
        day, q = int(i) + 1, float(step[i])
        if q >= SPLIT_UP or q <= SPLIT_DOWN:
            frac = split_fraction(q)
            if frac is None:
                unrecognised.append((stamps[day], q))
            else:
                ratio_out[day] = float(frac)
                splits.append((stamps[day], frac))
        elif q > 1:
            dividend[day] = round(float(close[day - 1] * (1 - 1 / q)), 6)
        # q slightly below 1 beyond rounding: the adjusted close rose against the close,
        # which no split or dividend does; left for the caller's warning (not an action).
    return InferredActions(dividend, ratio_out, splits, unrecognised)


def decimals(cells: pd.Series) -> int:
    """The most decimals any cell of a numeric text column shows (for rounding tolerance)."""
    text = cells.dropna().astype(str).str.strip()
    frac = text.str.extract(r"[.,](\d+)$", expand=False).dropna()
    return int(frac.str.len().max()) if len(frac) else 0

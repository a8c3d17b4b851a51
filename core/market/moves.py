"""Implausible one-day moves at ingest: bad ticks, 100x unit errors and splits gone wrong.

The same robust scoring the explorer uses on read (``cleaning.flag_outliers``: split-
corrected log returns against a rolling median/MAD) picks the candidate days; each is then
explained, most specific first, and reported as a warning with its dates (a warning, not an
error: the bars may be real, and flagging keeps the trading-day index whole):

- ``unit_jump``: the close moves by about 100x or 1/100x (within 1.5x), yfinance's "100x
  error" (a price in pence next to prices in pounds); judged without the score, since no
  market moves 100x in a day;
- ``split_unexplained``: a split is recorded that day but the close did not move by its
  ratio (a split stored on the wrong day, or with the wrong ratio);
- ``bad_tick``: a move of more than 20% that reverts the next day (the two-day move is
  under a quarter of it); smaller reverting moves are mostly the tick size of a low price;
- ``unrecorded_split``: a move of more than 40% within 3% of a common split ratio (2, 3, 4,
  5, 7, 8, 10, 20, 3/2, 5/2, 4/3 or their inverses) or of a split ratio recorded within
  20 sessions (either way round), with no split recorded that day. (A crash of -30% is not
  near any of them; -50% is, and is worth a second look.)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.market.cleaning import DEFAULT_THRESHOLD, flag_outliers

if TYPE_CHECKING:
    from core.market.validation import ValidationReport

UNIT_FACTOR = 100.0
UNIT_TOLERANCE = math.log(1.5)
BIG_MOVE = math.log(1.4)
REVERT_SHARE = 0.25
TICK_MOVE = math.log(1.2)
SPLIT_NEAR = 0.03
COMMON_SPLITS = (2.0, 3.0, 4.0, 5.0, 7.0, 8.0, 10.0, 20.0, 1.5, 2.5, 4 / 3)
_SPLIT_FACTORS = (*COMMON_SPLITS, *(1 / f for f in COMMON_SPLITS))
SPLIT_WINDOW = 20


def _day(frame: pd.DataFrame, i: int) -> str:
    return str(pd.Timestamp(frame["date"].iloc[i]).date())


def check_price_moves(
    frame: pd.DataFrame,
    symbol: str,
    report: ValidationReport,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> None:
    """Add ``unit_jump`` / ``split_unexplained`` / ``bad_tick`` / ``unrecorded_split``
    warnings for a date-sorted canonical frame (see the module docstring)."""
    n = len(frame)
    if n < 3:
        return
    close = frame["close"].to_numpy(dtype="float64")
    ratio = frame["split_ratio"].to_numpy(dtype="float64")
    raw = np.concatenate([[1.0], close[1:] / close[:-1]])
    logc = np.log(raw * ratio)  # split-corrected: a 2:1 split day (price halves) gives 0
    logc[0] = 0.0
    score = flag_outliers(frame, threshold, window=252)["outlier_score"].to_numpy()
    split_rows = np.flatnonzero(ratio != 1.0)

    units: list[int] = []
    unexplained: list[int] = []
    ticks: list[int] = []
    unrecorded: list[int] = []
    skip: set[int] = set()
    for i in range(1, n):
        if i in skip:
            continue
        move = logc[i]
        if abs(abs(move) - math.log(UNIT_FACTOR)) < UNIT_TOLERANCE:
            units.append(i)
            continue
        if ratio[i] != 1.0 and abs(move) > BIG_MOVE:
            unexplained.append(i)
            continue
        if score[i] <= threshold or move == 0.0:
            continue
        reverts = i + 1 < n and abs(move + logc[i + 1]) < REVERT_SHARE * abs(move)
        if reverts and abs(move) > TICK_MOVE:
            ticks.append(i)
            skip.add(i + 1)
            continue
        if abs(move) > BIG_MOVE and ratio[i] == 1.0:
            factor = float(np.exp(-move))  # the split ratio that would explain the move
            # A nearby recorded split, either way round (a misrecorded ratio is often inverted).
            near = [f for j in split_rows if abs(j - i) <= SPLIT_WINDOW
                    for f in (ratio[j], 1.0 / ratio[j])]
            if any(abs(factor / r - 1) <= SPLIT_NEAR for r in (*_SPLIT_FACTORS, *near)):
                unrecorded.append(i)

    if units:
        shown = ", ".join(f"x{math.exp(logc[i]):.4g} on {_day(frame, i)}" for i in units[:6])
        report.warn(
            "unit_jump",
            f"{symbol}: the close jumps about 100-fold ({shown}): a price-unit error "
            "(e.g. pence next to pounds) between these dates; check the source",
            [_day(frame, i) for i in units],
        )
    if unexplained:
        shown = ", ".join(
            f"{ratio[i]:g} on {_day(frame, i)} (close moved x{raw[i]:.3g}, "
            f"x{1 / ratio[i]:.3g} expected)" for i in unexplained[:6]
        )
        report.warn(
            "split_unexplained",
            f"{symbol}: recorded split(s) the price does not follow: {shown}; the split may "
            "be on the wrong day or have the wrong ratio",
            [_day(frame, i) for i in unexplained],
        )
    if ticks:
        shown = ", ".join(
            f"{_day(frame, i)} (x{math.exp(logc[i]):.3g}, back x{math.exp(logc[i + 1]):.3g} "
            "the next day)" for i in ticks[:6]
        )
        report.warn(
            "bad_tick",
            f"{symbol}: {len(ticks):,} one-day move(s) no stored action explains that revert "
            f"the next day, likely bad ticks: {shown}",
            [_day(frame, i) for i in ticks],
        )
    if unrecorded:
        shown = ", ".join(f"x{math.exp(logc[i]):.3g} on {_day(frame, i)}" for i in unrecorded[:6])
        report.warn(
            "unrecorded_split",
            f"{symbol}: move(s) near a split ratio with no split recorded that day: {shown}; "
            "if a split happened, import its Stock Splits (or Adj Close)",
            [_day(frame, i) for i in unrecorded],
        )

"""Adjusted prices, computed on read from raw prices plus the stored corporate actions.

Storing adjusted prices would silently rewrite history at every new dividend or split;
storing raw prices and adjusting on read keeps the stored rows stable (see FIELD-NOTES).

Back-adjustment (the standard method): a split of ratio ``r`` effective on day ``t`` divides
every price before ``t`` by ``r`` (and multiplies volume by ``r``); a dividend ``d`` going ex
on day ``t`` multiplies every price before ``t`` by ``1 - d / close[t-1]``. The factors
compound backwards, so the latest bar is always unchanged.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from core.errors import ValidationFailed
from core.market.frames import PRICE_COLUMNS

AdjustMode = Literal["raw", "split", "split_dividend"]
ADJUST_MODES: tuple[str, ...] = ("raw", "split", "split_dividend")


def check_adjust_mode(mode: str) -> AdjustMode:
    """Return ``mode`` if it is one of ``ADJUST_MODES`` or raise ``ValidationFailed``."""
    if mode not in ADJUST_MODES:
        raise ValidationFailed(f"unknown adjustment {mode!r}; use one of {', '.join(ADJUST_MODES)}")
    return mode  # type: ignore[return-value]


def _backward_factor(step: np.ndarray) -> np.ndarray:
    """factor[i] = product of step[j] for j > i (so the last row gets 1.0)."""
    rev = np.cumprod(step[::-1])[::-1]
    out = np.ones_like(step, dtype="float64")
    out[:-1] = rev[1:]
    return out


def adjust_prices(frame: pd.DataFrame, mode: str = "split") -> pd.DataFrame:
    """Return a copy of a canonical (date-sorted) frame with prices adjusted by ``mode``.

    ``raw`` returns prices as traded; ``split`` back-adjusts prices and volume for splits;
    ``split_dividend`` also back-adjusts prices for cash dividends (total-return style).

    >>> f = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
    ...     "open": [100.0, 50.0], "high": [100.0, 50.0], "low": [100.0, 50.0],
    ...     "close": [100.0, 50.0], "volume": [10, 20], "dividend": [0.0, 0.0],
    ...     "split_ratio": [1.0, 2.0]})
    >>> adjust_prices(f)["close"].tolist(), adjust_prices(f)["volume"].tolist()
    ([50.0, 50.0], [20, 20])
    """
    mode = check_adjust_mode(mode)
    out = frame.copy()
    if mode == "raw" or out.empty:
        return out
    ratio = out["split_ratio"].to_numpy(dtype="float64")
    ratio = np.where((ratio > 0) & np.isfinite(ratio), ratio, 1.0)
    split_factor = _backward_factor(1.0 / ratio)
    price_factor = split_factor.copy()
    if mode == "split_dividend":
        close = out["close"].to_numpy(dtype="float64")
        prev_close = np.concatenate([[np.nan], close[:-1]])
        div = out["dividend"].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            # The previous close is raw, as is the dividend; a split on the ex-day itself
            # would put them on different share bases, so bring prev_close onto today's.
            step = 1.0 - div / (prev_close / ratio)
        step = np.where(np.isfinite(step) & (step > 0) & (div > 0), step, 1.0)
        price_factor = price_factor * _backward_factor(step)
    for col in PRICE_COLUMNS:
        out[col] = out[col].to_numpy(dtype="float64") * price_factor
    out["dividend"] = out["dividend"].to_numpy(dtype="float64") * split_factor
    out["volume"] = np.rint(out["volume"].to_numpy(dtype="float64") / split_factor).astype("int64")
    return out

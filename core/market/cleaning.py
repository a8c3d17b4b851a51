"""Missing sessions and outliers: flag and fill explicitly, never delete.

Deleting an outlier breaks the trading-day index the models rely on and narrows their
intervals; a z-score on raw prices flags real split days and one on adjusted prices flags
real crashes. So outliers are scored on log returns with a robust (median/MAD) scale,
split days are explained away, and the volume on the day is recorded as evidence.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from core.errors import ValidationFailed
from core.market.calendar import TradingCalendar
from core.market.frames import PRICE_COLUMNS

OutlierPolicy = Literal["use", "winsorize", "exclude"]
OUTLIER_POLICIES: tuple[str, ...] = ("use", "winsorize", "exclude")
MAD_SCALE = 1.4826  # makes the MAD a consistent estimator of sigma for normal data
DEFAULT_THRESHOLD = 6.0
HIGH_VOLUME_MULTIPLE = 2.0


def check_outlier_policy(policy: str) -> OutlierPolicy:
    """Return ``policy`` if valid, else raise ``ValidationFailed`` naming the valid ones."""
    if policy not in OUTLIER_POLICIES:
        raise ValidationFailed(
            f"unknown outlier policy {policy!r}; use one of {', '.join(OUTLIER_POLICIES)}"
        )
    return policy  # type: ignore[return-value]


def fill_missing_sessions(frame: pd.DataFrame, calendar: TradingCalendar) -> pd.DataFrame:
    """Reindex a canonical frame onto every exchange session from its first to last date.

    A missing session gets the previous close as open/high/low/close, volume 0, no actions,
    and ``imputed=True``. Weekends and holidays are never invented; a stored bar on a day
    the calendar calls closed is kept as it is (it is real data).
    """
    out = frame.copy()
    if out.empty:
        out["imputed"] = pd.Series(dtype=bool)
        return out
    out = out.set_index("date")
    sessions = calendar.sessions(out.index[0], out.index[-1])
    index = sessions.union(pd.DatetimeIndex(out.index))
    imputed = ~index.isin(out.index)
    out = out.reindex(index)
    close = out["close"].ffill()
    for col in PRICE_COLUMNS:
        out[col] = out[col].fillna(close)
    if "volume" in out:
        out["volume"] = out["volume"].fillna(0).astype("int64")
    if "dividend" in out:
        out["dividend"] = out["dividend"].fillna(0.0)
    if "split_ratio" in out:
        out["split_ratio"] = out["split_ratio"].fillna(1.0)
    for col in out.columns:
        if col not in (*PRICE_COLUMNS, "volume", "dividend", "split_ratio"):
            out[col] = out[col].ffill()
    out["imputed"] = imputed
    out.index.name = "date"
    return out.reset_index()


def robust_z(values: np.ndarray) -> np.ndarray:
    """|x - median| / (1.4826 * MAD), NaN-aware; 0 where the scale is zero and x = median."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    median = np.median(finite)
    scale = MAD_SCALE * np.median(np.abs(finite - median))
    if scale == 0:
        scale = 1.2533 * np.mean(np.abs(finite - median))  # mean absolute deviation fallback
    dev = np.abs(values - median)
    if scale == 0:
        return np.where(dev > 0, np.inf, 0.0)
    return np.asarray(dev / scale, dtype="float64")


def rolling_robust_z(values: np.ndarray, window: int) -> np.ndarray:
    """Robust z against a centred rolling median/MAD (volatility changes over decades).

    Falls back to the whole-series median/MAD where the window is too short or flat.
    """
    global_z = robust_z(values)
    if window <= 0 or len(values) < 2 * 20:
        return global_z
    s = pd.Series(values)
    med = s.rolling(window, center=True, min_periods=20).median()
    mad = (s - med).abs().rolling(window, center=True, min_periods=20).median()
    scale = MAD_SCALE * mad
    local = ((s - med).abs() / scale).to_numpy(dtype="float64")
    usable = np.isfinite(local) & (scale.to_numpy() > 0)
    return np.where(usable, local, global_z)


def flag_outliers(
    frame: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD, *, window: int = 252
) -> pd.DataFrame:
    """Add ``outlier`` (bool), ``outlier_score`` (robust z) and ``outlier_reason`` columns.

    Scores the close-to-close log return against a centred rolling median/MAD over
    ``window`` sessions (0 = the whole series), so a calm decade does not make every move
    of a volatile one look extreme. On a split day the raw return is corrected by the
    split ratio first, so a 2-for-1 split (price halves) is explained, not an outlier (the
    reason says so when the raw move alone would have been flagged). A flagged move on volume
    at least twice its 20-day median is kept flagged but the reason notes it is more
    plausibly a real move. Rows are never removed.
    """
    if threshold <= 0:
        raise ValidationFailed(f"outlier threshold must be > 0, got {threshold!r}")
    out = frame.copy()
    n = len(out)
    out["outlier"] = np.zeros(n, dtype=bool)
    out["outlier_score"] = np.zeros(n, dtype="float64")
    out["outlier_reason"] = [""] * n
    if n < 3:
        return out
    close = out["close"].to_numpy(dtype="float64")
    raw_ret = np.concatenate([[np.nan], np.diff(np.log(close))])
    ratio = out["split_ratio"].to_numpy(dtype="float64") if "split_ratio" in out else np.ones(n)
    ratio = np.where((ratio > 0) & np.isfinite(ratio), ratio, 1.0)
    ret = raw_ret + np.log(ratio)
    score = rolling_robust_z(ret, window)
    raw_score = rolling_robust_z(raw_ret, window)
    score[0] = 0.0
    raw_score[0] = 0.0
    flagged = score > threshold
    reasons = [""] * n
    volume = out["volume"].to_numpy(dtype="float64") if "volume" in out else np.zeros(n)
    typical = (
        pd.Series(volume).rolling(20, min_periods=5).median().shift(1).to_numpy(dtype="float64")
    )
    for i in range(1, n):
        if flagged[i]:
            reason = f"log return {ret[i]:+.3f} is {score[i]:.1f} robust SDs from typical"
            if typical[i] > 0 and volume[i] >= HIGH_VOLUME_MULTIPLE * typical[i]:
                reason += (
                    f"; volume {volume[i] / typical[i]:.1f}x its 20-day median, "
                    "so more plausibly a real move"
                )
            reasons[i] = reason
        elif ratio[i] != 1.0 and raw_score[i] > threshold:
            reasons[i] = f"split day (ratio {ratio[i]:g}) explains the raw price move"
    out["outlier"] = flagged
    out["outlier_score"] = np.nan_to_num(score, nan=0.0, posinf=np.finfo("float64").max)
    out["outlier_reason"] = reasons
    return out


def apply_outlier_policy(
    series: pd.Series, flags: pd.Series | np.ndarray, policy: str
) -> pd.Series:
    """Apply an outlier policy to a price series; the index (trading days) is kept intact.

    - ``use``: values unchanged.
    - ``winsorize``: a flagged value becomes the previous value moved by the largest
      unflagged log return in the same direction (the move is capped, not removed).
    - ``exclude``: a flagged value is treated as missing and forward-filled (back-filled if
      it is the first value).
    """
    policy = check_outlier_policy(policy)
    mask = np.asarray(flags, dtype=bool)
    if len(mask) != len(series):
        raise ValidationFailed(
            f"outlier flags have {len(mask):,} entries but the series has {len(series):,}"
        )
    out = series.astype("float64").copy()
    if policy == "use" or not mask.any():
        return out
    if policy == "exclude":
        out[mask] = np.nan
        return out.ffill().bfill()
    values = out.to_numpy(dtype="float64").copy()
    ret = np.concatenate([[np.nan], np.diff(np.log(values))])
    clean = ret[~mask & np.isfinite(ret)]
    hi = float(clean.max()) if clean.size else 0.0
    lo = float(clean.min()) if clean.size else 0.0
    for i in np.flatnonzero(mask):
        if i == 0:
            continue
        # Rebuild from the (possibly already capped) previous value: local, no drift.
        r = float(np.log(series.iloc[i] / series.iloc[i - 1]))
        values[i] = values[i - 1] * float(np.exp(min(max(r, lo), hi)))
    return pd.Series(values, index=series.index, name=series.name)

"""Prepared price series: what the explorer and the modelling code read.

``load_series`` reads a symbol's raw bars, puts them on the exchange's sessions (marking
imputed days), flags outliers on split-corrected returns, adjusts prices on read and applies
the chosen outlier policy, all without dropping a trading day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from core.db.engine import Database
from core.errors import NotEnoughHistory, ValidationFailed
from core.market.adjust import adjust_prices, check_adjust_mode
from core.market.calendar import trading_calendar
from core.market.cleaning import (
    DEFAULT_THRESHOLD,
    apply_outlier_policy,
    check_outlier_policy,
    fill_missing_sessions,
    flag_outliers,
)
from core.market.frames import PRICE_COLUMNS
from core.market.store import read_bars, stored_symbols
from core.symbols import check_symbol


@dataclass(frozen=True)
class PreparedBars:
    """Bars on the exchange's sessions with adjusted prices and quality flags.

    ``frame`` columns: date, open, high, low, close, volume, dividend, split_ratio,
    imputed, outlier, outlier_score, outlier_reason.
    """

    symbol: str
    frame: pd.DataFrame
    adjust: str
    outlier_policy: str
    exchange: str

    @property
    def close(self) -> pd.Series:
        """Adjusted close indexed by trading date (the series the models fit)."""
        return pd.Series(
            self.frame["close"].to_numpy(),
            index=pd.DatetimeIndex(self.frame["date"]),
            name=self.symbol,
        )

    @property
    def n_imputed(self) -> int:
        return int(self.frame["imputed"].sum())

    @property
    def n_outliers(self) -> int:
        return int(self.frame["outlier"].sum())

    @property
    def first_date(self) -> dt.date:
        return pd.Timestamp(self.frame["date"].iloc[0]).date()

    @property
    def last_date(self) -> dt.date:
        return pd.Timestamp(self.frame["date"].iloc[-1]).date()


def load_series(
    db: Database,
    symbol: str,
    *,
    adjust: str = "split",
    outlier_policy: str = "use",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    exchange: str = "XNYS",
    outlier_threshold: float = DEFAULT_THRESHOLD,
    min_rows: int = 2,
) -> PreparedBars:
    """Stored bars for ``symbol`` prepared for display and modelling.

    Raises ``ValidationFailed`` for a bad symbol, adjustment or policy, or when nothing is
    stored for the symbol (naming the stored symbols), and ``NotEnoughHistory`` when fewer
    than ``min_rows`` trading days fall in the range.
    """
    symbol = check_symbol(symbol)
    adjust = check_adjust_mode(adjust)
    policy = check_outlier_policy(outlier_policy)
    calendar = trading_calendar(exchange)
    # Read from start but not up to end: back-adjustment depends on later actions, so the
    # whole tail is adjusted first and trimmed afterwards.
    raw = read_bars(db, symbol, start=start)
    if raw.empty:
        stored = stored_symbols(db)
        if symbol not in stored:
            listing = ", ".join(stored) if stored else "none"
            raise ValidationFailed(
                f"no stored data for {symbol}; stored symbols: {listing}; ingest it first"
            )
        raise NotEnoughHistory(f"{symbol} has no stored bars on or after {start}")
    filled = fill_missing_sessions(raw, calendar)
    # Real bars on days the calendar calls closed would break the trading-day index.
    filled = filled[filled["date"].isin(calendar.all_sessions)].reset_index(drop=True)
    flagged = flag_outliers(filled, threshold=outlier_threshold)
    flagged.loc[flagged["imputed"], ["outlier", "outlier_score"]] = [False, 0.0]
    frame = adjust_prices(flagged, adjust)
    if policy != "use":
        for col in PRICE_COLUMNS:
            frame[col] = apply_outlier_policy(frame[col], frame["outlier"], policy)
    if end is not None:
        frame = frame[frame["date"] <= pd.Timestamp(end)].reset_index(drop=True)
    if len(frame) < min_rows:
        raise NotEnoughHistory(
            f"needs at least {min_rows:,} trading days, {symbol} has {len(frame):,}"
            + (f" between {start} and {end}" if start or end else "")
        )
    return PreparedBars(symbol, frame, adjust, policy, exchange)

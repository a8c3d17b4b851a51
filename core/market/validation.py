"""Checks on a frame of daily bars before it is stored, and on stored history.

Errors block a write (the stored history stays as it was); warnings are recorded in the
ingest run's report and shown to the user. ``ValidationReport.to_dict()`` is what goes in
``ingest_runs.report``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.market.calendar import TradingCalendar
from core.market.frames import BAR_COLUMNS, PRICE_COLUMNS, canonical_bars, empty_bars
from core.market.moves import check_price_moves

REQUIRED_COLUMNS: tuple[str, ...] = ("date", "open", "high", "low", "close", "volume")
# Open/Close may sit outside High-Low by rounding only: up to max(0.5% of the price, 0.01)
# (a cent on a $2 stock, half a percent on a $1,000 one). Beyond that the bar is impossible.
OHLC_REL_TOLERANCE = 0.005
OHLC_ABS_TOLERANCE = 0.01
_MAX_DATES = 20  # dates listed per issue; the message gives the full count


@dataclass(frozen=True)
class Issue:
    """One finding: ``level`` is "error" (blocks the write), "warning", or "info" (what the
    import did on the user's behalf, e.g. actions inferred from Adj Close)."""

    level: Literal["error", "warning", "info"]
    code: str
    message: str
    dates: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "code": self.code,
            "message": self.message,
            "dates": list(self.dates),
        }


@dataclass
class ValidationReport:
    """All findings for one symbol's frame."""

    symbol: str = ""
    rows: int = 0
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing blocks the write (warnings allowed)."""
        return not self.errors

    def error(self, code: str, message: str, dates: Any = ()) -> None:
        self.issues.append(Issue("error", code, message, _date_strings(dates)))

    def warn(self, code: str, message: str, dates: Any = ()) -> None:
        self.issues.append(Issue("warning", code, message, _date_strings(dates)))

    @property
    def notes(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "info"]

    def note(self, code: str, message: str, dates: Any = ()) -> None:
        self.issues.append(Issue("info", code, message, _date_strings(dates)))

    def extend(self, other: ValidationReport) -> None:
        self.issues.extend(other.issues)

    def summary(self) -> str:
        """The error messages joined, for an exception or a status line."""
        return "; ".join(i.message for i in self.errors) or "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for ``ingest_runs.report``."""
        return {
            "symbol": self.symbol,
            "rows": self.rows,
            "ok": self.ok,
            "issues": [i.to_dict() for i in self.issues],
        }


def _date_strings(dates: Any) -> tuple[str, ...]:
    items = list(dates)[:_MAX_DATES]
    return tuple(str(pd.Timestamp(d).date()) if not isinstance(d, str) else d for d in items)


def _fmt_dates(dates: pd.Series | pd.DatetimeIndex | list[Any]) -> str:
    shown = ", ".join(_date_strings(dates)[:5])
    more = len(dates) - 5
    return shown + (f" and {more:,} more" if more > 0 else "")


def prepare_bars(
    frame: pd.DataFrame,
    symbol: str,
    *,
    calendar: TradingCalendar | None = None,
    today: dt.date | None = None,
    stale_sessions: int = 5,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Validate ``frame`` and return ``(canonical frame ready to store, report)``.

    The returned frame has identical duplicate dates dropped, rows with missing prices
    dropped, missing volume set to 0, and is sorted by date; it is empty when the report
    has errors. ``calendar`` enables the gap check; ``today`` enables the staleness check.
    """
    report = ValidationReport(symbol=symbol, rows=len(frame))
    if frame is None or len(frame) == 0:
        report.error("empty", f"no rows for {symbol}: there is nothing to store")
        return empty_bars(), report
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        report.error(
            "missing_columns",
            f"{symbol}: missing column(s) {', '.join(missing)}; "
            f"required: {', '.join(REQUIRED_COLUMNS)}",
        )
        return empty_bars(), report
    df = frame.copy()
    if "dividend" not in df:
        df["dividend"] = 0.0
    if "split_ratio" not in df:
        df["split_ratio"] = 1.0
    df = df[BAR_COLUMNS].reset_index(drop=True)

    # Unparseable values: present but not convertible (NaN cells are a separate warning).
    dates = pd.to_datetime(df["date"], errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    bad_dates = dates.isna() & df["date"].notna()
    if bad_dates.any():
        first = df.loc[bad_dates, "date"].iloc[0]
        report.error(
            "bad_dates",
            f"{symbol}: {int(bad_dates.sum()):,} unparseable date(s), first {first!r} "
            f"(row {int(np.flatnonzero(bad_dates)[0]) + 1}); use YYYY-MM-DD",
        )
    if dates.isna().any() and not bad_dates.all():
        missing_dates = dates.isna() & ~bad_dates
        if missing_dates.any():
            report.error(
                "missing_dates", f"{symbol}: {int(missing_dates.sum()):,} row(s) have no date"
            )
    df["date"] = dates.dt.normalize()
    for col in [*PRICE_COLUMNS, "volume", "dividend", "split_ratio"]:
        numbers = pd.to_numeric(df[col], errors="coerce")
        bad = numbers.isna() & df[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            report.error(
                "bad_numbers",
                f"{symbol}: column {col!r} has {int(bad.sum()):,} non-numeric value(s), "
                f"first {df[col].iloc[row]!r} on row {row + 1}",
            )
        df[col] = numbers.astype("float64")
    if report.errors:
        return empty_bars(), report

    # NaN cells: warn; rows without prices cannot be stored and are dropped.
    nan_prices = df[PRICE_COLUMNS].isna().any(axis=1)
    if nan_prices.any():
        report.warn(
            "nan_prices",
            f"{symbol}: {int(nan_prices.sum()):,} row(s) with missing prices dropped "
            f"({_fmt_dates(df.loc[nan_prices, 'date'])})",
            df.loc[nan_prices, "date"],
        )
        df = df[~nan_prices]
    nan_volume = df["volume"].isna()
    if nan_volume.any():
        report.warn(
            "nan_volume",
            f"{symbol}: {int(nan_volume.sum()):,} row(s) with missing volume stored as 0",
            df.loc[nan_volume, "date"],
        )
        df.loc[nan_volume, "volume"] = 0.0
    df["dividend"] = df["dividend"].fillna(0.0)
    df["split_ratio"] = df["split_ratio"].fillna(1.0)
    if df.empty:
        report.error("empty", f"{symbol}: every row lacks prices; there is nothing to store")
        return empty_bars(), report

    if not df["date"].is_monotonic_increasing:
        report.warn("unordered_dates", f"{symbol}: dates are not in order; sorted before storing")
    df = df.sort_values("date", kind="stable").reset_index(drop=True)

    dup_all = df.duplicated(subset=["date"], keep=False)
    if dup_all.any():
        identical = df.duplicated(keep="first")
        df = df[~identical].reset_index(drop=True)
        conflicting = df["date"][df.duplicated(subset=["date"], keep=False)].unique()
        if len(conflicting):
            report.error(
                "conflicting_duplicates",
                f"{symbol}: {len(conflicting):,} date(s) appear twice with different values "
                f"({_fmt_dates(list(conflicting))}); keep one row per date",
                conflicting,
            )
        if identical.any():
            report.warn(
                "duplicate_rows",
                f"{symbol}: {int(identical.sum()):,} identical duplicate row(s) dropped",
            )

    prices = df[PRICE_COLUMNS]
    nonpos = (prices <= 0).any(axis=1)
    if nonpos.any():
        report.error(
            "non_positive_price",
            f"{symbol}: {int(nonpos.sum()):,} row(s) with a price <= 0 "
            f"({_fmt_dates(df.loc[nonpos, 'date'])})",
            df.loc[nonpos, "date"],
        )
    inverted = df["high"] < df["low"]
    if inverted.any():
        report.error(
            "high_below_low",
            f"{symbol}: High < Low on {int(inverted.sum()):,} row(s) "
            f"({_fmt_dates(df.loc[inverted, 'date'])})",
            df.loc[inverted, "date"],
        )
    negvol = df["volume"] < 0
    if negvol.any():
        report.error(
            "negative_volume",
            f"{symbol}: negative volume on {int(negvol.sum()):,} row(s) "
            f"({_fmt_dates(df.loc[negvol, 'date'])})",
            df.loc[negvol, "date"],
        )
    badsplit = df["split_ratio"] <= 0
    if badsplit.any():
        report.error(
            "bad_split_ratio",
            f"{symbol}: split ratio must be > 0 (1.0 = no split), "
            f"{int(badsplit.sum()):,} row(s) are not",
            df.loc[badsplit, "date"],
        )
    if report.errors:
        return empty_bars(), report

    top = df[["open", "close"]].max(axis=1)
    bottom = df[["open", "close"]].min(axis=1)
    tolerance = np.maximum(OHLC_REL_TOLERANCE * df["close"], OHLC_ABS_TOLERANCE)
    beyond = (top - df["high"] > tolerance) | (df["low"] - bottom > tolerance)
    if beyond.any():
        report.error(
            "ohlc_impossible",
            f"{symbol}: Open/Close outside the High-Low range by more than rounding "
            f"(max(0.5% of the close, 0.01)) on {int(beyond.sum()):,} row(s) "
            f"({_fmt_dates(df.loc[beyond, 'date'])}); fix the file's prices",
            df.loc[beyond, "date"],
        )
        return empty_bars(), report
    outside = (df["high"] < top) | (df["low"] > bottom)
    if outside.any():
        report.warn(
            "ohlc_inconsistent",
            f"{symbol}: Open/Close outside the High-Low range by rounding on "
            f"{int(outside.sum()):,} row(s) ({_fmt_dates(df.loc[outside, 'date'])})",
            df.loc[outside, "date"],
        )
    _check_zero_volume(df, symbol, report)
    check_price_moves(df, symbol, report)
    if calendar is not None:
        _check_calendar(df, symbol, calendar, today, stale_sessions, report)
    return canonical_bars(df), report


def validate_bars(
    frame: pd.DataFrame,
    symbol: str,
    *,
    calendar: TradingCalendar | None = None,
    today: dt.date | None = None,
    stale_sessions: int = 5,
) -> ValidationReport:
    """Validate ``frame`` (see ``prepare_bars``) and return only the report."""
    return prepare_bars(
        frame, symbol, calendar=calendar, today=today, stale_sessions=stale_sessions
    )[1]


def _check_zero_volume(
    df: pd.DataFrame, symbol: str, report: ValidationReport, run: int = 3
) -> None:
    zero = (df["volume"] == 0).to_numpy()
    if not zero.any():
        return
    # Length of the zero run ending at each row; a run of `run` or more is suspicious.
    groups = np.cumsum(~zero)
    lengths = pd.Series(zero.astype(int)).groupby(groups).transform("sum").to_numpy()
    in_run = zero & (lengths >= run)
    if in_run.any():
        report.warn(
            "zero_volume_run",
            f"{symbol}: {int(in_run.sum()):,} bar(s) in runs of {run}+ days with zero volume "
            f"({_fmt_dates(df.loc[in_run, 'date'])})",
            df.loc[in_run, "date"],
        )


def _check_calendar(
    df: pd.DataFrame,
    symbol: str,
    calendar: TradingCalendar,
    today: dt.date | None,
    stale_sessions: int,
    report: ValidationReport,
) -> None:
    dates = pd.DatetimeIndex(df["date"])
    sessions = calendar.sessions(dates[0], dates[-1])
    missing = sessions.difference(dates)
    if len(missing):
        report.warn(
            "missing_sessions",
            f"{symbol}: {len(missing):,} {calendar.exchange} trading day(s) missing between "
            f"{dates[0].date()} and {dates[-1].date()} ({_fmt_dates(missing)})",
            missing,
        )
    extra = dates.difference(calendar.all_sessions)
    if len(extra):
        report.warn(
            "non_session_dates",
            f"{symbol}: {len(extra):,} bar(s) on days {calendar.exchange} was closed "
            f"({_fmt_dates(extra)})",
            extra,
        )
    if today is not None:
        behind = calendar.count_sessions(dates[-1], today)
        if behind > stale_sessions:
            report.warn(
                "stale",
                f"{symbol}: last bar {dates[-1].date()} is {behind:,} trading days before "
                f"{today}; more than {stale_sessions} means the data is stale",
            )

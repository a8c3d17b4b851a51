"""Parse an uploaded CSV of daily bars into the canonical frame, or say exactly what is wrong.

Accepted: a header with Date, Open, High, Low, Close, Volume in any order and any case,
with spaces/underscores/hyphens ignored ("adj_close" == "Adj Close"), optional Dividends /
Stock Splits columns, a UTF-8 byte-order mark, comma or semicolon delimiters (sniffed from
the header line), and decimal points. With a semicolon delimiter a decimal comma ("12,5")
is also accepted, because that is how spreadsheets in such locales save.

With both "Close" and "Adj Close", the raw Close is stored and the splits and dividends are
inferred from the ratio between the two (``core.market.actions``) and stored as the bars'
actions, so the adjusted series is recomputed on read; explicit Dividends / Stock Splits
columns win over inference, kind by kind. When "Close" is missing, "Adj Close" is used as the
close, since it is the only close the file has. Dates are read with one format for the whole
column (``core.market.dates``). Parsing never writes anything; the ingest use case stores
the result.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd

from core.errors import ValidationFailed
from core.market.actions import decimals, infer_actions
from core.market.calendar import TradingCalendar
from core.market.dates import parse_date_column
from core.market.validation import REQUIRED_COLUMNS, ValidationReport, prepare_bars

_ALIASES: dict[str, str] = {
    "date": "date",
    "datetime": "date",
    "timestamp": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
    "volume": "volume",
    "vol": "volume",
    "dividend": "dividend",
    "dividends": "dividend",
    "stocksplits": "split_ratio",
    "stocksplit": "split_ratio",
    "split": "split_ratio",
    "splitratio": "split_ratio",
}
_NUMERIC = ("open", "high", "low", "close", "adj_close", "volume", "dividend", "split_ratio")
_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$")


def _header_key(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(name).strip().lstrip("\ufeff")).lower()


def read_bars_csv(
    data: bytes,
    symbol: str = "upload",
    *,
    max_mb: float = 20.0,
    calendar: TradingCalendar | None = None,
    date_format: str | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Parse ``data`` and return ``(canonical frame, validation report with warnings)``.

    Raises ``ValidationFailed`` with a message naming the problem (and the column and line
    where it applies) for: an empty file, a file over ``max_mb``, missing columns, text in a
    numeric cell, unparseable dates, the same date twice with different values, and any
    other blocking validation error. ``date_format`` (strftime codes) overrides the
    column-wide date format decision (needed when every date is ambiguous).
    """
    size_mb = len(data) / (1024 * 1024)
    if len(data) > max_mb * 1024 * 1024:
        raise ValidationFailed(
            f"the file is {size_mb:.1f} MB; the upload limit is {max_mb:g} MB "
            "(UPLOAD_MAX_MB); split the file or import fewer years"
        )
    text = data.decode("utf-8-sig", errors="replace") if data else ""
    if not text.strip():
        raise ValidationFailed(
            "the file is empty; expected a header line Date,Open,High,Low,Close,Volume "
            "and one line per trading day"
        )
    header = text.lstrip().splitlines()[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            skip_blank_lines=True,
            keep_default_na=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValidationFailed(f"the file is not a readable CSV: {exc}") from None

    columns: dict[str, str] = {}
    for col in raw.columns:
        canon = _ALIASES.get(_header_key(col))
        if canon and canon not in columns.values():
            columns[col] = canon
    df = raw[list(columns)].rename(columns=columns)
    if "close" not in df and "adj_close" in df:
        df = df.rename(columns={"adj_close": "close"})
    explicit = {c for c in ("dividend", "split_ratio") if c in df}
    missing = [c for c in REQUIRED_COLUMNS if c not in df]
    if missing:
        found = ", ".join(str(c) for c in raw.columns) or "none"
        raise ValidationFailed(
            f"the file lacks column(s) {', '.join(m.title() for m in missing)}; required: "
            "Date, Open, High, Low, Close, Volume (found: " + found + ")"
        )
    if df.empty:
        raise ValidationFailed("the file has a header but no data rows")

    for col in _NUMERIC:
        if col not in df:
            continue
        cells = df[col].str.strip()
        if delimiter == ";":
            comma = cells.str.match(_DECIMAL_COMMA).fillna(False)
            cells = cells.where(~comma, cells.str.replace(",", ".", regex=False))
        numbers = pd.to_numeric(cells, errors="coerce")
        bad = numbers.isna() & cells.notna() & (cells != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValidationFailed(
                f"column {col.title()!r} has text where a number is expected: "
                f"{df[col].iloc[row]!r} on line {row + 2} "
                f"({int(bad.sum()):,} such cell(s)); use plain numbers with a decimal point"
            )
        df[col] = numbers
    if "split_ratio" in df:  # yfinance-style exports write 0 for "no split"
        df["split_ratio"] = df["split_ratio"].replace(0.0, 1.0)

    cells = df["date"].str.strip()
    empty = cells.isna() | (cells == "")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise ValidationFailed(f"column 'Date' is empty on line {row + 2}; every row needs a date")
    df["date"] = parse_date_column(cells, date_format).to_numpy()

    note = None
    if "adj_close" in df:
        note = _infer_actions(df, raw, columns, explicit)
        df = df.drop(columns=["adj_close"])
    frame, report = prepare_bars(df, symbol, calendar=calendar)
    if note:
        report.note("inferred_actions", note)
    if not report.ok:
        raise ValidationFailed(f"the file was not imported: {report.summary()}")
    return frame, report


def _infer_actions(
    df: pd.DataFrame, raw: pd.DataFrame, columns: dict[str, str], explicit: set[str]
) -> str | None:
    """Fill ``dividend`` / ``split_ratio`` from Close / Adj Close unless given explicitly.

    Returns the sentence for the ingest report, or None when nothing was inferred.
    """
    if explicit == {"dividend", "split_ratio"}:
        return None
    source = {v: k for k, v in columns.items()}
    order = np.argsort(df["date"].to_numpy(), kind="stable")
    rows = df.iloc[order]
    usable = rows["close"].notna() & rows["adj_close"].notna()
    rows = rows[usable]
    inferred = infer_actions(
        rows["date"], rows["close"].to_numpy(), rows["adj_close"].to_numpy(),
        close_decimals=decimals(raw[source["close"]]),
        adj_decimals=decimals(raw[source["adj_close"]]),
    )
    if "dividend" not in explicit:
        df["dividend"] = 0.0
        df.loc[rows.index, "dividend"] = inferred.dividend
    if "split_ratio" not in explicit:
        df["split_ratio"] = 1.0
        df.loc[rows.index, "split_ratio"] = inferred.split_ratio
    text = inferred.describe()
    if explicit:
        kept = " and ".join("Dividends" if c == "dividend" else "Stock Splits"
                            for c in sorted(explicit))
        text += f" (the file's {kept} column was used as given)"
    if inferred.unrecognised:
        odd = ", ".join(f"x{q:.3f} on {d.date()}" for d, q in inferred.unrecognised[:5])
        text += (f"; Close / Adj Close jumps that match no split ratio were not stored as "
                 f"actions: {odd}")
    return text


def parse_csv(data: bytes, *, max_mb: float = 20.0) -> pd.DataFrame:
    """Parse ``data`` into the canonical frame (see ``read_bars_csv``)."""
    return read_bars_csv(data, max_mb=max_mb)[0]

"""Read a date column with ONE format for the whole column, never one guess per value.

Parsing each value on its own stores ``01/09/2017`` (1 September, day-first) as 9 January
next to ``13/09/2017`` read day-first: a file silently spread over wrong dates and weekends.
So the column's format is decided first:

1. ISO (``2017-09-01``, optionally with a time and a UTC offset, as yfinance writes) when
   every value is ISO;
2. otherwise numeric ``a/b/year`` values (``/``, ``.`` or ``-``): if any value is only valid
   day-first (``13/09/2017``) the column is day-first; if any is only valid month-first,
   month-first; if every value could be either, the file is refused and the user must say;
3. values with month names (``01-Sep-2017``) are unambiguous and parsed as such.

A column mixing kinds (ISO and ``d/m/y``, or day-first-only and month-first-only values) is an
error naming the first rows that disagree. An explicit ``date_format`` (strftime codes, e.g.
``%d/%m/%Y``) skips the decision and is applied strictly.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from core.errors import ValidationFailed

DATE_FORMATS: dict[str, str] = {
    "%Y-%m-%d": "ISO (2017-09-01)",
    "%d/%m/%Y": "day first (01/09/2017 = 1 September)",
    "%m/%d/%Y": "month first (09/01/2017 = 1 September)",
}
_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T].*)?$")
_NUMERIC = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T].*)?$")
_ASK = (
    "pass --date-format (e.g. --date-format %d/%m/%Y for day first or %m/%d/%Y for month "
    "first) on the command line, or choose the date format in the import form"
)


def _line(i: int) -> int:
    return i + 2  # line 1 is the header


def parse_date_column(cells: pd.Series, date_format: str | None = None) -> pd.Series:
    """Parse stripped date strings (no empty cells) into midnight timestamps.

    Raises ``ValidationFailed`` naming the line for an unparseable value, the first rows of
    each kind in a mixed column, or asking for a format when every value is ambiguous.
    """
    values = cells.astype(str).str.strip().reset_index(drop=True)
    if date_format:
        parsed = pd.to_datetime(values, format=date_format, errors="coerce")
        bad = parsed.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValidationFailed(
                f"column 'Date' has {values.iloc[i]!r} on line {_line(i)}, which does not "
                f"match the date format {date_format!r} ({int(bad.sum()):,} such cell(s))"
            )
        return _naive(parsed)

    iso = values.str.match(_ISO)
    numeric = values.str.extract(_NUMERIC)
    is_num = numeric[0].notna()
    other = ~iso & ~is_num
    if other.any():  # neither ISO nor d/m/y: a spelled-out date, or not a date at all
        _strict(values[other], pd.to_datetime(values[other], errors="coerce", format="mixed"))
    if iso.all():
        return _strict(values, _iso_dates(values))
    if iso.any() and (~iso).any():
        i, j = int(np.flatnonzero(iso)[0]), int(np.flatnonzero(~iso)[0])
        raise ValidationFailed(
            "column 'Date' mixes date formats: line "
            f"{_line(i)} has {values.iloc[i]!r} (ISO) but line {_line(j)} has "
            f"{values.iloc[j]!r}; use one format for the whole column (YYYY-MM-DD)"
        )
    if is_num.any() and (~is_num).any():
        i, j = int(np.flatnonzero(is_num)[0]), int(np.flatnonzero(~is_num)[0])
        raise ValidationFailed(
            "column 'Date' mixes date formats: line "
            f"{_line(i)} has {values.iloc[i]!r} but line {_line(j)} has {values.iloc[j]!r}; "
            "use one format for the whole column (YYYY-MM-DD)"
        )
    if not is_num.any():  # month names or other spelled-out dates: unambiguous per value
        return _strict(values, pd.to_datetime(values, errors="coerce", format="mixed"))

    a, b = numeric[0].astype(int), numeric[2].astype(int)
    year = numeric[3].astype(int)
    year = year.where(numeric[3].str.len() == 4, 2000 + year)
    year = year.where(year <= pd.Timestamp.today().year + 1, year - 100)  # '85 -> 1985
    day_first_only = (a > 12) & (b <= 12)
    month_first_only = (b > 12) & (a <= 12)
    if day_first_only.any() and month_first_only.any():
        i = int(np.flatnonzero(day_first_only)[0])
        j = int(np.flatnonzero(month_first_only)[0])
        raise ValidationFailed(
            f"column 'Date' mixes date formats: line {_line(i)} ({values.iloc[i]!r}) can only "
            f"be day first, line {_line(j)} ({values.iloc[j]!r}) only month first; "
            "use one format for the whole column"
        )
    if day_first_only.any():
        day, month = a, b
    elif month_first_only.any():
        day, month = b, a
    else:
        raise ValidationFailed(
            f"every date in column 'Date' could be day first or month first (e.g. "
            f"{values.iloc[0]!r}); the file was not imported. To say which, {_ASK}"
        )
    parsed = pd.to_datetime(
        pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce"
    )
    return _strict(values, parsed)


def _iso_dates(values: pd.Series) -> pd.Series:
    parts = values.str.extract(_ISO).astype(int)
    return pd.to_datetime(
        pd.DataFrame({"year": parts[0], "month": parts[1], "day": parts[2]}), errors="coerce"
    )


def _strict(values: pd.Series, parsed: pd.Series) -> pd.Series:
    bad = parsed.isna()
    if bad.any():
        i = int(values.index[np.flatnonzero(bad.to_numpy())[0]])  # labels = row positions
        raise ValidationFailed(
            f"column 'Date' has an unparseable date {values.loc[i]!r} on line {_line(i)} "
            f"({int(bad.sum()):,} such cell(s)); use YYYY-MM-DD"
        )
    return _naive(parsed)


def _naive(parsed: pd.Series) -> pd.Series:
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.dt.normalize()

"""One way to show a table: thousands separators, "-" for a missing value, dates without
"00:00:00", prices with the decimals the price needs.

``styled`` returns a pandas ``Styler``: ``st.dataframe`` shows its display text while the
numbers underneath stay numbers (a column still sorts as numbers, not as text). Pure
functions, no Streamlit calls.

>>> price(85.1234), price(0.01234), price(12345.5)
('85.12', '0.01234', '12,345.50')
>>> horizon_label(1), horizon_label(5)
('1 day', '5 days')
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

MISSING = "-"
# Column names read as prices wherever they appear (forecast tables, ledgers, bars).
PRICE_COLUMNS = frozenset({
    "open", "high", "low", "close", "mean", "lo80", "hi80", "lo95", "hi95", "naive",
    "actual", "predicted", "last close", "price",
})


def is_missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def price_decimals(values: Iterable[float]) -> int:
    """Decimals a price column needs: two from 1 up, more below 1 so four significant
    digits show (a 0.0123 penny price is not "0.01")."""
    finite = [abs(float(v)) for v in values if not is_missing(v) and float(v) != 0.0]
    if not finite:
        return 2
    typical = float(np.median(finite))
    if typical >= 1:
        return 2
    return min(8, max(2, 3 - math.floor(math.log10(typical))))


def price(value: float | None, decimals: int | None = None) -> str:
    """A price with thousands separators and the decimals it needs."""
    if is_missing(value):
        return MISSING
    assert value is not None
    places = price_decimals([value]) if decimals is None else decimals
    return f"{float(value):,.{places}f}"


def number(value: object) -> str:
    """A count or a measure: integers with separators, floats with 2 decimals from 1 up and
    3 significant digits below (an RMSE of 0.0042 is not "0.00")."""
    if is_missing(value):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if v == 0 or abs(v) >= 1:
            return f"{v:,.2f}"
        return f"{v:,.{max(2, 2 - math.floor(math.log10(abs(v))))}f}"
    return str(value)


def day(value: object) -> str:
    """A date as YYYY-MM-DD; a timestamp keeps its time only when it has one."""
    if is_missing(value):
        return MISSING
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d}"
    return str(value)


def text(value: object) -> str:
    return MISSING if is_missing(value) or value == "" else str(value)


def naive_verdict(ratio: float) -> str:
    """How an MAE ratio to naive reads as shown (two decimals): a ratio that rounds to 1.00
    is level with naive, not "better" (an ARIMA(0,1,0) champion is the naive forecast).

    >>> naive_verdict(0.998), naive_verdict(0.97), naive_verdict(1.02)
    ('level with naive', 'better than naive', 'worse than naive')
    """
    shown = round(ratio, 2)
    if shown > 1.0:
        return "worse than naive"
    return "better than naive" if shown < 1.0 else "level with naive"


def horizon_label(days: int) -> str:
    """``1 day``, ``5 days``: for headings such as "Mean in 1 day"."""
    return f"{days:,} day" if days == 1 else f"{days:,} days"


def _column_formatter(name: str, series: pd.Series) -> Callable[[Any], str] | None:
    if pd.api.types.is_bool_dtype(series):
        return None  # st.dataframe draws booleans as check boxes
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = pd.DatetimeIndex(series.dropna())
        with_time = bool(len(stamps)) and bool((stamps != stamps.normalize()).any())
        return (lambda v: MISSING if is_missing(v) else f"{pd.Timestamp(v):%Y-%m-%d %H:%M}") \
            if with_time else day
    if str(name).lower() in PRICE_COLUMNS and pd.api.types.is_numeric_dtype(series):
        places = price_decimals(series.to_numpy(dtype="float64", na_value=np.nan))
        return lambda v: price(v, places)
    if pd.api.types.is_integer_dtype(series):
        return number
    if pd.api.types.is_float_dtype(series):
        values = series.dropna()
        if len(values) and bool((values == values.round()).all()) and str(name).lower() in (
            "days", "rows", "n", "forecasts", "step", "id", "model"
        ):
            return lambda v: MISSING if is_missing(v) else f"{int(v):,}"
        return number
    # object columns: dates, numbers stored as objects (AIC with None), text
    sample = next((v for v in series if not is_missing(v)), None)
    if isinstance(sample, dt.date | pd.Timestamp):
        return day
    if isinstance(sample, float | int | np.number) and not isinstance(sample, bool):
        return number
    return text


def formatters(frame: pd.DataFrame, *, prices: Iterable[str] = ()
               ) -> dict[Any, Callable[[Any], str]]:
    """The formatter of each column of ``frame`` (booleans keep their check boxes)."""
    extra = {str(c).lower() for c in prices}
    out: dict[Any, Callable[[Any], str]] = {}
    for name in frame.columns:
        series = frame[name]
        if str(name).lower() in extra and pd.api.types.is_numeric_dtype(series):
            places = price_decimals(series.to_numpy(dtype="float64", na_value=np.nan))
            out[name] = lambda v, p=places: price(v, p)  # type: ignore[misc]
            continue
        formatter = _column_formatter(str(name), series)
        if formatter is not None:
            out[name] = formatter
    return out


def styled(frame: pd.DataFrame, *, prices: Iterable[str] = ()) -> Styler:
    """``frame`` for ``st.dataframe``: every column formatted by its kind. ``prices`` names
    extra columns to format as prices (beside the usual open/high/low/close/mean/bands)."""
    return frame.style.format(formatters(frame, prices=prices), na_rep=MISSING)


def display_text(frame: pd.DataFrame, *, prices: Iterable[str] = ()) -> pd.DataFrame:
    """The text ``styled`` shows, as a frame of strings."""
    funcs = formatters(frame, prices=prices)
    return pd.DataFrame({name: [funcs[name](v) if name in funcs else text(v)
                                for v in frame[name].tolist()] for name in frame.columns},
                        index=frame.index)

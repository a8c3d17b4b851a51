"""A date column is read with one format for the whole column, never one guess per value."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import ValidationFailed
from core.market.csv_import import read_bars_csv
from core.market.dates import parse_date_column


def _csv(dates: list[str]) -> bytes:
    lines = ["Date,Open,High,Low,Close,Volume"]
    lines += [f"{d},10,11,9,10.5,100" for d in dates]
    return ("\n".join(lines) + "\n").encode()


def _iso(series: pd.Series) -> list[str]:
    return list(pd.DatetimeIndex(series).strftime("%Y-%m-%d"))


def test_one_day_first_only_value_makes_the_column_day_first() -> None:
    # 01/09/2017 parsed on its own would be 9 January; 13/09/2017 says the column is day first.
    got = parse_date_column(pd.Series(["01/09/2017", "04/09/2017", "13/09/2017"]))
    assert _iso(got) == ["2017-09-01", "2017-09-04", "2017-09-13"]


def test_month_first_column() -> None:
    got = parse_date_column(pd.Series(["09/01/2017", "09/13/2017"]))
    assert _iso(got) == ["2017-09-01", "2017-09-13"]


def test_iso_with_time_and_offset_keeps_the_local_date() -> None:
    got = parse_date_column(pd.Series(["2022-05-09 00:00:00+01:00", "2022-05-10 00:00:00+01:00"]))
    assert _iso(got) == ["2022-05-09", "2022-05-10"]


def test_all_ambiguous_is_refused_asking_for_a_format() -> None:
    with pytest.raises(ValidationFailed, match="could be day first or month first") as err:
        read_bars_csv(_csv(["01/09/2017", "04/09/2017", "05/09/2017"]))
    assert "--date-format" in str(err.value) and "import form" in str(err.value)


def test_an_explicit_format_settles_an_ambiguous_file() -> None:
    frame, _ = read_bars_csv(_csv(["01/09/2017", "05/09/2017"]), date_format="%d/%m/%Y")
    assert _iso(frame["date"]) == ["2017-09-01", "2017-09-05"]


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        pytest.param(["2017-09-01", "04/09/2017"], r"line 2 has '2017-09-01' \(ISO\) but line 3",
                     id="iso-and-slashes"),
        pytest.param(["13/09/2017", "09/14/2017"],
                     r"line 2 \('13/09/2017'\) can only be day first, line 3 \('09/14/2017'\)",
                     id="day-first-and-month-first"),
        pytest.param(["31/02/2017", "13/09/2017"], r"unparseable date '31/02/2017' on line 2",
                     id="impossible-day"),
        pytest.param(["2017-09-01", "someday"], r"unparseable date 'someday' on line 3",
                     id="not-a-date"),
    ],
)
def test_bad_columns_name_the_rows(dates: list[str], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        read_bars_csv(_csv(dates))


def test_a_wrong_explicit_format_names_the_line() -> None:
    with pytest.raises(ValidationFailed, match=r"'13/09/2017' on line 3.*'%m/%d/%Y'"):
        read_bars_csv(_csv(["01/09/2017", "13/09/2017"]), date_format="%m/%d/%Y")

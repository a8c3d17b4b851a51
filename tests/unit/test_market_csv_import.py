"""CSV uploads: tolerant headers and delimiters, clear messages for bad files."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from core.market.csv_import import parse_csv, read_bars_csv

GOOD = (
    "Date,Open,High,Low,Close,Adj Close,Volume\n"
    "2024-01-02,10.0,11.0,9.5,10.5,10.1,1000\n"
    "2024-01-03,10.5,11.5,10.0,11.0,10.6,1200\n"
    "2024-01-04,11.0,11.2,10.8,11.1,10.7,900\n"
)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(GOOD.encode(), id="plain"),
        pytest.param(b"\xef\xbb\xbf" + GOOD.encode(), id="utf8-bom"),
        pytest.param(GOOD.replace(",", ";").encode(), id="semicolons"),
        pytest.param(
            GOOD.replace(",", ";").replace(".", ",").encode(), id="semicolons-decimal-comma"
        ),
        pytest.param(
            GOOD.replace(
                "Date,Open,High,Low,Close,Adj Close,Volume",
                " date , OPEN,high,Low ,close,adj_close, Volume",
            ).encode(),
            id="messy-headers",
        ),
        pytest.param(
            "\n".join(",".join(reversed(line.split(","))) for line in GOOD.splitlines()).encode(),
            id="columns-in-any-order",
        ),
    ],
)
def test_accepted_files(data: bytes) -> None:
    frame = parse_csv(data)
    assert frame["close"].tolist() == [10.5, 11.0, 11.1]  # Close, not Adj Close
    assert frame["volume"].tolist() == [1000, 1200, 900]
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert frame["split_ratio"].eq(1.0).all() and frame["dividend"].eq(0.0).all()


def test_adj_close_is_used_only_when_close_is_missing() -> None:
    # Low 10.6 on the last day: with Adj Close as the close, Low 10.8 would make the bar
    # impossible (Close below Low beyond rounding), which blocks the import.
    data = GOOD.replace(",Close,", ",Unused,").replace("11.2,10.8", "11.2,10.6").encode()
    assert parse_csv(data)["close"].tolist() == [10.1, 10.6, 10.7]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "the file is empty", id="empty"),
        pytest.param(b"\n\n  \n", "the file is empty", id="blank-lines"),
        pytest.param(b"Date,Open,High,Low,Close,Volume\n", "no data rows", id="header-only"),
        pytest.param(
            b"Date,Open,Close\n2024-01-02,1,2\n",
            r"lacks column\(s\) High, Low, Volume; required: Date, Open, High, Low, Close, Volume",
            id="missing-columns",
        ),
        pytest.param(
            GOOD.replace("11.5", "eleven").encode(),
            r"column 'High' has text where a number is expected: 'eleven' on line 3",
            id="text-in-numbers",
        ),
        pytest.param(
            GOOD.replace("2024-01-03", "yesterday").encode(),
            r"unparseable date 'yesterday' on line 3",
            id="bad-date",
        ),
        pytest.param(
            (GOOD + "2024-01-03,10.5,11.5,10.0,99.0,10.6,1200\n").encode(),
            r"appear twice with different values \(2024-01-03\)",
            id="conflicting-duplicate-dates",
        ),
        pytest.param(
            GOOD.replace("9.5,10.5", "12.0,10.5").encode(),
            r"High < Low",
            id="high-below-low",
        ),
    ],
)
def test_rejected_files_say_why(data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        parse_csv(data)


def test_identical_duplicate_rows_are_dropped_with_a_warning() -> None:
    data = (GOOD + GOOD.splitlines()[2] + "\n").encode()
    frame, report = read_bars_csv(data, "MSFT")
    assert len(frame) == 3
    assert any(i.code == "duplicate_rows" for i in report.warnings)


def test_over_size_limit_names_size_and_limit() -> None:
    data = GOOD.encode() + b"#" * (1024 * 1024)
    with pytest.raises(ValidationFailed, match=r"1\.0 MB; the upload limit is 0\.5 MB"):
        parse_csv(data, max_mb=0.5)


def test_yfinance_style_export_with_actions() -> None:
    data = (
        b"Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n"
        b"2024-01-02,10,11,9,10,100,0.0,0.0\n"
        b"2024-01-03,5,6,4,5,200,0.1,2.0\n"
    )
    frame = parse_csv(data)
    assert frame["split_ratio"].tolist() == [1.0, 2.0]
    assert frame["dividend"].tolist() == [0.0, 0.1]

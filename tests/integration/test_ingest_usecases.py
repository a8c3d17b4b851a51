"""Ingest use cases end to end on SQLite and PostgreSQL, with yfinance faked."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from curl_cffi.requests.exceptions import DNSError
from sqlalchemy import func, select

from core.auth import SYSTEM, VIEWER, Actor
from core.db.engine import Database
from core.db.models.market import Bar, IngestRun
from core.errors import DatabaseUnavailable, NotEnoughHistory, PermissionDenied, ValidationFailed
from core.market import ingest as ingest_module
from core.market.calendar import trading_calendar
from core.market.ingest import ingest_csv, ingest_sample, ingest_yahoo, validate_stored
from core.market.series import load_series
from core.market.store import list_symbols, read_bars
from core.settings import Settings
from tests.unit.test_market_fakes import FakeClient, empty_download, history_frame

NOW = dt.datetime(2024, 6, 7, 21, 30, tzinfo=dt.UTC)  # after the close in New York


def _days(n: int, end: str = "2024-06-07") -> list[str]:
    sessions = trading_calendar().sessions("2023-01-01", end)[-n:]
    return [str(d.date()) for d in sessions]


def yahoo_like(days: list[str], close: list[float] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    """A fake client serving ``days`` from whatever start it is asked for."""
    frame = history_frame(days, close or [100.0 + i for i in range(len(days))], **kw)  # type: ignore[arg-type]

    def serve(symbol: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        out = frame
        if start is not None:
            out = out[out.index.tz_localize(None) >= pd.Timestamp(start)]
        return out

    return serve


def _runs(db: Database) -> list[IngestRun]:
    with db.read() as s:
        return list(s.scalars(select(IngestRun).order_by(IngestRun.id)))


def _bar_count(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Bar)) or 0)


def test_first_ingest_then_incremental_with_a_revision(db: Database, settings: Settings) -> None:
    days = _days(40)
    first = ingest_yahoo(
        db,
        settings,
        ["msft"],
        start=dt.date(2024, 1, 1),
        client=FakeClient(yahoo_like(days)),
        now=NOW, actor=SYSTEM,
    )
    assert first.ok and first.inserted == 40
    close = [100.0 + i for i in range(40)]
    close[-2] += 1.0  # Yahoo revised yesterday's close
    client = FakeClient(yahoo_like(days, close))
    again = ingest_yahoo(db, settings, ["MSFT"], client=client, now=NOW, actor=SYSTEM)
    assert again.ok
    # Refetch starts revision_days (5) sessions before the last stored date.
    assert client.calls[0][1] == dt.date.fromisoformat(days[-1 - settings.revision_days])
    result = again.results[0]
    assert (result.counts.inserted, result.counts.updated) == (0, 1)
    assert read_bars(db, "MSFT")["close"].iloc[-2] == close[-2]
    runs = _runs(db)
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert runs[-1].rows_updated == 1 and runs[-1].report is not None
    assert list_symbols(db)[0].last_ingest_status == "succeeded"


def test_one_failing_symbol_does_not_stop_the_others(db: Database, settings: Settings) -> None:
    good = yahoo_like(_days(10))

    def serve(symbol: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        if symbol == "BAD":
            raise DNSError("Could not resolve host: query2.finance.yahoo.com")
        if symbol == "GONE":
            return empty_download("GONE")
        return good(symbol, start, end)

    progress: list[tuple[float, str]] = []
    summary = ingest_yahoo(
        db,
        settings,
        "AAPL,BAD,GONE,MSFT",
        start=dt.date(2024, 1, 1),
        client=FakeClient(serve),
        now=NOW,
        progress=lambda f, t: progress.append((f, t)), actor=SYSTEM,
    )
    assert [r.symbol for r in summary.succeeded] == ["AAPL", "MSFT"]
    assert [r.symbol for r in summary.failed] == ["BAD", "GONE"]
    assert "unreachable" in summary.failed[0].message
    assert "empty result" in summary.failed[1].message
    assert progress[-1][0] == 1.0
    statuses = {r.symbol: r.status for r in _runs(db)}
    assert statuses == {"AAPL": "succeeded", "BAD": "failed", "GONE": "failed", "MSFT": "succeeded"}
    assert "BAD:" in summary.describe()


@pytest.mark.parametrize(
    "symbol",
    [
        pytest.param("MSFT'; DROP TABLE bars;--", id="sql-injection"),
        pytest.param("../../etc", id="path-traversal"),
    ],
)
def test_injection_like_symbols_are_rejected(db: Database, settings: Settings, symbol: str) -> None:
    ingest_sample(db, actor=SYSTEM)
    client = FakeClient(yahoo_like(_days(5)))
    summary = ingest_yahoo(db, settings, [symbol], client=client, now=NOW, actor=SYSTEM)
    assert not summary.ok and "is not a valid symbol" in summary.failed[0].message
    assert client.calls == []
    assert _bar_count(db) == 7983
    with pytest.raises(ValidationFailed, match="not a valid symbol"):
        ingest_csv(db, settings, symbol, b"Date,Open,High,Low,Close,Volume\n", actor=SYSTEM)


def test_failure_mid_ingest_leaves_history_unchanged(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = _days(10)
    ingest_yahoo(
        db,
        settings,
        ["MSFT"],
        start=dt.date(2024, 1, 1),
        client=FakeClient(yahoo_like(days)),
        now=NOW, actor=SYSTEM,
    )
    before = read_bars(db, "MSFT")

    def crash(*args: object, **kwargs: object) -> int:
        raise DatabaseUnavailable("the database went away mid-ingest")

    monkeypatch.setattr(ingest_module, "_record_success", crash)
    revised = yahoo_like(days, [500.0 + i for i in range(10)])
    summary = ingest_yahoo(db, settings, ["MSFT"], client=FakeClient(revised), now=NOW,
                           actor=SYSTEM)
    assert not summary.ok and "went away" in summary.failed[0].message
    pd.testing.assert_frame_equal(read_bars(db, "MSFT"), before)
    assert _runs(db)[-1].status == "failed"


def test_invalid_download_is_not_stored(db: Database, settings: Settings) -> None:
    days = _days(5)
    broken = yahoo_like(days, [100.0, 101.0, -1.0, 103.0, 104.0])
    summary = ingest_yahoo(
        db, settings, ["MSFT"], start=dt.date(2024, 1, 1), client=FakeClient(broken), now=NOW,
        actor=SYSTEM,
    )
    assert not summary.ok and "price <= 0" in summary.failed[0].message
    assert _bar_count(db) == 0
    run = _runs(db)[-1]
    assert run.status == "failed" and run.report and run.report["ok"] is False


def test_sample_ingest_and_if_empty(db: Database) -> None:
    assert ingest_sample(db, actor=SYSTEM).inserted == 7983
    skipped = ingest_sample(db, if_empty=True, actor=SYSTEM)
    assert skipped.results[0].status == "skipped" and _bar_count(db) == 7983
    assert ingest_sample(db, actor=SYSTEM).results[0].counts.unchanged == 7983


GOOD_CSV = (
    "Date;Open;High;Low;Close;Volume\n"
    "2024-01-02;10,0;11,0;9,5;10,5;1000\n"
    "2024-01-03;10,5;11,5;10,0;11,0;1200\n"
).encode("utf-8-sig")


def test_csv_ingest_stores_and_records(db: Database, settings: Settings) -> None:
    summary = ingest_csv(db, settings, "acme", GOOD_CSV, actor=Actor("alice", "analyst"))
    assert summary.ok and summary.inserted == 2
    assert read_bars(db, "ACME")["close"].tolist() == [10.5, 11.0]
    run = _runs(db)[-1]
    assert (run.source, run.status, run.created_by) == ("csv", "succeeded", "alice")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"Date,Close\n2024-01-02,1\n", "lacks column", id="missing-columns"),
        pytest.param(
            b"Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,x,5\n",
            "text where a number",
            id="text-in-numbers",
        ),
        pytest.param(
            b"Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,5\n2024-01-02,1,2,1,3,5\n",
            "appear twice",
            id="duplicated-dates",
        ),
        pytest.param(
            b"Date,Open,High,Low,Close,Volume\n2024-01-03,10,11,9,10.5,5\n2024-01-04,10,11,9,12,5\n",
            "by more than rounding",
            id="close-far-above-high",
        ),
        pytest.param(
            b"Date,Open,High,Low,Close,Volume\n03/01/2024,10,11,9,10.5,5\n04/01/2024,10,11,9,11,5\n",
            "could be day first or month first",
            id="all-ambiguous-dates",
        ),
    ],
)
def test_bad_csv_stores_nothing(
    db: Database, settings: Settings, data: bytes, message: str
) -> None:
    ingest_csv(db, settings, "ACME", GOOD_CSV, actor=SYSTEM)
    summary = ingest_csv(db, settings, "ACME", data, actor=SYSTEM)
    assert not summary.ok and message in summary.failed[0].message
    assert read_bars(db, "ACME")["close"].tolist() == [10.5, 11.0]
    assert _runs(db)[-1].status == "failed"


def test_day_first_file_is_stored_on_the_right_dates(db: Database, settings: Settings) -> None:
    data = (
        b"Date,Open,High,Low,Close,Volume\n01/09/2017,10,11,9,10.5,5\n"
        b"04/09/2017,10,11,9,10.6,5\n13/09/2017,10,11,9,10.7,5\n"
    )
    assert ingest_csv(db, settings, "ACME", data, actor=SYSTEM).ok
    stored = read_bars(db, "ACME")["date"].dt.strftime("%Y-%m-%d").tolist()
    assert stored == ["2017-09-01", "2017-09-04", "2017-09-13"]


def test_ambiguous_file_with_a_date_format(db: Database, settings: Settings) -> None:
    data = b"Date,Open,High,Low,Close,Volume\n01/09/2017,10,11,9,10.5,5\n04/09/2017,10,11,9,11,5\n"
    assert ingest_csv(db, settings, "ACME", data, date_format="%m/%d/%Y", actor=SYSTEM).ok
    stored = read_bars(db, "ACME")["date"].dt.strftime("%Y-%m-%d").tolist()
    assert stored == ["2017-01-09", "2017-04-09"]


def test_london_symbol_gets_the_london_calendar(db: Database, settings: Settings) -> None:
    from pathlib import Path

    from core.market.listing import exchange_for

    data = (Path(__file__).resolve().parents[1] / "data" / "yfinance"
            / "AET-L-1d-100x-error.csv").read_bytes()
    summary = ingest_csv(db, settings, "AET.L", data, actor=SYSTEM)
    assert summary.ok and exchange_for(db, "AET.L") == "XLON"
    report = summary.results[0].report
    assert report is not None
    codes = {i.code for i in report.warnings}
    assert "unit_jump" in codes and "missing_sessions" not in codes  # the Jubilee holidays
    assert {i["code"] for i in _runs(db)[-1].report["issues"]} >= {"unit_jump"}  # stored
    stored = validate_stored(db, "AET.L")
    assert "unit_jump" in {i.code for i in stored.warnings}
    assert "missing_sessions" not in {i.code for i in stored.warnings}
    # overridden at import: the same file against New York misses the Jubilee days
    again = ingest_csv(db, settings, "AET.L", data, exchange="XNYS", actor=SYSTEM)
    assert exchange_for(db, "AET.L") == "XNYS"
    assert "missing_sessions" in {i.code for i in again.results[0].report.warnings}  # type: ignore[union-attr]


def test_unknown_exchange_is_refused(db: Database, settings: Settings) -> None:
    with pytest.raises(ValidationFailed, match="unknown exchange 'MOON'"):
        ingest_csv(db, settings, "ACME", GOOD_CSV, exchange="moon", actor=SYSTEM)


def test_bundled_samples_all_load_as_samples(db: Database) -> None:
    from core.market.listing import is_sample, symbol_rows
    from core.market.sample import SAMPLE_SYMBOLS

    summary = ingest_sample(db, symbols=SAMPLE_SYMBOLS, actor=SYSTEM)
    assert summary.ok and [r.symbol for r in summary.results] == ["MSFT", "AAPL", "GOOG", "IBM"]
    aapl = next(r for r in summary.results if r.symbol == "AAPL")
    assert "inferred 2 split(s): 2:1 on 2000-06-21, 2:1 on 2005-02-28" in aapl.message
    bars = read_bars(db, "AAPL")
    assert bars.loc[bars["split_ratio"] != 1.0, "split_ratio"].tolist() == [2.0, 2.0]
    rows = symbol_rows(db)
    assert all(rows[s].sample and rows[s].exchange == "XNYS" for s in SAMPLE_SYMBOLS)
    assert is_sample(db, "IBM")
    again = ingest_sample(db, if_empty=True, symbols=SAMPLE_SYMBOLS, actor=SYSTEM)
    assert {r.status for r in again.results} == {"skipped"}


def test_oversize_csv_names_size_and_limit(db: Database, tmp_path: object) -> None:
    small = Settings.from_env({"UPLOAD_MAX_MB": "0.001"})
    summary = ingest_csv(db, small, "ACME", GOOD_CSV * 20, actor=SYSTEM)
    assert "upload limit is 0.001 MB" in summary.failed[0].message
    assert _bar_count(db) == 0


def test_validate_stored(db: Database) -> None:
    ingest_sample(db, actor=SYSTEM)
    report = validate_stored(db, "MSFT", trading_calendar(), today=dt.date(2017, 11, 13))
    assert report.ok
    assert {i.code for i in report.warnings} == {"missing_sessions"}
    missing = validate_stored(db, "AAPL")
    assert not missing.ok and "stored symbols: MSFT" in missing.errors[0].message


def test_load_series_adjusts_flags_and_fills(db: Database, settings: Settings) -> None:
    days = _days(60)
    # Yahoo shows pre-split bars already halved, so its series is continuous.
    yahoo_close = [100.0 + i * 0.1 for i in range(60)]
    frame = yahoo_like(days, yahoo_close, splits={days[40]: 2.0})
    ingest_yahoo(
        db, settings, ["MSFT"], start=dt.date(2023, 1, 1), client=FakeClient(frame), now=NOW,
        actor=SYSTEM,
    )
    raw = read_bars(db, "MSFT")
    assert raw["close"].iloc[39] == pytest.approx(2 * yahoo_close[39])  # stored as traded
    # delete one day to exercise filling
    with db.begin() as s:
        s.query(Bar).filter(Bar.date == dt.date.fromisoformat(days[10])).delete()
    prepared = load_series(db, "msft", adjust="split", outlier_policy="exclude")
    assert len(prepared.frame) == 60 and prepared.n_imputed == 1
    assert prepared.close.iloc[39] == pytest.approx(yahoo_close[39])  # split-adjusted
    assert not prepared.frame.loc[40, "outlier"]  # the split is explained
    raw_series = load_series(db, "MSFT", adjust="raw")
    assert raw_series.close.iloc[39] == pytest.approx(2 * yahoo_close[39])
    with pytest.raises(ValidationFailed, match="no stored data for XYZ; stored symbols: MSFT"):
        load_series(db, "XYZ")
    with pytest.raises(NotEnoughHistory, match="needs at least 100 trading days"):
        load_series(db, "MSFT", min_rows=100)
    with pytest.raises(ValidationFailed, match="use, winsorize, exclude"):
        load_series(db, "MSFT", outlier_policy="drop")


def test_a_viewer_cannot_ingest_and_changes_no_row(db: Database, settings: Settings) -> None:
    """The role check is in core, not only in hidden buttons: every ingest use case refuses
    a viewer before it fetches, parses or writes anything (no bars, no ingest run)."""
    ingest_sample(db, actor=SYSTEM)
    before = read_bars(db, "MSFT")
    runs = len(_runs(db))
    client = FakeClient(yahoo_like(_days(5)))
    with pytest.raises(PermissionDenied, match="viewer and may not ingest market data"):
        ingest_sample(db, actor=VIEWER)
    with pytest.raises(PermissionDenied, match="viewer"):
        ingest_yahoo(db, settings, ["MSFT"], client=client, now=NOW, actor=VIEWER)
    with pytest.raises(PermissionDenied, match="viewer"):
        ingest_csv(db, settings, "ACME", GOOD_CSV, actor=VIEWER)
    assert client.calls == []
    pd.testing.assert_frame_equal(read_bars(db, "MSFT"), before)
    assert [s.symbol for s in list_symbols(db)] == ["MSFT"]
    assert len(_runs(db)) == runs

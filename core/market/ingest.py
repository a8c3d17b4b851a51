"""Ingest use cases: Yahoo (incremental), the bundled sample, CSV uploads, and re-validation.

Each symbol is its own unit of work: fetch/parse outside any transaction, validate, then
one transaction that upserts the bars and records a succeeded ``IngestRun``. If anything
fails, that transaction rolls back (stored history stays exactly as it was) and a failed
``IngestRun`` with the error and the validation report is recorded in a transaction of its
own. One failing symbol never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.auth import Actor, require_analyst
from core.db.engine import Database
from core.db.models.market import IngestRun
from core.errors import CoreError, DatabaseUnavailable, ValidationFailed
from core.market.calendar import TradingCalendar, trading_calendar
from core.market.csv_import import read_bars_csv
from core.market.listing import check_exchange, exchange_for, record_symbol
from core.market.sample import (
    BOKEH_SYMBOLS,
    SAMPLE_SOURCE,
    SAMPLE_SYMBOL,
    bundled_csv,
    load_sample_bars,
)
from core.market.store import (
    UpsertCounts,
    last_date,
    read_bars,
    stored_symbols,
    upsert_bars_session,
)
from core.market.validation import ValidationReport, prepare_bars, validate_bars
from core.market.yahoo import EXCHANGE_TZ, YahooClient, fetch_yahoo
from core.settings import Settings
from core.symbols import check_symbol

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
DEFAULT_YEARS = 10


@dataclass
class SymbolResult:
    """The outcome for one symbol of one ingest."""

    symbol: str
    source: str
    status: str  # "succeeded" | "failed" | "skipped"
    message: str
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    report: ValidationReport | None = None
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass
class IngestSummary:
    """Per-symbol outcomes of one ingest call, for the CLI, the UI and the scheduler."""

    source: str
    results: list[SymbolResult] = field(default_factory=list)

    @property
    def succeeded(self) -> list[SymbolResult]:
        return [r for r in self.results if r.status == "succeeded"]

    @property
    def failed(self) -> list[SymbolResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def inserted(self) -> int:
        return sum(r.counts.inserted for r in self.results)

    @property
    def updated(self) -> int:
        return sum(r.counts.updated for r in self.results)

    def describe(self) -> str:
        """One line per symbol, e.g. ``MSFT: succeeded - 12 new, 3 revised, 2,508 unchanged``."""
        return "\n".join(f"{r.symbol}: {r.status} - {r.message}" for r in self.results)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record_failure(
    db: Database,
    *,
    symbol: str,
    source: str,
    started_at: dt.datetime,
    error: str,
    report: ValidationReport | None,
    created_by: str,
) -> int | None:
    """Record a failed run in its own transaction; never raises (the DB may be the problem)."""
    try:
        with db.begin() as session:
            run = IngestRun(
                symbol=symbol,
                source=source,
                started_at=started_at,
                finished_at=_utcnow(),
                rows_inserted=0,
                rows_updated=0,
                status="failed",
                error=error,
                report=report.to_dict() if report is not None else None,
                created_by=created_by,
            )
            session.add(run)
            session.flush()
            return int(run.id)
    except DatabaseUnavailable as exc:
        log.error("could not record the failed ingest of %s: %s", symbol, exc)
        return None


def _record_success(
    session: Any,
    *,
    symbol: str,
    source: str,
    started_at: dt.datetime,
    counts: UpsertCounts,
    report: ValidationReport,
    created_by: str,
) -> int:
    run = IngestRun(
        symbol=symbol,
        source=source,
        started_at=started_at,
        finished_at=_utcnow(),
        rows_inserted=counts.inserted,
        rows_updated=counts.updated,
        status="succeeded",
        error=None,
        report=report.to_dict(),
        created_by=created_by,
    )
    session.add(run)
    session.flush()
    return int(run.id)


def store_validated(
    db: Database,
    symbol: str,
    frame: pd.DataFrame,
    source: str,
    *,
    calendar: TradingCalendar | None,
    today: dt.date | None,
    created_by: str,
    started_at: dt.datetime | None = None,
    notes: list[str] | None = None,
    exchange: str | None = None,
    default_exchange: str = "XNYS",
    carried: ValidationReport | None = None,
) -> SymbolResult:
    """Validate ``frame`` and store it for ``symbol`` in one transaction, recording the run.

    Blocking validation errors or a database failure give a failed result (and a failed
    run row when the database is reachable); the stored history is then unchanged. The
    symbol's row (exchange, sample flag) is written in the same transaction; ``exchange``
    overrides the stored or suffix-derived one. ``carried`` holds findings of an earlier
    step (the CSV parser's notes) that go into the run's report as they are.
    """
    started_at = started_at or _utcnow()
    clean, report = prepare_bars(frame, symbol, calendar=calendar, today=today)
    for note in notes or []:
        report.warn("source", note)
    if carried is not None:
        seen = {(i.code, i.message) for i in report.issues}
        report.issues.extend(i for i in carried.issues if (i.code, i.message) not in seen)

    def failed(message: str) -> SymbolResult:
        run_id = _record_failure(db, symbol=symbol, source=source, started_at=started_at,
                                 error=message, report=report, created_by=created_by)
        return SymbolResult(symbol, source, "failed", message, report=report, run_id=run_id)

    if not report.ok:
        return failed(f"nothing stored: {report.summary()}")
    try:
        with db.begin() as session:
            counts = upsert_bars_session(session, symbol, clean, source)
            record_symbol(session, symbol, source, exchange=exchange, default=default_exchange)
            run_id = _record_success(
                session,
                symbol=symbol,
                source=source,
                started_at=started_at,
                counts=counts,
                report=report,
                created_by=created_by,
            )
    except CoreError as exc:
        return failed(f"nothing stored: {exc}")
    warn = f"; {len(report.warnings)} warning(s)" if report.warnings else ""
    told = "".join(f"; {i.message}" for i in report.notes)
    message = (
        f"{counts.inserted:,} new, {counts.updated:,} revised, {counts.unchanged:,} unchanged"
        f"{warn}{told}"
    )
    return SymbolResult(symbol, source, "succeeded", message, counts, report, run_id)


def incremental_start(
    last: dt.date | None,
    calendar: TradingCalendar,
    *,
    revision_days: int,
    start: dt.date | None,
    today: dt.date,
) -> dt.date:
    """Where to start fetching: ``revision_days`` sessions before the last stored date
    (Yahoo revises recent bars, volume especially), else ``start``, else 10 years ago."""
    if last is not None:
        sessions = calendar.all_sessions
        pos = int(sessions.searchsorted(pd.Timestamp(last), side="left"))
        day = sessions[max(pos - revision_days, 0)].date()
        return max(day, start) if start is not None and start > day else day
    if start is not None:
        return start
    return (pd.Timestamp(today) - pd.DateOffset(years=DEFAULT_YEARS)).date()


def ingest_yahoo(
    db: Database,
    settings: Settings,
    symbols: list[str] | str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    client: YahooClient | None = None,
    progress: Progress | None = None,
    *,
    actor: Actor,
    sleep: Callable[[float], None] = time.sleep,
    now: dt.datetime | None = None,
) -> IngestSummary:
    """Fetch daily bars from Yahoo and store them, one transaction per symbol.

    Incremental: a symbol with stored bars is refetched from ``settings.revision_days``
    sessions before its last stored date; otherwise from ``start`` (default 10 years ago).
    The fetch always runs to today so Yahoo's split adjustment can be undone exactly; bars
    after ``end`` are then discarded. ``progress(fraction, text)`` is called per symbol.
    Only analysts may ingest (``PermissionDenied`` for a viewer, before anything is fetched).
    """
    require_analyst(actor, "ingest market data")
    created_by = actor.name
    summary = IngestSummary(source="yahoo")
    items = [s for s in symbols.split(",")] if isinstance(symbols, str) else list(symbols)
    items = [s for s in items if not (isinstance(s, str) and not s.strip())]
    if not items:
        raise ValidationFailed("at least one symbol is required, e.g. MSFT,AAPL")
    calendar = trading_calendar(settings.exchange)
    now = now or _utcnow()
    today = now.astimezone(EXCHANGE_TZ).date()  # the exchange's date, not UTC's
    for i, raw in enumerate(items):
        if progress is not None:
            progress(i / len(items), f"fetching {raw} ({i + 1}/{len(items)})")
        started_at = _utcnow()
        try:
            symbol = check_symbol(raw)
        except ValidationFailed as exc:
            summary.results.append(SymbolResult(str(raw), "yahoo", "failed", str(exc)))
            continue
        if any(r.symbol == symbol for r in summary.results):
            continue
        try:
            fetch_from = incremental_start(
                last_date(db, symbol),
                calendar,
                revision_days=settings.revision_days,
                start=start,
                today=today,
            )
            notes: list[str] = []
            frame = fetch_yahoo(
                symbol,
                fetch_from,
                None,
                client=client,
                max_retries=settings.yahoo_max_retries,
                backoff_seconds=settings.yahoo_backoff_seconds,
                sleep=sleep,
                now=now,
                warnings=notes,
            )
        except CoreError as exc:
            run_id = _record_failure(
                db,
                symbol=symbol,
                source="yahoo",
                started_at=started_at,
                error=str(exc),
                report=None,
                created_by=created_by,
            )
            summary.results.append(SymbolResult(symbol, "yahoo", "failed", str(exc), run_id=run_id))
            continue
        if end is not None:
            frame = frame[frame["date"] <= pd.Timestamp(end)].reset_index(drop=True)
        summary.results.append(
            store_validated(
                db,
                symbol,
                frame,
                "yahoo",
                calendar=trading_calendar(exchange_for(db, symbol, settings.exchange)),
                today=today,
                created_by=created_by,
                started_at=started_at,
                notes=notes,
                default_exchange=settings.exchange,
            )
        )
    if progress is not None:
        progress(1.0, f"done: {len(summary.succeeded)} succeeded, {len(summary.failed)} failed")
    return summary


def ingest_sample(
    db: Database,
    *,
    actor: Actor,
    if_empty: bool = False,
    symbols: tuple[str, ...] | list[str] = (SAMPLE_SYMBOL,),
) -> IngestSummary:
    """Store bundled histories (source "sample"; see ``core.market.sample``).

    ``symbols`` picks from ``SAMPLE_SYMBOLS``: MSFT (pmdarima, already adjusted) is stored as
    is; AAPL, GOOG and IBM (bokeh-sampledata) go through the CSV import, so their splits
    and dividends are inferred from Close / Adj Close and stored as actions. With
    ``if_empty`` a symbol that already has bars is skipped (first-run seeding). Only
    analysts may ingest.
    """
    from core.market.store import stored_symbols as _stored

    require_analyst(actor, "ingest market data")
    created_by = actor.name
    summary = IngestSummary(source=SAMPLE_SOURCE)
    present = set(_stored(db)) if if_empty else set()
    calendar = trading_calendar("XNYS")  # every bundled symbol is a US stock
    for symbol in symbols:
        if symbol in present:
            summary.results.append(
                SymbolResult(symbol, SAMPLE_SOURCE, "skipped", "bars already stored")
            )
            continue
        started_at = _utcnow()
        carried = None
        if symbol == SAMPLE_SYMBOL:
            frame = load_sample_bars()
        elif symbol in BOKEH_SYMBOLS:
            frame, carried = read_bars_csv(bundled_csv(symbol), symbol, calendar=calendar)
        else:
            raise ValidationFailed(
                f"{symbol} is not bundled; bundled symbols: {SAMPLE_SYMBOL}, "
                + ", ".join(BOKEH_SYMBOLS)
            )
        summary.results.append(
            store_validated(
                db,
                symbol,
                frame,
                SAMPLE_SOURCE,
                calendar=calendar,
                today=None,
                created_by=created_by,
                started_at=started_at,
                exchange="XNYS",
                carried=carried,
            )
        )
    return summary


def ingest_csv(
    db: Database,
    settings: Settings,
    symbol: str,
    data: bytes,
    *,
    actor: Actor,
    date_format: str | None = None,
    exchange: str | None = None,
) -> IngestSummary:
    """Parse an uploaded CSV and store it as ``symbol`` (source "csv").

    The file is checked against the calendar of ``exchange`` (default: the symbol's stored
    exchange, else its Yahoo suffix, else ``settings.exchange``), which is stored for the
    symbol. ``date_format`` (strftime codes) is needed when every date is ambiguous.
    An invalid symbol or exchange raises ``ValidationFailed`` (nothing to record it under);
    a bad file gives a failed result with the parser's message, recorded as a failed run.
    Only analysts may ingest (a viewer is refused before the file is read).
    """
    require_analyst(actor, "ingest market data")
    created_by = actor.name
    symbol = check_symbol(symbol)
    if exchange:
        exchange = check_exchange(exchange.strip().upper())
    summary = IngestSummary(source="csv")
    started_at = _utcnow()
    calendar = trading_calendar(exchange or exchange_for(db, symbol, settings.exchange))
    try:
        frame, report = read_bars_csv(
            data, symbol, max_mb=settings.upload_max_mb, calendar=calendar,
            date_format=date_format,
        )
    except ValidationFailed as exc:
        message = f"nothing stored: {exc}"
        run_id = _record_failure(
            db,
            symbol=symbol,
            source="csv",
            started_at=started_at,
            error=message,
            report=None,
            created_by=created_by,
        )
        summary.results.append(SymbolResult(symbol, "csv", "failed", message, run_id=run_id))
        return summary
    result = store_validated(
        db,
        symbol,
        frame,
        "csv",
        calendar=None,
        today=None,
        created_by=created_by,
        started_at=started_at,
        exchange=calendar.exchange,
        default_exchange=settings.exchange,
        carried=report,
    )
    summary.results.append(result)
    return summary


def validate_stored(
    db: Database,
    symbol: str,
    calendar: TradingCalendar | None = None,
    today: dt.date | None = None,
) -> ValidationReport:
    """Re-run the checks on a symbol's stored history (CLI ``validate``, the explorer)."""
    symbol = check_symbol(symbol)
    frame = read_bars(db, symbol)
    if frame.empty:
        stored = ", ".join(stored_symbols(db)) or "none"
        report = ValidationReport(symbol=symbol)
        report.error(
            "no_data", f"no stored data for {symbol}; stored symbols: {stored}; ingest it first"
        )
        return report
    calendar = calendar or trading_calendar(exchange_for(db, symbol))
    return validate_bars(frame, symbol, calendar=calendar, today=today)

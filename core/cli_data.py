"""CLI subcommands for market data: ingest, symbols, validate."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli import date_arg, print_json
from core.errors import ValidationFailed


def _cmd_ingest(args: argparse.Namespace) -> int:
    from core.auth import SYSTEM
    from core.context import open_context
    from core.market import ingest
    from core.symbols import check_symbol, check_symbols

    ctx = open_context()
    if args.source == "sample":
        from core.market.sample import SAMPLE_SYMBOLS

        summary = ingest.ingest_sample(ctx.db, actor=SYSTEM, if_empty=args.if_empty,
                                       symbols=SAMPLE_SYMBOLS)
    elif args.source == "csv":
        if not args.file:
            raise ValidationFailed("--source csv needs --file PATH and --symbols SYMBOL")
        if not args.symbols:
            raise ValidationFailed("--source csv needs --symbols SYMBOL (the CSV's ticker)")
        symbol = check_symbol(args.symbols)
        try:
            data = Path(args.file).read_bytes()
        except OSError as exc:
            raise ValidationFailed(f"cannot read {args.file}: {exc.strerror}") from None
        summary = ingest.ingest_csv(ctx.db, ctx.settings, symbol, data, actor=SYSTEM,
                                    date_format=args.date_format, exchange=args.exchange)
    else:
        symbols = check_symbols(args.symbols or "MSFT")
        summary = ingest.ingest_yahoo(
            ctx.db, ctx.settings, symbols, start=args.start, end=args.end,
            actor=SYSTEM,
        )
    print(summary.describe())
    return 0 if summary.ok else 1


def _cmd_symbols(args: argparse.Namespace) -> int:
    from core.context import open_context
    from core.market.store import list_symbols

    ctx = open_context()
    rows = list_symbols(ctx.db)
    if args.json:
        print_json([r.__dict__ for r in rows])
        return 0
    if not rows:
        print("no symbols stored; run `python -m core ingest --source sample`")
        return 0
    from core.market.listing import symbol_rows
    from core.symbols import exchange_from_suffix

    info = symbol_rows(ctx.db)
    print(f"{'symbol':<10}{'exchange':<10}{'first':<12}{'last':<12}{'rows':>8}  last ingest")
    for r in rows:
        status = r.last_ingest_status or "-"
        when = f" {r.last_ingest_at:%Y-%m-%d %H:%M}" if r.last_ingest_at else ""
        row = info.get(r.symbol)
        exchange = row.exchange if row else exchange_from_suffix(r.symbol, ctx.settings.exchange)
        sample = " (bundled sample)" if row is not None and row.sample else ""
        print(f"{r.symbol:<10}{exchange:<10}{r.first_date!s:<12}{r.last_date!s:<12}"
              f"{r.rows:>8,}  {status}{when}{sample}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from core.context import open_context
    from core.market import ingest
    from core.market.calendar import trading_calendar
    from core.market.listing import exchange_for
    from core.symbols import check_symbol

    ctx = open_context()
    symbol = check_symbol(args.symbol)
    calendar = trading_calendar(exchange_for(ctx.db, symbol, ctx.settings.exchange))
    report = ingest.validate_stored(ctx.db, symbol, calendar)
    if args.json:
        print_json(report.to_dict())
        return 0 if report.ok else 1
    print(f"{symbol}: {report.rows:,} rows, {len(report.errors)} errors, "
          f"{len(report.warnings)} warnings")
    for issue in report.issues:
        print(f"  {issue.level:<8}{issue.code:<22}{issue.message}")
    return 0 if report.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="load daily bars from Yahoo, the bundled sample or a CSV")
    p.add_argument("--source", choices=("yahoo", "sample", "csv"), default="yahoo")
    p.add_argument("--symbols", help="comma-separated, e.g. MSFT,AAPL (for csv: the one symbol)")
    p.add_argument("--file", help="CSV file for --source csv")
    p.add_argument("--start", type=date_arg, help="first date, YYYY-MM-DD")
    p.add_argument("--end", type=date_arg, help="last date (inclusive), YYYY-MM-DD")
    p.add_argument("--if-empty", action="store_true",
                   help="with --source sample: skip bundled symbols that already have bars")
    p.add_argument("--date-format", dest="date_format",
                   help="with --source csv: the Date column's strftime format, e.g. %%d/%%m/%%Y "
                        "(needed when every date could be day first or month first)")
    p.add_argument("--exchange",
                   help="with --source csv: the exchange_calendars code the symbol trades on "
                        "(default: from the Yahoo suffix, e.g. .L = XLON, else EXCHANGE)")
    p.set_defaults(func=_cmd_ingest)

    s = sub.add_parser("symbols", help="what is stored: first/last date, rows, last ingest")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_symbols)

    v = sub.add_parser("validate", help="validation report of a stored series")
    v.add_argument("--symbol", required=True)
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_cmd_validate)

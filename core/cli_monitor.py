"""CLI subcommands for monitoring: schedule (worker), run-daily, run-weekly, replay, ledger,
alerts, drift, calibrate-drift."""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from core.cli import date_arg, print_json


def _num(value: Any, fmt: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def _day(value: Any) -> str:
    return str(value)[:10]


def _clean(value: Any) -> Any:
    """JSON-friendly scalars: NaN -> None, numpy -> Python, timestamps -> ISO text."""
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@contextmanager
def _stop_on_ctrl_c() -> Iterator[list[bool]]:
    """The first Ctrl-C asks the replay to stop after the current day; a second one aborts."""
    flag = [False]
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if flag[0]:
            raise KeyboardInterrupt
        flag[0] = True
        print("stopping after the current day (Ctrl-C again to abort it)", file=sys.stderr)

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (e.g. called from a test runner thread)
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _cmd_replay(args: argparse.Namespace) -> int:
    from core.context import open_context
    from core.monitor.daily import DriftSettings
    from core.monitor.replay import replay

    ctx = open_context()
    options = json.loads(args.options) if args.options else None

    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:>4.0%}] {message}", flush=True)

    with _stop_on_ctrl_c() as flag:
        summary = replay(
            ctx.db, ctx.settings, args.symbol, args.start, args.end, kind=args.model,
            options=options, horizon=args.horizon, retrain_weekday=args.retrain_weekday,
            train_days=args.train_days, drift=DriftSettings(detector=args.detector),
            progress=None if args.quiet else progress, should_stop=lambda: flag[0],
            into_production=args.into_production,
        )  # fmt: skip
    if args.json:
        print_json(summary.to_dict())
    else:
        print(summary.describe())
        if summary.stopped:
            print(
                f"resume with: python -m core replay --symbol {summary.symbol} "
                f"--start {summary.start} --end {summary.end} --horizon {args.horizon}"
                + (" --into-production" if args.into_production else "")
            )
        if not summary.into_production:
            print(f"browse it with: DATABASE_URL={summary.database} streamlit run dashboard/app.py")
    return 0


def _cmd_ledger(args: argparse.Namespace) -> int:
    from core.context import open_context
    from core.monitor.ledger import ledger_frame
    from core.symbols import check_symbol

    ctx = open_context()
    symbol = check_symbol(args.symbol)
    with ctx.db.read() as session:
        frame = ledger_frame(session, symbol, issued_by=args.issued_by)
    frame = frame.sort_values(["data_date", "step"]).tail(args.limit)
    cols = ["model_version_id", "issued_by", "data_date", "target_date", "step", "mean",
            "lo80", "hi80", "naive", "actual", "error", "naive_error"]  # fmt: skip
    if args.json:
        records = frame[cols].to_dict("records")
        print_json([{c: _clean(v) for c, v in row.items()} for row in records])
        return 0
    if frame.empty:
        print(f"no forecasts logged for {symbol}; make one or run `python -m core replay`")
        return 0
    print(f"{'model':>5} {'by':<9} {'data':<11} {'target':<11} {'h':>2} {'mean':>9} "
          f"{'80% interval':>19} {'naive':>9} {'actual':>9} {'error':>8} {'naive err':>9}")
    for r in frame[cols].to_dict("records"):
        interval = f"{r['lo80']:.2f}..{r['hi80']:.2f}"
        print(
            f"{r['model_version_id']:>5} {r['issued_by']:<9} {_day(r['data_date']):<11} "
            f"{_day(r['target_date']):<11} {r['step']:>2} {r['mean']:>9.2f} {interval:>19} "
            f"{r['naive']:>9.2f} {_num(r['actual']):>9} {_num(r['error']):>8} "
            f"{_num(r['naive_error']):>9}"
        )
    return 0


def _cmd_alerts(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from core.context import open_context
    from core.db.models import Alert
    from core.symbols import check_symbol

    ctx = open_context()
    stmt = select(Alert).order_by(Alert.id.desc()).limit(args.limit)
    if args.symbol:
        stmt = stmt.where(Alert.symbol == check_symbol(args.symbol))
    with ctx.db.read() as session:
        rows = list(session.scalars(stmt))
    fields = ["id", "symbol", "rule", "severity", "status", "as_of", "opened_at", "resolved_at",
              "value", "threshold", "message"]  # fmt: skip
    if args.json:
        print_json([{f: _clean(getattr(a, f)) for f in fields} for a in rows])
        return 0
    if not rows:
        print("no alerts")
        return 0
    for a in rows:
        resolved = f" resolved {a.resolved_at:%Y-%m-%d}" if a.resolved_at else ""
        print(f"#{a.id:<5} {a.symbol or '*':<6} {a.status:<8} {a.as_of!s:<11} {a.rule:<16} "
              f"{a.message}{resolved}")
    return 0


def _cmd_drift(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from core.context import open_context
    from core.db.models import DriftEvent
    from core.symbols import check_symbol

    ctx = open_context()
    symbol = check_symbol(args.symbol)
    with ctx.db.read() as session:
        rows = list(session.scalars(
            select(DriftEvent).where(DriftEvent.symbol == symbol).order_by(DriftEvent.date)
        ))  # fmt: skip
    fields = ["id", "symbol", "kind", "detector", "date", "statistic", "action", "model_version_id",
              "details", "created_at"]  # fmt: skip
    if args.json:
        print_json([{f: _clean(getattr(e, f)) for f in fields} for e in rows])
        return 0
    if not rows:
        print(f"no drift events for {symbol}")
        return 0
    for e in rows:
        print(f"{e.date!s:<11} {e.kind:<10} {e.detector:<6} statistic "
              f"{_num(e.statistic, '.4g'):>9}  {e.action:<15} model {e.model_version_id}")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from core.monitor.calibration import calibrate_bundled, calibrate_symbol

    report = calibrate_bundled(sigma=args.sigma)
    own = None
    if args.symbol:
        from core.context import open_context

        own = calibrate_symbol(open_context().db, args.symbol, factor=args.factor)
    if args.json:
        print_json({"bundled": report.to_dict(), "symbol": own.to_dict() if own else None})
        return 0
    print(report.describe())
    if own is not None:
        print()
        print(own.describe())
    return 0


def _symbols_arg(raw: str | None) -> list[str]:
    return [s.strip().upper() for s in (raw or "").split(",") if s.strip()]


def _resolve_symbols(ctx: Any, raw: str | None) -> list[str]:
    from core.market.store import stored_symbols

    names = _symbols_arg(raw) or list(ctx.settings.watchlist) or stored_symbols(ctx.db)
    if not names:
        raise SystemExit("error: no symbols: pass --symbols, set WATCHLIST or ingest data first")
    return names


def _cmd_schedule(args: argparse.Namespace) -> int:
    """The ``worker`` process: block on the daily/weekly cron (see core.scheduler)."""
    import logging

    from core.context import open_context
    from core.scheduler import PipelineScheduler, ScheduleConfig, next_runs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ctx = open_context()
    config = ScheduleConfig.from_env(ctx.settings)
    if args.symbols:
        config = ScheduleConfig(config.tz, config.daily, config.retrain_day,
                                config.retrain_time, tuple(_symbols_arg(args.symbols)))
    scheduler = PipelineScheduler(ctx.db, ctx.settings, config)
    if args.dry_run:
        from core.db.base import utcnow

        plan = next_runs(scheduler.build(), utcnow(), n=args.dry_run)
        print_json({k: [t.isoformat() for t in v] for k, v in plan.items()})
        return 0
    scheduler.start()
    return 0


def _cmd_run_daily(args: argparse.Namespace) -> int:
    from core.context import open_context
    from core.pipeline import run_daily

    ctx = open_context()
    run = run_daily(ctx.db, ctx.settings, _resolve_symbols(ctx, args.symbols), as_of=args.as_of,
                    horizon=args.horizon, send_report=not args.no_report)
    print_json(run.to_dict())
    return 1 if run.failed_symbols else 0


def _cmd_run_weekly(args: argparse.Namespace) -> int:
    from core.context import open_context
    from core.pipeline import run_weekly_retrain

    ctx = open_context()
    run = run_weekly_retrain(ctx.db, ctx.settings, _resolve_symbols(ctx, args.symbols),
                             backend=args.backend, address=args.address)
    print_json(run.to_dict())
    return 1 if run.failed_symbols else 0


def register(sub: argparse._SubParsersAction) -> None:
    sch = sub.add_parser(
        "schedule",
        help="worker: run the daily pipeline and weekly retrain on a cron (APScheduler)",
        description="Daily run at SCHEDULE_DAILY (default 18:00, exchange time zone) on "
        "trading days; weekly retrain on SCHEDULE_RETRAIN_DAY (default mon) at "
        "SCHEDULE_RETRAIN_TIME (default 19:00). Missed runs are caught up once at start-up.",
    )
    sch.add_argument("--symbols", help="comma-separated (default: WATCHLIST, else all stored)")
    sch.add_argument("--dry-run", type=int, nargs="?", const=3, default=0, metavar="N",
                     help="print the next N fire times of each job and exit")
    sch.set_defaults(func=_cmd_schedule)
    rd = sub.add_parser("run-daily", help="run the daily pipeline once now")
    rd.add_argument("--symbols", help="comma-separated (default: WATCHLIST, else all stored)")
    rd.add_argument("--as-of", type=date_arg, help="trading day (default: last closed session)")
    rd.add_argument("--horizon", type=int, default=5)
    rd.add_argument("--no-report", action="store_true", help="do not send the daily report")
    rd.set_defaults(func=_cmd_run_daily)
    rw = sub.add_parser("run-weekly", help="run the weekly retrain (gated promotion) once now")
    rw.add_argument("--symbols", help="comma-separated (default: WATCHLIST, else all stored)")
    rw.add_argument("--backend", choices=("local", "dask"))
    rw.add_argument("--address", help="Dask scheduler address")
    rw.set_defaults(func=_cmd_run_weekly)

    r = sub.add_parser(
        "replay",
        help="run the daily pipeline over stored history (ledger, alerts, drift, retrains)",
        description="Replays each trading day in [start, end] as if the product had run then. "
        "Ctrl-C stops after the current day; rerun the same command to resume.",
    )
    r.add_argument("--symbol", required=True)
    r.add_argument("--start", type=date_arg, required=True, help="first day, YYYY-MM-DD")
    r.add_argument("--end", type=date_arg, required=True, help="last day (inclusive), YYYY-MM-DD")
    r.add_argument("--horizon", type=int, default=5, help="trading days forecast each day")
    r.add_argument("--model", default="auto_arima", help="model kind of every retrain")
    r.add_argument("--options", help='model options as JSON, e.g. \'{"engine": "pmdarima"}\'')
    r.add_argument("--retrain-weekday", type=int, default=0, help="0=Monday .. 6=Sunday")
    r.add_argument("--train-days", type=int, default=1000, help="trailing training window")
    r.add_argument("--detector", default="all",
                   choices=("all", "volatility", "bias", "shape", "adwin", "kswin", "pagehinkley"),
                   help="kinds of change watched on the standardised errors (default all)")
    r.add_argument("--into-production", action="store_true",
                   help="write into the production database (champion, ledger, alerts); "
                   "by default a replay writes only to its sandbox under DATA_DIR/replays/")
    r.add_argument("--quiet", action="store_true", help="no progress line per day")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    r.set_defaults(func=_cmd_replay)

    ledger_p = sub.add_parser("ledger", help="logged forecasts with their actuals and errors")
    ledger_p.add_argument("--symbol", required=True)
    ledger_p.add_argument("--limit", type=int, default=50, help="latest N rows (default 50)")
    ledger_p.add_argument("--issued-by", help="only rows from dashboard, cli, replay, ...")
    ledger_p.add_argument("--json", action="store_true")
    ledger_p.set_defaults(func=_cmd_ledger)

    a = sub.add_parser("alerts", help="alert history, newest first")
    a.add_argument("--symbol")
    a.add_argument("--limit", type=int, default=50)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_cmd_alerts)

    d = sub.add_parser("drift", help="drift events of a symbol")
    d.add_argument("--symbol", required=True)
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_cmd_drift)

    c = sub.add_parser(
        "calibrate-drift",
        help="false alarms per 1,000 calm days and delay after 2008-09-15 of the drift "
             "detectors, replayed on the bundled series",
    )
    c.add_argument("--sigma", choices=("window", "ewma"), default="window",
                   help="stand-in bands: training-window sigma (today's bands) or EWMA")
    c.add_argument("--symbol", help="also replay this symbol's own logged forecasts")
    c.add_argument("--factor", type=float, default=2.0,
                   help="variance change injected into the symbol's z (x factor, default 2)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_cmd_calibrate)


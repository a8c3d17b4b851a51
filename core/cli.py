"""Command-line front door: ``python -m core --help``.

Every subcommand calls the same use cases as the dashboard. Errors print one clear line
to stderr and exit non-zero; there is no traceback for a ``CoreError``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from core.errors import CoreError

Command = Callable[[argparse.Namespace], int]


def date_arg(raw: str) -> dt.date:
    """An argparse ``type`` for YYYY-MM-DD dates, with a message naming the format."""
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a date; use YYYY-MM-DD") from None


def print_json(payload: Any) -> None:
    """JSON for ``--json`` output: indented, dates and other values as their text."""
    print(json.dumps(payload, indent=2, default=str))


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from core.context import open_context

    ctx = open_context(migrate=True)
    from core.db.engine import safe_url

    print(f"database {safe_url(ctx.db.url)} is up to date")
    return 0


def _cmd_jobs_run(args: argparse.Namespace) -> int:
    return run_job(args.job_id)


def run_job(job_id: int) -> int:
    """``jobs run ID``: mark the job running (with its lease and heartbeat) right after the
    database is reachable, before the handlers' heavy imports (statsmodels, statsforecast:
    seconds), so a page sees it start at once."""
    from core import jobs
    from core.context import open_context

    ctx = open_context(migrate=False)
    jobs.mark_running(ctx.db, job_id)
    from core.handlers import HANDLERS

    job = jobs.run(ctx.db, job_id, HANDLERS)
    print(f"job {job.id} {job.status}" + (f": {job.error}" if job.error else ""))
    return 0 if job.status == "succeeded" else 1


def _cmd_jobs_cancel(args: argparse.Namespace) -> int:
    from core import jobs
    from core.auth import SYSTEM
    from core.context import open_context

    ctx = open_context(migrate=False)
    job = jobs.cancel(ctx.db, args.job_id, SYSTEM)
    print(f"job {job.id} {job.status}" + (f" ({job.message})" if job.message else ""))
    return 0


def _cmd_jobs_list(args: argparse.Namespace) -> int:
    from core import jobs
    from core.context import open_context

    ctx = open_context()
    rows = [
        {
            "id": j.id,
            "kind": j.kind,
            "symbol": j.symbol,
            "status": j.status,
            "progress": round(j.progress, 2),
            "message": j.message,
            "error": j.error,
            "created_by": j.created_by,
            "created_at": j.created_at,
        }
        for j in jobs.recent(ctx.db, limit=args.limit)
    ]
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            print(
                f"{r['id']:>5}  {r['kind']:<9} {r['symbol'] or '-':<8} {r['status']:<10} "
                f"{r['progress']:>4.0%}  {r['error'] or r['message'] or ''}"
            )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from core.auth import SYSTEM
    from core.context import open_context
    from core.demo import load_demo

    ctx = open_context()

    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    outcome = load_demo(ctx.db, ctx.settings, SYSTEM, progress=progress,
                        replay_days=args.days)
    print(f"demo ready: {outcome['symbol']} replayed {outcome['start']}..{outcome['end']}")
    print(outcome["summary"])
    return 0


def build_parser(extra: Sequence[Callable[[argparse._SubParsersAction], None]] = ()) -> (
    argparse.ArgumentParser
):
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Stock forecasting: ingest market data, fit and monitor ARIMA-family models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="apply migrations (idempotent)")
    up.set_defaults(func=_cmd_db_upgrade)

    demo = sub.add_parser("demo", help="load the bundled data and replay a year of monitoring")
    demo.add_argument("--days", type=int, default=250, help="trading days to replay")
    demo.set_defaults(func=_cmd_demo)

    jobs_p = sub.add_parser("jobs", help="background jobs")
    jobs_sub = jobs_p.add_subparsers(dest="jobs_command", metavar="ACTION")
    run = jobs_sub.add_parser("run", help="run one queued job in this process")
    run.add_argument("job_id", type=int)
    run.set_defaults(func=_cmd_jobs_run)
    ls = jobs_sub.add_parser("list", help="recent jobs")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_jobs_list)
    cancel = jobs_sub.add_parser("cancel", help="cancel a queued or running job (frees its lock)")
    cancel.add_argument("job_id", type=int)
    cancel.set_defaults(func=_cmd_jobs_cancel)

    from core import cli_api, cli_batch, cli_data, cli_evaluate, cli_models, cli_monitor

    for register in (
        cli_data.register, cli_models.register, cli_monitor.register, cli_api.register,
        cli_batch.register, cli_evaluate.register, *extra,
    ):
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if len(words) == 3 and words[:2] == ["jobs", "run"] and words[2].isdigit():
        # The background worker's path: skip building the whole parser (it imports every
        # subcommand module, ~3 s here) so the job is marked running within a second.
        try:
            return run_job(int(words[2]))
        except CoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except CoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130

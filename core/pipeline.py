"""The scheduled pipeline: the daily run after the close and the weekly retrain.

``run_daily`` is what the ``worker`` process (``python -m core schedule``) and the Airflow
DAG run after each trading day: ingest the new bars, then per symbol reconcile the ledger,
score, check drift and alerts (``monitor.daily.monitor_symbol``), refresh the champion with
the new observations (``service.load_model`` updates on load) and issue and log the next
forecasts (``issued_by="schedule"``); at the end it delivers pending alerts and sends the
daily report (HTML e-mail and a Slack message). ``run_weekly_retrain`` refits every
symbol's model on the latest data (the full order search for auto-ARIMA) as a challenger,
then promotes it only through the gate (``lifecycle.promote`` without an override).

Both record their run as a row of the ``jobs`` table (kind "daily" / "weekly", symbol
None) holding the per-symbol outcome. That row is also the lock: ``jobs.submit`` refuses a
second active job with the same kind, a unique-index guarantee, so two schedulers (or a
scheduler and an Airflow worker) against the same database never run the same job twice
at once; with ``once=True`` a run for an ``as_of`` day that already succeeded is skipped,
so the loser of a race that starts after the winner finished does not repeat it.

One symbol's failure (fetch, monitoring, forecast, fit, save) is recorded in its outcome,
opens a ``job_failed:<kind>`` alert for that symbol and does not stop the others; the next
successful run resolves it. A crash of the whole run marks the job failed and opens
``job_failed:<kind>`` for all symbols (symbol None).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select

from core import jobs
from core.auth import SYSTEM, Actor
from core.db.base import utcnow
from core.db.engine import Database
from core.db.models import Alert, Job
from core.errors import JobConflict, ModelNotFound, ValidationFailed
from core.market.calendar import trading_calendar
from core.market.yahoo import YahooClient
from core.monitor import alerts, channels
from core.monitor.alerts import JobRun
from core.monitor.daily import DriftSettings, monitor_symbol
from core.monitor.ledger import ledger_frame
from core.schedule import exchange_tz
from core.settings import Settings
from core.symbols import check_symbols

logger = logging.getLogger(__name__)

DAILY, WEEKLY = "daily", "weekly"
DEFAULT_HORIZON = 5
Progress = Callable[[float, str], None]


def _noop(fraction: float, message: str) -> None:
    return None


@dataclass
class SymbolOutcome:
    """What one run did for one symbol."""

    symbol: str
    status: str = "ok"  # ok | failed | no_model
    steps: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass
class PipelineRun:
    """One run of the daily or weekly job, as recorded in its ``jobs`` row."""

    kind: str
    as_of: dt.date
    job_id: int | None = None
    status: str = "running"  # succeeded | failed | skipped
    symbols: dict[str, SymbolOutcome] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    exchange: str | None = None  # the symbols' exchange; None: any (one run over all)

    @property
    def failed_symbols(self) -> list[str]:
        return [s for s, o in self.symbols.items() if o.failed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "as_of": self.as_of.isoformat(),
            "exchange": self.exchange,
            "status": self.status,
            "failed": self.failed_symbols,
            "symbols": {s: asdict(o) for s, o in self.symbols.items()},
            "report": self.report,
            "error": self.error,
        }


# --- clock and calendar ------------------------------------------------------------------


def last_closed_session(exchange: str, now: dt.datetime) -> dt.date:
    """The last trading day whose close is at or before ``now`` (its bar is final)."""
    calendar = trading_calendar(exchange)
    day = calendar.previous_session(now.astimezone(exchange_tz(exchange)).date())
    if calendar.session_close(day) > now:
        day = calendar.previous_session((day - pd.Timedelta(days=1)).date())
    return day.date()


def default_symbols(db: Database, settings: Settings) -> list[str]:
    """The scheduled jobs' symbols: ``WATCHLIST``, else every symbol with stored bars."""
    if settings.watchlist:
        return list(settings.watchlist)
    from core.market.store import stored_symbols

    return stored_symbols(db)


def is_trading_day(exchange: str, day: dt.date) -> bool:
    return bool(trading_calendar(exchange).is_session(day))


# --- the run row (lock + record) ---------------------------------------------------------


def _start(
    db: Database, kind: str, as_of: dt.date, symbols: Sequence[str], actor: Actor,
    exchange: str | None = None,
) -> int:
    """Submit and mark running the job row that is both the lock and the record.

    Raises ``JobConflict`` while another run of ``kind`` is queued or running.
    """
    params: dict[str, Any] = {"as_of": as_of.isoformat(), "symbols": list(symbols)}
    if exchange is not None:
        params["exchange"] = exchange
    job = jobs.submit(db, kind=kind, symbol=None, actor=actor, params=params)
    # Running with a lease this process renews until _finish: a killed run's lock is
    # reclaimed by the next front door once the lease expires.
    jobs.mark_running(db, job.id)
    return job.id


def _finish(db: Database, job_id: int, run: PipelineRun) -> None:
    jobs.stop_heartbeat(job_id)
    failed = run.failed_symbols
    message = (
        f"{len(run.symbols) - len(failed)} of {len(run.symbols)} symbol(s) ok"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    with db.begin() as session:
        row = session.get(Job, job_id)
        if row is None:
            return
        row.status = "succeeded" if run.status == "succeeded" else "failed"
        row.active_key = None
        row.finished_at = row.heartbeat_at = utcnow()
        row.progress = 1.0
        row.result = run.to_dict()
        row.error = run.error
        row.message = message if run.error is None else "failed"


def _progress(db: Database, job_id: int, progress: Progress) -> Progress:
    def report(fraction: float, message: str) -> None:
        jobs.report_progress(db, job_id, fraction, message)
        progress(fraction, message)

    return report


def last_succeeded(
    db: Database, kind: str, *, exclude: int | None = None, exchange: str | None = None
) -> dt.date | None:
    """The ``as_of`` day of the newest succeeded run of ``kind`` (None: never).

    With ``exchange``, only runs of that exchange's symbols count, and runs over every
    symbol (no exchange recorded: the CLI's, and runs before exchanges were per symbol).
    """
    with db.read() as session:
        rows = session.scalars(
            select(Job).where(Job.kind == kind, Job.status == "succeeded")
            .order_by(Job.id.desc()).limit(20)
        ).all()  # fmt: skip
    days = [
        dt.date.fromisoformat(str(r.params["as_of"]))
        for r in rows
        if r.id != exclude and isinstance(r.params, dict) and r.params.get("as_of")
        and (exchange is None or r.params.get("exchange") in (None, exchange))
    ]
    return max(days) if days else None


def _skip_if_done(
    db: Database, kind: str, job_id: int, as_of: dt.date, exchange: str | None = None
) -> PipelineRun | None:
    """Inside the lock: if a run for ``as_of`` (or later) already succeeded, drop ours."""
    done = last_succeeded(db, kind, exclude=job_id, exchange=exchange)
    if done is None or done < as_of:
        return None
    jobs.stop_heartbeat(job_id)
    with db.begin() as session:
        row = session.get(Job, job_id)
        if row is not None:
            session.delete(row)
    logger.info("%s run for %s skipped: already done (as of %s)", kind, as_of, done)
    return PipelineRun(kind, as_of, None, "skipped")


def _job_alert(
    db: Database, settings: Settings, kind: str, symbol: str | None, error: str | None,
    as_of: dt.date, now: dt.datetime,
) -> None:
    """Open (error) or resolve (None) ``job_failed:<kind>`` for ``symbol``; never raises."""
    run = JobRun(kind, "failed" if error else "succeeded", error)
    try:
        with db.begin() as session:
            alerts.evaluate_job(session, settings, symbol, run, as_of, now=now)
    except Exception:  # an alert failure must not hide the run's own outcome
        logger.exception("could not record the %s job alert for %s", kind, symbol)


def _crashed(
    db: Database, settings: Settings, run: PipelineRun, job_id: int, exc: BaseException,
    now: dt.datetime,
) -> None:
    run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
    logger.exception("%s run for %s failed", run.kind, run.as_of)
    _finish(db, job_id, run)
    _job_alert(db, settings, run.kind, None, run.error, run.as_of, now)


# --- daily ---------------------------------------------------------------------------------


def _reconcile_since(
    db: Database, settings: Settings, as_of: dt.date, exchange: str | None = None
) -> dt.date | None:
    """Targets from ``revision_days`` sessions before the previous run (or today) on."""
    previous = last_succeeded(db, DAILY, exchange=exchange)
    anchor = min(previous, as_of) if previous is not None else None
    if anchor is None:
        return None  # first run: everything
    sessions = trading_calendar(exchange or settings.exchange).all_sessions
    pos = int(sessions.searchsorted(pd.Timestamp(anchor), side="left"))
    return sessions[max(pos - settings.revision_days, 0)].date()


def _forecast_summary(view: Any) -> dict[str, Any]:
    result = view.result
    return {
        "version_id": view.version.id,
        "model": (view.version.spec or {}).get("label", view.version.kind),
        "data_date": view.data_date.isoformat(),
        "last_close": float(view.history.iloc[-1]),
        "steps": [
            {"date": pd.Timestamp(d).date().isoformat(), "mean": float(m),
             "lo80": float(lo), "hi80": float(hi)}
            for d, m, lo, hi in zip(result.dates, result.mean, result.lo80, result.hi80,
                                    strict=True)
        ],
    }  # fmt: skip


def _monitor_step(outcome: Any) -> dict[str, Any]:
    return {
        "reconciled": outcome.reconciled,
        "drift_events": outcome.drift.recorded,
        "retrain_requested": bool(outcome.drift.recorded) and outcome.retrain_requested,
        "alerts_opened": [a.rule for a in outcome.alerts.opened],
        "alerts_resolved": [a.rule for a in outcome.alerts.resolved],
    }


def run_daily(
    db: Database,
    settings: Settings,
    symbols: Sequence[str] | str,
    *,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    client: YahooClient | None = None,
    actor: Actor = SYSTEM,
    horizon: int = DEFAULT_HORIZON,
    drift_settings: DriftSettings | None = None,
    send_report: bool = True,
    once: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress = _noop,
    launch: Callable[[int], Any] | None = jobs.launch,
    exchange: str | None = None,
) -> PipelineRun:
    """Ingest, monitor and forecast every symbol for the trading day ``as_of``.

    Drift follows ``DRIFT_POLICY``: with "auto" a detected drift queues a retrain job
    (auto-promoted through the gate) and ``launch`` starts it in its own process (None:
    only queue it, for a worker to pick up).

    ``exchange`` says the symbols all trade there (the scheduler runs each exchange after
    its own close): ``as_of`` is that exchange's session and "already done" means done for
    that exchange. None: one run over any symbols, on the ``EXCHANGE`` default's day.

    ``as_of`` defaults to the last session closed at ``now`` (default: the wall clock).
    ``client`` replaces the Yahoo download (tests). With ``once`` a day that already has a
    succeeded daily run is skipped (the scheduler's guard against double runs). Raises
    ``JobConflict`` while another daily run is active.
    """
    from core.forecast import service

    names = check_symbols(list(symbols) if not isinstance(symbols, str) else symbols)
    now = now or utcnow()
    as_of = as_of or last_closed_session(exchange or settings.exchange, now)
    drift_settings = drift_settings or DriftSettings(policy=settings.drift_policy)
    job_id = _start(db, DAILY, as_of, names, actor, exchange)
    if once and (skipped := _skip_if_done(db, DAILY, job_id, as_of, exchange)) is not None:
        return skipped
    run = PipelineRun(DAILY, as_of, job_id, exchange=exchange)
    report = _progress(db, job_id, progress)
    try:
        since = _reconcile_since(db, settings, as_of, exchange)
        report(0.02, f"fetching {len(names)} symbol(s)")
        summary = jobs_ingest(db, settings, names, as_of, now, client, actor, sleep)
        fetched = {r.symbol: r for r in summary.results}
        for i, symbol in enumerate(names):
            report(0.3 + 0.6 * i / len(names), f"{symbol}: monitoring and forecasting")
            run.symbols[symbol] = _daily_symbol(
                db, settings, symbol, as_of, now, fetched.get(symbol), since, horizon,
                drift_settings, service,
            )
            if run.symbols[symbol].steps.get("monitor", {}).get("retrain_requested"):
                run.symbols[symbol].steps["monitor"]["retrain_job"] = _queue_retrain(
                    db, symbol, actor, launch
                )
            _job_alert(db, settings, DAILY, symbol, run.symbols[symbol].error, as_of, now)
        _job_alert(db, settings, DAILY, None, None, as_of, now)  # the run itself finished
        report(0.92, "delivering alerts and the daily report")
        with db.begin() as session:
            delivered = channels.deliver_pending(session, settings, now=now)
        run.report["alerts_delivered"] = asdict(delivered)
        if send_report:
            run.report.update(send_daily_report(db, settings, run))
        run.status = "succeeded"
    except Exception as exc:
        _crashed(db, settings, run, job_id, exc, now)
        raise
    _finish(db, job_id, run)
    logger.info("daily run %s for %s: %s", job_id, as_of, run.failed_symbols or "all ok")
    return run


def _queue_retrain(
    db: Database, symbol: str, actor: Actor, launch: Callable[[int], Any] | None
) -> str:
    """Drift under the "auto" policy: queue (and start) a gated retrain of ``symbol``."""
    try:
        job = jobs.submit(db, kind="retrain", symbol=symbol, actor=actor,
                          params={"auto_promote": True, "reason": "drift"})
    except JobConflict as exc:
        return f"not queued: {exc}"
    if launch is not None:
        try:
            launch(job.id)
        except Exception as exc:  # queued anyway; the Monitoring page can start it
            logger.error("could not start retrain job %s for %s: %s", job.id, symbol, exc)
    return f"queued job {job.id}"


def jobs_ingest(
    db: Database, settings: Settings, names: list[str], as_of: dt.date, now: dt.datetime,
    client: YahooClient | None, actor: Actor, sleep: Callable[[float], None],
) -> Any:
    from core.market.ingest import ingest_yahoo

    return ingest_yahoo(db, settings, names, end=as_of, actor=actor, client=client,
                        sleep=sleep, now=now)


def _daily_symbol(
    db: Database, settings: Settings, symbol: str, as_of: dt.date, now: dt.datetime,
    fetched: Any, since: dt.date | None, horizon: int, drift_settings: DriftSettings | None,
    service: Any,
) -> SymbolOutcome:
    out = SymbolOutcome(symbol)
    errors: list[str] = []
    ingest_ok = fetched is not None and fetched.ok
    if fetched is None:
        errors.append("ingest: no result")
    else:
        out.steps["ingest"] = {"status": fetched.status, "message": fetched.message,
                               "inserted": fetched.counts.inserted,
                               "updated": fetched.counts.updated}
        if not fetched.ok:
            errors.append(f"ingest: {fetched.message}")
    try:  # monitoring runs even when the fetch failed: stale-data and score alerts
        with db.begin() as session:
            daily = monitor_symbol(
                session, settings, symbol, as_of, now, drift_settings=drift_settings,
                reconcile_since=since, deliver=False,
            )  # fmt: skip
        out.steps["monitor"] = _monitor_step(daily)
    except Exception as exc:
        logger.exception("daily monitoring failed for %s", symbol)
        errors.append(f"monitor: {type(exc).__name__}: {exc}")
    if ingest_ok:  # a failed fetch would only repeat yesterday's forecast
        try:
            view = service.forecast(db, settings, symbol, horizon, issued_by="schedule")
            out.steps["forecast"] = _forecast_summary(view)
        except ModelNotFound as exc:
            out.status = "no_model"
            out.steps["forecast"] = {"skipped": str(exc)}
        except Exception as exc:
            logger.exception("daily forecast failed for %s", symbol)
            errors.append(f"forecast: {type(exc).__name__}: {exc}")
    if errors:
        out.status, out.error = "failed", "; ".join(errors)[:2000]
    return out


# --- daily report --------------------------------------------------------------------------


@dataclass
class DailyReport:
    subject: str
    text: str
    html: str


def _fmt(value: Any) -> str:
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return "-"


def build_daily_report(db: Database, run: PipelineRun) -> DailyReport:
    """The forecasts issued, the errors of forecasts whose target was ``as_of``, and the
    open alerts, as plain text (Slack, mail fallback) and HTML (mail)."""
    as_of = run.as_of
    forecasts = {s: o.steps["forecast"] for s, o in run.symbols.items()
                 if isinstance(o.steps.get("forecast"), dict) and "steps" in o.steps["forecast"]}
    errors: list[dict[str, Any]] = []
    with db.read() as session:
        for symbol in run.symbols:
            frame = ledger_frame(session, symbol, start=as_of, end=as_of)
            frame = frame[frame["actual"].notna()]
            for row in frame.to_dict("records"):
                errors.append({"symbol": symbol, "step": int(row["step"]), "mean": row["mean"],
                               "actual": row["actual"], "error": row["error"],
                               "naive_error": row["naive_error"], "issued_by": row["issued_by"]})
        open_alerts = list(session.scalars(
            select(Alert).where(Alert.status == "open").order_by(Alert.id)
        ))  # fmt: skip
    failed = run.failed_symbols
    subject = (
        f"Daily forecasts {as_of}: {len(forecasts)} issued, {len(failed)} failed, "
        f"{len(open_alerts)} open alert(s)"
    )
    lines = [subject, "", "Forecasts issued:"]
    for symbol, fc in forecasts.items():
        first = fc["steps"][0]
        lines.append(
            f"  {symbol} ({fc['model']}, data to {fc['data_date']}, last {_fmt(fc['last_close'])}):"
            f" next {first['date']} {_fmt(first['mean'])} [80% {_fmt(first['lo80'])}"
            f"-{_fmt(first['hi80'])}], {len(fc['steps'])} day(s)"
        )
    if not forecasts:
        lines.append("  none")
    lines += ["", f"Errors on {as_of}:"]
    for e in errors:
        lines.append(f"  {e['symbol']} step {e['step']}: forecast {_fmt(e['mean'])}, actual "
                     f"{_fmt(e['actual'])}, error {_fmt(e['error'])} "
                     f"(naive {_fmt(e['naive_error'])})")
    if not errors:
        lines.append("  none reconciled")
    lines += ["", "Open alerts:"]
    lines += [f"  {channels.format_alert(a)}" for a in open_alerts] or ["  none"]
    if failed:
        lines += ["", "Failed symbols:"]
        lines += [f"  {s}: {run.symbols[s].error}" for s in failed]
    text = "\n".join(lines)

    def table(header: list[str], rows: list[list[Any]]) -> str:
        if not rows:
            return "<p>none</p>"
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
            for r in rows
        )
        return f"<table border='1' cellpadding='4'><tr>{head}</tr>{body}</table>"

    fc_rows = [[s, fc["model"], fc["data_date"], st["date"], _fmt(st["mean"]),
                f"{_fmt(st['lo80'])} - {_fmt(st['hi80'])}"]
               for s, fc in forecasts.items() for st in fc["steps"]]
    err_rows = [[e["symbol"], e["step"], _fmt(e["mean"]), _fmt(e["actual"]), _fmt(e["error"]),
                 _fmt(e["naive_error"])] for e in errors]
    alert_rows = [[a.id, a.symbol or "all", a.severity, a.rule, a.message] for a in open_alerts]
    fail_rows = [[s, run.symbols[s].error] for s in failed]
    body = (
        f"<h2>{html.escape(subject)}</h2>"
        "<h3>Forecasts issued</h3>"
        + table(["Symbol", "Model", "Data to", "Target", "Forecast", "80% interval"], fc_rows)
        + f"<h3>Errors on {as_of}</h3>"
        + table(["Symbol", "Step", "Forecast", "Actual", "Error", "Naive error"], err_rows)
        + "<h3>Open alerts</h3>"
        + table(["#", "Symbol", "Severity", "Rule", "Message"], alert_rows)
        + ("<h3>Failed symbols</h3>" + table(["Symbol", "Error"], fail_rows) if failed else "")
    )
    return DailyReport(subject, text, f"<html><body>{body}</body></html>")


def send_daily_report(db: Database, settings: Settings, run: PipelineRun) -> dict[str, Any]:
    """Send the report by e-mail (SMTP settings) and Slack (webhook); never raises."""
    sent: dict[str, Any] = {}
    try:
        report = build_daily_report(db, run)
    except Exception as exc:
        logger.exception("could not build the daily report")
        return {"report": f"failed: {type(exc).__name__}: {exc}"}
    sent["subject"] = report.subject
    targets: list[tuple[str, Callable[[], None]]] = []
    if settings.smtp_host:
        targets.append(("email", lambda: channels.send_email(
            settings, report.subject, report.text, html=report.html)))
    if settings.slack_webhook_url:
        url = settings.slack_webhook_url
        targets.append(("slack", lambda: channels.send_webhook(url, report.text)))
    for name, send in targets:
        try:
            send()
            sent[name] = "sent"
        except Exception as exc:  # a down channel must not fail the run
            sent[name] = f"failed: {type(exc).__name__}: {exc}"
            logger.error("daily report via %s failed: %s", name, exc)
    logger.info("daily report: %s", report.text)
    return sent


# --- weekly retrain ------------------------------------------------------------------------


def run_weekly_retrain(
    db: Database,
    settings: Settings,
    symbols: Sequence[str] | str,
    *,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    actor: Actor = SYSTEM,
    backend: str | None = None,
    address: str | None = None,
    n_workers: int | None = None,
    once: bool = False,
    progress: Progress = _noop,
    force: bool = False,
) -> PipelineRun:
    """Refit every symbol as a challenger (``batch_retrain.retrain_many``: in parallel),
    then promote each challenger only if it passes the gate against its champion.

    A symbol without a champion gets its first one from the batch. A refused gate keeps
    the champion and is reported (not a failure); a failed fit, save or gate opens
    ``job_failed:weekly`` for that symbol.
    """
    from core.forecast import lifecycle
    from core.forecast.batch_retrain import retrain_many

    names = check_symbols(list(symbols) if not isinstance(symbols, str) else symbols)
    now = now or utcnow()
    as_of = as_of or now.astimezone(exchange_tz(settings.exchange)).date()
    job_id = _start(db, WEEKLY, as_of, names, actor)
    if once and (skipped := _skip_if_done(db, WEEKLY, job_id, as_of)) is not None:
        return skipped
    run = PipelineRun(WEEKLY, as_of, job_id)
    report = _progress(db, job_id, progress)
    try:
        def fit_progress(fraction: float, message: str) -> None:
            report(0.6 * fraction, message)

        batch = retrain_many(db, settings, names, actor, backend=backend, address=address,
                             n_workers=n_workers, progress=fit_progress, force=force)
        run.report["batch"] = {k: batch[k] for k in ("backend", "workers", "seconds")}
        for i, symbol in enumerate(names):
            report(0.6 + 0.35 * i / len(names), f"{symbol}: promotion gate")
            fit = batch["symbols"].get(symbol, {})
            out = SymbolOutcome(symbol, steps={"retrain": fit})
            run.symbols[symbol] = out
            if fit.get("status") == "unchanged":  # no new bars: the champion stays
                out.steps["promotion"] = {"promoted": False, "text": fit.get("message")}
            elif fit.get("status") != "saved":
                out.status, out.error = "failed", f"retrain: {fit.get('error', 'no result')}"
            elif fit.get("role") == "champion":
                out.steps["promotion"] = {"promoted": True, "text": "first champion"}
            else:
                try:
                    done = lifecycle.promote(db, settings, int(fit["version_id"]), actor)
                    gate = done.gate.to_dict() if done.gate is not None else None
                    out.steps["promotion"] = {"promoted": True, "gate": gate}
                except ValidationFailed as exc:  # the gate refused: the champion stays
                    out.steps["promotion"] = {"promoted": False, "text": str(exc)}
                except Exception as exc:
                    logger.exception("weekly promotion failed for %s", symbol)
                    out.status, out.error = "failed", f"gate: {type(exc).__name__}: {exc}"
            _job_alert(db, settings, WEEKLY, symbol, out.error, as_of, now)
        _job_alert(db, settings, WEEKLY, None, None, as_of, now)
        with db.begin() as session:
            channels.deliver_pending(session, settings, now=now)
        run.status = "succeeded"
    except Exception as exc:
        _crashed(db, settings, run, job_id, exc, now)
        raise
    _finish(db, job_id, run)
    return run

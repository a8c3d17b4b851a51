"""Replay: run the daily pipeline over stored history, as if the product had been live.

For each trading day D in ``[start, end]``, using only bars up to D, in one transaction:

1. monitoring (``daily.monitor_symbol``): reconcile the forecasts whose target is D,
   check drift on the replayed error stream, run the alert rules with the clock at the
   evening of D (so cool-downs follow replayed days) and deliver what opened to the log;
2. the model: a full retrain (new order search) on the first trading day on or after the
   weekly ``retrain_weekday`` or when drift asks for one, registered as a new version and
   promoted ("replay weekly retrain" / "replay drift retrain"); otherwise the champion is
   refreshed with D's bar (``update``: same order and parameters, milliseconds);
3. the forecast from D for the next ``horizon`` trading days, with the bands the product
   publishes (the adaptive conformal layer driven by the ledger reconciled so far,
   ``core.monitor.published``), logged to the ledger (``issued_by="replay"``,
   ``issued_at`` = the evening of D) with the naive beside it.

A stakeholder demo thus gets months of ledger, alerts, drift events and champion history
in minutes. The series is read once and sliced; the database is only written per day.

Resumable and idempotent: the last completed day is the latest ``data_date`` of the
symbol's replay rows, so a rerun continues with the next day and a rerun of a finished
replay does nothing. ``should_stop`` is checked between days and each day commits alone,
so a cancel never leaves half a day. Every step is deterministic (fixed data, seeded
detectors, simulated clocks), so an interrupted and resumed replay ends with the same
ledger as an uninterrupted one.

Isolation: by default a replay never writes to the production database. It runs in a
sandbox of its own, a SQLite database per symbol under ``DATA_DIR/replays/`` (the
symbol's stored bars are copied into it first) with its artifacts beside it, so the
production champion, ledger, alerts and drift events stay exactly as they were; the
summary names the sandbox (``database``), and ``DATABASE_URL=<it> streamlit run ...``
shows it. ``into_production=True`` writes into the production database instead: the demo
asks for this, to fill an empty product with a replayed year. One replay per symbol runs
at a time (an exclusive lock file beside the sandbox, held for the whole run, in either
mode): a second one is refused with ``ReplayConflict``.

Prices are split-adjusted on read with today's actions; the ledger keeps prices in the
scale of each forecast's data date (see ``ledger``), so forecasts are rescaled by the
split ratios after D before they are logged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth import SYSTEM, Actor, require_analyst
from core.db.engine import Database
from core.db.models import ModelEvent, ModelVersion, Prediction
from core.errors import FitFailed, JobConflict, ValidationFailed
from core.forecast import registry
from core.forecast.artifacts import write_artifact
from core.forecast.base import Forecaster
from core.forecast.checks import check_horizon, finite_or_none
from core.forecast.factory import KINDS, forecaster_from_state, make_forecaster
from core.market.calendar import trading_calendar
from core.market.series import load_series
from core.market.store import read_bars, stored_symbols, upsert_bars
from core.monitor import ledger, published
from core.monitor.daily import DriftSettings, monitor_symbol
from core.settings import Settings
from core.symbols import check_symbol

logger = logging.getLogger(__name__)

ISSUED_BY = "replay"
ADJUST, OUTLIER_POLICY = "split", "use"
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "auto_arima": {"engine": "statsforecast", "log": True, "bands": "garch"},
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The evening after the close, in UTC: after every exchange's close on the same date.
EVENING_UTC = dt.time(22, 0)

Progress = Callable[[float, str], None]
ShouldStop = Callable[[], bool]


@dataclass(frozen=True)
class Retrain:
    """One full retrain of the replay: the day, the new champion and why."""

    day: dt.date
    version_id: int
    reason: str  # initial | weekly | drift
    label: str
    fit_seconds: float


@dataclass
class ReplaySummary:
    """What one ``replay`` call did (and what is left if it was stopped)."""

    symbol: str
    start: dt.date
    end: dt.date
    days_in_range: int
    days_skipped: int  # already replayed before this call
    days_done: int
    first_day: dt.date | None
    last_day: dt.date | None
    next_day: dt.date | None  # first day still to do; None when the range is complete
    stopped: bool
    forecasts_logged: int
    reconciled: int
    retrains: list[Retrain] = field(default_factory=list)
    drift_events: int = 0
    alerts_opened: int = 0
    alerts_resolved: int = 0
    champion_id: int | None = None
    failed_retrains: list[str] = field(default_factory=list)  # the champion kept serving
    seconds: float = 0.0
    database: str = ""  # where the replay wrote: its sandbox, or production when asked
    into_production: bool = False

    @property
    def complete(self) -> bool:
        return self.next_day is None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["complete"] = self.complete
        return out

    def describe(self) -> str:
        """A short human summary (the CLI prints it; a job stores ``to_dict``)."""
        where = ("the production database" if self.into_production
                 else f"the replay sandbox {self.database} (production untouched)")
        if self.days_done == 0 and not self.stopped:
            return (
                f"{self.symbol}: replay {self.start}..{self.end} already complete "
                f"({self.days_skipped} trading days) in {where}; nothing to do"
            )
        reasons = [r.reason for r in self.retrains]
        lines = [
            f"{self.symbol}: replayed {self.days_done} trading days "
            f"({self.first_day}..{self.last_day}) in {self.seconds:.1f} s"
            + (f", after {self.days_skipped} already done" if self.days_skipped else ""),
            f"  forecasts logged {self.forecasts_logged:,}, reconciled {self.reconciled:,}",
            f"  retrains {len(self.retrains)} (weekly {reasons.count('weekly')}, "
            f"drift {reasons.count('drift')}, initial {reasons.count('initial')}); "
            f"champion model {self.champion_id}",
            f"  drift events {self.drift_events}; alerts opened {self.alerts_opened}, "
            f"resolved {self.alerts_resolved}",
            f"  written to {where}",
        ]
        if self.failed_retrains:
            lines.append(f"  {len(self.failed_retrains)} retrain(s) failed; the champion kept "
                         f"serving: {self.failed_retrains[0]}")
        if self.stopped and self.next_day is not None:
            lines.append(f"  stopped before {self.next_day}; run the same replay again to resume")
        return "\n".join(lines)


class ReplayConflict(JobConflict):
    """A replay of the same symbol is already running."""


def replay_dir(settings: Settings) -> Path:
    return settings.data_dir / "replays"


def sandbox_url(settings: Settings, symbol: str) -> str:
    """The SQLite database a replay of ``symbol`` writes to unless asked for production."""
    return f"sqlite:///{replay_dir(settings) / f'{symbol}.db'}"


@contextmanager
def replay_lock(settings: Settings, symbol: str) -> Iterator[None]:
    """Hold the one-replay-per-symbol lock, or raise ``ReplayConflict`` at once.

    An OS lock on a file (``flock``): the kernel releases it when the process dies, so a
    killed replay never leaves the symbol locked. It serialises replays that share
    ``DATA_DIR`` (one host or a shared volume)."""
    folder = replay_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{symbol}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise ReplayConflict(
                f"a replay of {symbol} is already running ({holder}); wait for it to finish "
                "or stop it, then run this one (it resumes where the last one stopped)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
                  .encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def open_sandbox(db: Database, settings: Settings, symbol: str) -> tuple[Database, Settings]:
    """The replay sandbox of ``symbol``: its database (schema at head, the symbol's stored
    bars copied from production; an upsert, so a rerun copies only what changed) and
    settings whose model directory sits beside it."""
    from core.db.migrate import upgrade

    replay_dir(settings).mkdir(parents=True, exist_ok=True)
    sandbox = Database.connect(sandbox_url(settings, symbol))
    upgrade(sandbox)
    if symbol in stored_symbols(db):
        upsert_bars(sandbox, symbol, read_bars(db, symbol), "replay-copy")
    return sandbox, dataclasses.replace(
        settings, model_dir=replay_dir(settings) / f"{symbol}-models")


def simulated_now(day: dt.date) -> dt.datetime:
    """The replay's clock on ``day``: the evening after the close, in UTC."""
    return dt.datetime.combine(day, EVENING_UTC, tzinfo=dt.UTC)


def is_retrain_day(day: pd.Timestamp, previous: pd.Timestamp, weekday: int) -> bool:
    """True on the first trading day on or after each scheduled ``weekday``.

    A holiday on the scheduled day moves that week's retrain to the next session.

    >>> mon, fri = pd.Timestamp("2017-01-09"), pd.Timestamp("2017-01-06")
    >>> is_retrain_day(mon, fri, 0), is_retrain_day(pd.Timestamp("2017-01-10"), mon, 0)
    (True, False)
    """
    gap = (day - previous).days
    return any((day - pd.Timedelta(days=k)).weekday() == weekday for k in range(gap))


def last_replayed_day(session: Session, symbol: str) -> dt.date | None:
    """The last completed replay day of ``symbol`` (its latest replay forecast's data date)."""
    return session.scalar(
        select(func.max(Prediction.data_date)).where(
            Prediction.symbol == symbol, Prediction.issued_by == ISSUED_BY
        )
    )


def check_replay_inputs(
    symbol: str,
    stored: list[str],
    index: pd.DatetimeIndex,
    start: dt.date,
    end: dt.date,
    need: int,
) -> pd.DatetimeIndex:
    """The trading days to replay, or ``ValidationFailed`` naming what would be valid."""
    if symbol not in stored:
        listing = ", ".join(stored) if stored else "none (ingest one first)"
        raise ValidationFailed(f"no stored data for {symbol}; stored symbols: {listing}")
    if end < start:
        raise ValidationFailed(f"the replay end {end} is before its start {start}")
    first_ok = index[need].date() if len(index) > need else None
    last = index[-1].date()
    if first_ok is None:
        raise ValidationFailed(
            f"{symbol} has {len(index):,} trading days stored; a replay needs at least "
            f"{need + 1:,} (training history before the first replayed day)"
        )
    if start < first_ok or end > last:
        raise ValidationFailed(
            f"replay dates for {symbol} must lie between {first_ok} and {last} "
            f"(stored bars {index[0].date()}..{last}, and the first {need:,} trading days "
            f"are needed to fit the first model); got {start}..{end}"
        )
    days = index[(index >= pd.Timestamp(start)) & (index <= pd.Timestamp(end))]
    if len(days) == 0:
        raise ValidationFailed(f"no trading days of {symbol} between {start} and {end}")
    return days


def _split_scale(split_ratio: pd.Series) -> np.ndarray:
    """Per position i, the product of the split ratios after i: adjusted -> as-of-i scale."""
    ratio = split_ratio.to_numpy(dtype=float)
    ratio = np.where(ratio > 0, ratio, 1.0)
    after = np.cumprod(ratio[::-1])[::-1]  # product of ratio[i:]
    return np.r_[after[1:], 1.0]


class _Replayer:
    """The state of one replay run (kept out of the public signature)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        symbol: str,
        kind: str,
        options: dict[str, Any],
        horizon: int,
        train_days: int,
        actor: Actor,
    ) -> None:
        self.db, self.settings, self.symbol = db, settings, symbol
        self.kind, self.options, self.horizon = kind, options, horizon
        self.train_days, self.actor = train_days, actor
        self.calibration = published.DEFAULT_CALIBRATION
        # Replayed alerts go to the log only: history must not page anyone.
        self.replay_settings = dataclasses.replace(settings, slack_webhook_url=None, smtp_host=None)
        self.calendar = trading_calendar(settings.exchange)
        self.written: list[Path] = []

    def new_forecaster(self) -> Forecaster:
        return make_forecaster(self.kind, exchange=self.settings.exchange, **self.options)

    def fit(self, y: pd.Series) -> tuple[Forecaster, float]:
        started = time.perf_counter()
        forecaster = self.new_forecaster().fit(y.iloc[-self.train_days :])
        return forecaster, time.perf_counter() - started

    def register(
        self, session: Session, forecaster: Forecaster, fit_seconds: float, reason: str,
        day: dt.date,
    ) -> ModelVersion:
        """Save the artifact, add the version and make it champion, stamped at ``day``."""
        now = simulated_now(day)
        state = forecaster.to_state()
        path = registry.artifact_path(self.settings.model_dir, self.symbol)
        sha256, size = write_artifact(path, state)
        self.written.append(path)
        order = list(getattr(forecaster, "order_", ())) or forecaster.summary().get("order")
        aic = getattr(forecaster, "aic_", None)
        bic = getattr(forecaster, "bic_", None)
        dates = forecaster.dates_
        new = registry.NewVersion(
            symbol=self.symbol, kind=self.kind, engine=self.options.get("engine"),
            spec={
                "kind": self.kind, "options": self.options, "adjust": ADJUST,
                "outlier_policy": OUTLIER_POLICY, "folds": 0, "horizon": self.horizon,
                "step": None, "order": order, "label": forecaster.label,
                "calibration": self.calibration,
                "band_method": published.band_method(forecaster.band_base, self.calibration),
                "replay": {"reason": reason, "as_of": day.isoformat()},
            },
            exog_policy=None, train_start=dates[0].date(), train_end=dates[-1].date(),
            n_obs=len(dates), data_fingerprint=_fingerprint(forecaster),
            fit_seconds=fit_seconds, aic=finite_or_none(aic), bic=finite_or_none(bic),
            backtest=None,
        )  # fmt: skip
        version = registry.add_version(
            session, new, path=path, sha256=sha256, size=size, created_by=self.actor.name
        )
        version.created_at = now
        if version.role != "champion":
            registry.set_champion(
                session, version, action="promote", created_by=self.actor.name,
                gate_passed=None, note=f"replay {reason} retrain",
            )  # fmt: skip
        for event in session.scalars(select(ModelEvent).where(ModelEvent.version_id == version.id)):
            event.created_at = now
        session.flush()
        return version

    def cleanup(self) -> None:
        """Remove the artifacts of a day whose transaction did not commit."""
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()


def _fingerprint(forecaster: Forecaster) -> str:
    from core.forecast.service import fingerprint

    return fingerprint(pd.Series(forecaster.values_, index=forecaster.dates_))


def _compatible(version: ModelVersion | None, first_day: dt.date) -> bool:
    """A champion the replay may start from: trained before the first day, on the same
    prepared series (split-adjusted, outliers kept), without exogenous regressors."""
    if version is None or version.train_end >= first_day:
        return False
    spec = version.spec or {}
    options = spec.get("options") or {}
    return (
        version.kind != "arimax"
        and not options.get("exog_columns")
        and spec.get("adjust", ADJUST) == ADJUST
        and spec.get("outlier_policy", OUTLIER_POLICY) == OUTLIER_POLICY
    )


def replay(
    db: Database,
    settings: Settings,
    symbol: str,
    start: dt.date,
    end: dt.date,
    *,
    kind: str = "auto_arima",
    options: dict[str, Any] | None = None,
    horizon: int = 5,
    retrain_weekday: int = 0,
    train_days: int = 1000,
    drift: DriftSettings | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    actor: Actor = SYSTEM,
    into_production: bool = False,
) -> ReplaySummary:
    """Replay the daily pipeline for ``symbol`` on each trading day in ``[start, end]``.

    Writes to the symbol's sandbox unless ``into_production`` (see the module docstring);
    a replay of a symbol already being replayed raises ``ReplayConflict``.

    ``kind``/``options`` choose the model of every retrain (default: statsforecast
    auto-ARIMA on log prices), fitted on the last ``train_days`` trading days.
    ``drift`` sets the detector over the replayed one-step errors (default: ADWIN, and a
    detection retrains at once). ``progress(fraction, message)`` is called after each
    committed day; ``should_stop()`` before each day. See the module docstring.
    """
    require_analyst(actor, "replay history")
    symbol = check_symbol(symbol)
    horizon = check_horizon(horizon)
    if kind not in KINDS:
        raise ValidationFailed(f"unknown model {kind!r}; valid: {', '.join(KINDS)}")
    opts = dict(DEFAULT_OPTIONS.get(kind, {}) if options is None else options)
    if kind == "arimax" or opts.get("exog_columns"):
        raise ValidationFailed("replay supports models without exogenous regressors, not arimax")
    if not (isinstance(retrain_weekday, int) and 0 <= retrain_weekday <= 6):
        raise ValidationFailed(
            f"retrain_weekday must be 0 (Monday) to 6 (Sunday), got {retrain_weekday!r}"
        )
    drift = drift or DriftSettings()
    with replay_lock(settings, symbol):
        if into_production:
            target, target_settings = db, settings
        else:
            if symbol not in stored_symbols(db):
                check_replay_inputs(symbol, stored_symbols(db), pd.DatetimeIndex([]),
                                    start, end, 1)
            target, target_settings = open_sandbox(db, settings, symbol)
        try:
            summary = _replay(
                target, target_settings, symbol, start, end, kind=kind, options=opts,
                horizon=horizon, retrain_weekday=retrain_weekday, train_days=train_days,
                drift=drift, progress=progress, should_stop=should_stop, actor=actor,
            )  # fmt: skip
        finally:
            if target is not db:
                target.dispose()
    summary.into_production = into_production
    summary.database = "production" if into_production else sandbox_url(settings, symbol)
    return summary


def _replay(
    db: Database, settings: Settings, symbol: str, start: dt.date, end: dt.date, *,
    kind: str, options: dict[str, Any], horizon: int, retrain_weekday: int, train_days: int,
    drift: DriftSettings, progress: Progress | None, should_stop: ShouldStop | None,
    actor: Actor,
) -> ReplaySummary:
    """The replay itself, in ``db`` (production or the sandbox), under the symbol's lock."""
    opts = options
    run = _Replayer(db, settings, symbol, kind, opts, horizon, int(train_days), actor)
    need = run.new_forecaster().min_obs()
    if run.train_days < need:
        raise ValidationFailed(f"train_days must be at least {need} for {kind}, got {train_days}")

    stored = stored_symbols(db)
    if symbol not in stored:
        check_replay_inputs(symbol, stored, pd.DatetimeIndex([]), start, end, need)
    bars = load_series(db, symbol, adjust=ADJUST, outlier_policy=OUTLIER_POLICY,
                       exchange=settings.exchange)
    y = bars.close
    scale = _split_scale(bars.frame["split_ratio"])
    days = check_replay_inputs(symbol, stored, pd.DatetimeIndex(y.index), start, end, need)

    with db.read() as session:
        done_until = last_replayed_day(session, symbol)
        champion = registry.champion(session, symbol)
    todo = days if done_until is None else days[days > pd.Timestamp(done_until)]
    summary = ReplaySummary(
        symbol=symbol, start=start, end=end, days_in_range=len(days),
        days_skipped=len(days) - len(todo), days_done=0, first_day=None, last_day=None,
        next_day=todo[0].date() if len(todo) else None, stopped=False, forecasts_logged=0,
        reconciled=0, champion_id=champion.id if champion is not None else None,
    )  # fmt: skip
    if len(todo) == 0:
        return summary
    started = time.perf_counter()
    positions = [int(p) for p in y.index.get_indexer(todo)]
    first = positions[0]
    first_day = todo[0].date()

    # The model as it stood the evening before the first day: the champion if it saw
    # nothing later, else a fresh fit on the history up to that evening.
    if _compatible(champion, first_day):
        assert champion is not None
        model = forecaster_from_state(registry.load_state(champion).state)
        after = y.iloc[:first][y.index[:first] > model.dates_[-1]]
        if len(after):
            model.update(after)
        version = champion
    else:
        model, seconds = run.fit(y.iloc[:first])
        day_before = y.index[first - 1].date()
        try:
            with db.begin() as session:
                version = run.register(session, model, seconds, "initial", day_before)
        except BaseException:
            run.cleanup()
            raise
        run.written.clear()
        summary.retrains.append(Retrain(day_before, version.id, "initial", model.label, seconds))

    for i, pos in enumerate(positions):
        day = y.index[pos].date()
        if should_stop is not None and should_stop():
            summary.stopped = True
            summary.next_day = day
            break
        now = simulated_now(day)
        try:
            with db.begin() as session:
                outcome = monitor_symbol(
                    session, run.replay_settings, symbol, day, now, drift_settings=drift,
                    issued_by=ISSUED_BY, reconcile_since=day, calendar=run.calendar,
                    deliver_all_pending=False,
                )  # fmt: skip
                reason = None
                if outcome.drift.recorded and outcome.drift.retrain == "queue":
                    reason = "drift"
                elif is_retrain_day(y.index[pos], y.index[pos - 1], retrain_weekday):
                    reason = "weekly"
                if reason is not None:
                    try:
                        fitted, seconds = run.fit(y.iloc[: pos + 1])
                    except FitFailed as exc:  # as in production: the champion keeps serving
                        logger.warning("replay %s %s: %s retrain failed: %s", symbol, day,
                                       reason, exc)  # fmt: skip
                        summary.failed_retrains.append(f"{day} {reason}: {exc}")
                        reason = None
                if reason is not None:
                    new_version = run.register(session, fitted, seconds, reason, day)
                else:
                    model.update(y.iloc[pos : pos + 1])
                    fitted, new_version = model, version
                result = published.publish_bands(
                    session, symbol, fitted.predict(horizon),
                    log=bool(getattr(fitted, "log", True)), base=fitted.band_base,
                    calibration=run.calibration, as_of=day,
                ).result  # the bands the product would have published that evening
                c = float(scale[pos])
                last = float(y.iloc[pos])
                naive = float(np.exp(np.log(last))) if getattr(fitted, "log", True) else last
                logged = ledger.log_forecast(
                    session, symbol=symbol, model_version_id=new_version.id, data_date=day,
                    dates=list(result.dates), mean=(result.mean * c).tolist(),
                    lo80=(result.lo80 * c).tolist(), hi80=(result.hi80 * c).tolist(),
                    lo95=(result.lo95 * c).tolist(), hi95=(result.hi95 * c).tolist(),
                    naive=naive * c, last_value=last * c, exog_policy=None,
                    issued_by=ISSUED_BY, issued_at=now,
                )  # fmt: skip
        except BaseException:
            run.cleanup()
            raise
        run.written.clear()
        model, version = fitted, new_version
        if reason is not None:
            summary.retrains.append(Retrain(day, version.id, reason, model.label, seconds))
        summary.days_done += 1
        summary.first_day = summary.first_day or day
        summary.last_day = day
        summary.forecasts_logged += logged
        summary.reconciled += outcome.reconciled
        summary.drift_events += outcome.drift.recorded
        summary.alerts_opened += len(outcome.alerts.opened)
        summary.alerts_resolved += len(outcome.alerts.resolved)
        summary.champion_id = version.id
        summary.next_day = todo[i + 1].date() if i + 1 < len(todo) else None
        if progress is not None:
            note = f", {reason} retrain -> model {version.id}" if reason else ""
            progress(
                (i + 1) / len(todo),
                f"{day} ({i + 1}/{len(todo)}): forecast {result.mean[0] * c:.2f} for "
                f"{result.dates[0].date()}{note}",
            )
    summary.seconds = time.perf_counter() - started
    logger.info("replay %s: %s", symbol, summary.describe().replace("\n", ";"))
    return summary

"""Alert rules over the ledger and the data feed, and their episodes in the ``alerts`` table.

Each rule is a small pure function returning an ``AlertCandidate`` when its condition holds
and ``None`` when it is calm. ``evaluate_alerts`` runs them for one symbol and keeps one
alert per episode: while an alert of the same (symbol, rule) is open, a new one is
suppressed; when the condition clears, the alert resolves; after a resolution, the rule may
fire again only once ``cooldown_days`` have passed (so a metric hovering at its threshold
does not page anyone twice a day). Thresholds come from ``Settings.thresholds`` and are
checked by ``check_thresholds`` first.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.base import utcnow
from core.db.models import Alert, Bar, ModelVersion
from core.errors import ValidationFailed
from core.forecast import metrics as mx
from core.monitor.channels import queue_deliveries
from core.monitor.ledger import ledger_frame
from core.monitor.scores import Scores, compute_scores, last_target_dates, rolling_errors
from core.settings import AlertThresholds, Settings

logger = logging.getLogger(__name__)

RMSE_ABS, RMSE_PCT, NAIVE_STREAK = "rmse_abs", "rmse_pct", "mae_ratio_above_one"
# The same rule's id before it was named for what it computes; an alert still open under
# it is resolved by the next evaluation (its successor takes over).
LEGACY_NAIVE_STREAK = "mase_above_one"
COVERAGE80, COVERAGE95 = "coverage80", "coverage95"
# A coverage alert needs evidence, not a share: the observed count must be this unlikely
# (one-sided binomial) even at the nearest end of the target range.
COVERAGE_ALPHA = 0.05
STALE_DATA, JOB_FAILED = "stale_data", "job_failed"


@dataclass(frozen=True)
class AlertCandidate:
    """A rule's finding: what is wrong, the measured value and the threshold it crossed."""

    rule: str
    message: str
    value: float | None = None
    threshold: float | None = None
    severity: str = "warning"


@dataclass(frozen=True)
class JobRun:
    """The latest run of one scheduled job (from the jobs table or the scheduler)."""

    kind: str
    status: str  # queued | running | succeeded | failed | cancelled
    error: str | None = None


@dataclass
class AlertOutcome:
    """What one ``evaluate_alerts`` call did, by rule name."""

    opened: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)  # still open: no new alert
    cooling_down: list[str] = field(default_factory=list)  # fired inside the cool-down


class SessionCounter(Protocol):
    def count_sessions(self, start: dt.date | str, end: dt.date | str) -> int: ...


# Threshold field -> (environment variable, whole number?, minimum, maximum)
_LIMITS: dict[str, tuple[str, bool, float, float]] = {
    "rmse_abs": ("ALERT_RMSE_ABS", False, 0.0, math.inf),
    "rmse_pct_of_price": ("ALERT_RMSE_PCT", False, 0.0, 100.0),
    "mae_ratio_above_one_days": ("ALERT_MAE_RATIO_DAYS", True, 1, math.inf),
    "coverage80_min": ("ALERT_COVERAGE80_MIN", False, 0.0, 1.0),
    "coverage80_max": ("ALERT_COVERAGE80_MAX", False, 0.0, 1.0),
    "coverage95_min": ("ALERT_COVERAGE95_MIN", False, 0.0, 1.0),
    "coverage95_max": ("ALERT_COVERAGE95_MAX", False, 0.0, 1.0),
    "stale_trading_days": ("ALERT_STALE_DAYS", True, 1, math.inf),
    "window_days": ("ALERT_WINDOW_DAYS", True, 2, math.inf),
    "cooldown_days": ("ALERT_COOLDOWN_DAYS", True, 0, math.inf),
}


def check_thresholds(thresholds: AlertThresholds) -> AlertThresholds:
    """Refuse a negative, out-of-range or not-a-number threshold, naming the setting.

    >>> check_thresholds(AlertThresholds(rmse_abs=-1.0))
    Traceback (most recent call last):
    ...
    core.errors.ValidationFailed: ALERT_RMSE_ABS (rmse_abs) must be a number from 0 up, got -1.0
    """
    for f in fields(thresholds):
        env, whole, lo, hi = _LIMITS[f.name]
        value = getattr(thresholds, f.name)
        kind = "a whole number" if whole else "a number"
        span = f"from {lo:g} up" if hi == math.inf else f"from {lo:g} to {hi:g}"
        ok_type = isinstance(value, int) if whole else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or not (lo <= value <= hi):
            raise ValidationFailed(f"{env} ({f.name}) must be {kind} {span}, got {value!r}")
    for level in (80, 95):
        low = getattr(thresholds, f"coverage{level}_min")
        high = getattr(thresholds, f"coverage{level}_max")
        if not low < high:
            raise ValidationFailed(
                f"ALERT_COVERAGE{level}_MIN ({low:g}) must be below ALERT_COVERAGE{level}_MAX "
                f"({high:g}): coverage inside [min, max] is on target"
            )
    return thresholds


# --- rules -------------------------------------------------------------------------------


def rule_rmse_abs(scores: Scores, limit: float) -> AlertCandidate | None:
    """RMSE over the window above an absolute price amount (the seed's ``rmse > 2.0``)."""
    if scores.n == 0 or not scores.rmse > limit:
        return None
    return AlertCandidate(
        RMSE_ABS, f"RMSE {scores.rmse:.2f} over {scores.n} forecasts is above {limit:.2f}",
        scores.rmse, limit,
    )  # fmt: skip


def rule_rmse_pct(scores: Scores, price: float, pct: float) -> AlertCandidate | None:
    """RMSE above ``pct`` percent of the price (the seed's "2% of the stock price")."""
    if scores.n == 0 or not price > 0:
        return None
    share = 100.0 * scores.rmse / price
    if not share > pct:
        return None
    return AlertCandidate(
        RMSE_PCT,
        f"RMSE {scores.rmse:.2f} is {share:.2f}% of the price {price:.2f}, above {pct:g}%",
        share, pct,
    )  # fmt: skip


def rule_naive_streak(ratio: pd.Series, days: int) -> AlertCandidate | None:
    """Rolling MAE ratio to naive above 1 (worse than the naive forecast on the same
    targets) on each of the last ``days`` target dates."""
    tail = ratio.dropna().iloc[-days:]
    if len(tail) < days or not bool((tail > 1.0).all()):
        return None
    return AlertCandidate(
        NAIVE_STREAK,
        f"MAE ratio to naive above 1 (worse than the naive forecast) for {days} consecutive "
        f"days, now {tail.iloc[-1]:.2f}",
        float(tail.iloc[-1]), 1.0,
    )  # fmt: skip


def rule_coverage(
    scores: Scores, level: int, minimum: float, maximum: float = 1.0
) -> AlertCandidate | None:
    """Share of actuals inside the ``level``% interval outside [``minimum``, ``maximum``]
    beyond chance (``metrics.coverage_test`` at ``COVERAGE_ALPHA``): too narrow (risk
    understated) or too wide (risk overstated) are both off target."""
    if level not in (80, 95):
        raise ValidationFailed(f"coverage level must be 80 or 95, got {level!r}")
    got = scores.coverage80 if level == 80 else scores.coverage95
    if not scores.n or math.isnan(got):
        return None
    hits = round(got * scores.n)
    verdict, chance = mx.coverage_test(hits, scores.n, minimum, maximum, COVERAGE_ALPHA)
    if verdict is None:
        return None
    bound = minimum if verdict == "too narrow" else maximum
    side = "below" if verdict == "too narrow" else "above"
    return AlertCandidate(
        COVERAGE80 if level == 80 else COVERAGE95,
        f"{level}% intervals held {got:.0%} of {scores.n} actuals, {side} {bound:.0%}: "
        f"{verdict} (target {minimum:.0%}-{maximum:.0%}; {hits} of {scores.n} has a "
        f"{chance:.1%} chance at {bound:.0%})",
        got, bound,
    )  # fmt: skip


def rule_stale_data(
    last_bar: dt.date | None, as_of: dt.date, max_sessions: int, calendar: SessionCounter
) -> AlertCandidate | None:
    """No new bar for ``max_sessions`` trading days up to ``as_of`` (a day whose close is in)."""
    if last_bar is None:
        return AlertCandidate(STALE_DATA, "no bars stored at all", None, max_sessions, "error")
    missing = calendar.count_sessions(last_bar, as_of)
    if missing < max_sessions:
        return None
    return AlertCandidate(
        STALE_DATA,
        f"no new bar for {missing} trading days (last bar {last_bar})",
        float(missing), float(max_sessions), "error",
    )  # fmt: skip


def rule_failed_job(run: JobRun) -> AlertCandidate | None:
    """The latest run of a scheduled job failed."""
    if run.status != "failed":
        return None
    reason = f": {run.error}" if run.error else ""
    return AlertCandidate(
        job_rule(run.kind), f"scheduled {run.kind} job failed{reason}", None, None, "error"
    )


def job_rule(kind: str) -> str:
    return f"{JOB_FAILED}:{kind}"[:64]  # alerts.rule is String(64)


# --- evaluation and episodes -----------------------------------------------------------------


def _aware(when: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _champion_id(session: Session, symbol: str) -> int | None:
    return session.scalar(
        select(ModelVersion.id)
        .where(ModelVersion.symbol == symbol, ModelVersion.role == "champion")
        .order_by(ModelVersion.id.desc())
        .limit(1)
    )


def candidates_for(
    session: Session,
    thresholds: AlertThresholds,
    symbol: str,
    as_of: dt.date,
    *,
    calendar: SessionCounter,
    jobs: Sequence[JobRun] = (),
    model_version_id: int | None = None,
    min_points: int = 5,
) -> dict[str, AlertCandidate | None]:
    """Every rule that could be evaluated, mapped to its finding (None = calm).

    Score rules are skipped (absent from the result, so an open alert neither fires nor
    resolves) while fewer than ``min_points`` reconciled forecasts are in the window.
    """
    found: dict[str, AlertCandidate | None] = {}
    from core.market.listing import is_sample_session

    last_bar = session.scalar(select(func.max(Bar.date)).where(Bar.symbol == symbol))
    if is_sample_session(session, symbol):  # a bundled sample ends on a fixed date: not stale
        found[STALE_DATA] = None
    else:
        found[STALE_DATA] = rule_stale_data(
            last_bar, as_of, thresholds.stale_trading_days, calendar
        )
    for run in jobs:
        found[job_rule(run.kind)] = rule_failed_job(run)

    mv = model_version_id if model_version_id is not None else _champion_id(session, symbol)
    frame = ledger_frame(session, symbol, end=as_of, model_version_id=mv)
    window = last_target_dates(frame, thresholds.window_days)
    scores = compute_scores(window)
    if scores.n >= min_points:
        price = float(window.sort_values("target_date")["actual"].iloc[-1])
        found[RMSE_ABS] = rule_rmse_abs(scores, thresholds.rmse_abs)
        found[RMSE_PCT] = rule_rmse_pct(scores, price, thresholds.rmse_pct_of_price)
        found[COVERAGE80] = rule_coverage(
            scores, 80, thresholds.coverage80_min, thresholds.coverage80_max
        )
        found[COVERAGE95] = rule_coverage(
            scores, 95, thresholds.coverage95_min, thresholds.coverage95_max
        )
        rolling = rolling_errors(frame, window=thresholds.window_days)
        found[NAIVE_STREAK] = rule_naive_streak(
            rolling["mae_ratio"], thresholds.mae_ratio_above_one_days
        )
        found[LEGACY_NAIVE_STREAK] = None  # resolves an alert opened under the old id
    return found


def evaluate_alerts(
    session: Session,
    settings: Settings,
    symbol: str,
    as_of: dt.date,
    *,
    calendar: SessionCounter | None = None,
    jobs: Sequence[JobRun] = (),
    model_version_id: int | None = None,
    min_points: int = 5,
    now: dt.datetime | None = None,
) -> AlertOutcome:
    """Run the rules for ``symbol`` as of ``as_of`` and open/resolve alerts (no commit).

    ``now`` is the clock for opening, resolving and the cool-down (default: wall clock);
    a replay passes its simulated time so cool-downs follow simulated days. Each opened
    alert gets its delivery rows queued (see ``channels.deliver_pending``) and is logged.
    """
    thresholds = check_thresholds(settings.thresholds)
    if calendar is None:
        from core.market.calendar import trading_calendar

        calendar = trading_calendar(settings.exchange)
    now = now or utcnow()
    found = candidates_for(
        session, thresholds, symbol, as_of, calendar=calendar, jobs=jobs,
        model_version_id=model_version_id, min_points=min_points,
    )  # fmt: skip
    return _apply_findings(session, settings, thresholds, symbol, as_of, found, now)


def evaluate_job(
    session: Session,
    settings: Settings,
    symbol: str | None,
    run: JobRun,
    as_of: dt.date | None,
    *,
    now: dt.datetime | None = None,
) -> AlertOutcome:
    """Only the failed-job rule for one run of a scheduled job (no commit).

    A failed run opens ``job_failed:<kind>`` for ``symbol`` (None: the whole job); a
    succeeded run resolves it. The other rules are left alone.
    """
    thresholds = check_thresholds(settings.thresholds)
    found = {job_rule(run.kind): rule_failed_job(run)}
    return _apply_findings(
        session, settings, thresholds, symbol, as_of, found, now or utcnow()
    )


def _apply_findings(
    session: Session,
    settings: Settings,
    thresholds: AlertThresholds,
    symbol: str | None,
    as_of: dt.date | None,
    found: dict[str, AlertCandidate | None],
    now: dt.datetime,
) -> AlertOutcome:
    """Open, suppress, cool down or resolve one alert episode per rule in ``found``."""
    outcome = AlertOutcome()
    cooldown = dt.timedelta(days=thresholds.cooldown_days)
    same_symbol = Alert.symbol.is_(None) if symbol is None else Alert.symbol == symbol
    newest = (
        select(func.max(Alert.id))
        .where(same_symbol, Alert.rule.in_(list(found)))
        .group_by(Alert.rule)
    )
    latest_by_rule = {
        a.rule: a for a in session.scalars(select(Alert).where(Alert.id.in_(newest)))
    }
    for rule, candidate in found.items():
        latest = latest_by_rule.get(rule)
        is_open = latest is not None and latest.status == "open"
        if candidate is None:
            if is_open and latest is not None:
                latest.status, latest.resolved_at = "resolved", now
                outcome.resolved.append(latest)
                logger.info("alert #%s %s %s resolved as of %s", latest.id, symbol, rule, as_of)
            continue
        if is_open:
            outcome.suppressed.append(rule)
            logger.info("alert %s %s still open: %s", symbol, rule, candidate.message)
            continue
        resolved_at = latest.resolved_at if latest is not None else None
        if resolved_at is not None and now - _aware(resolved_at) < cooldown:
            outcome.cooling_down.append(rule)
            logger.info("alert %s %s in cool-down: %s", symbol, rule, candidate.message)
            continue
        alert = Alert(
            symbol=symbol, rule=rule, severity=candidate.severity, message=candidate.message,
            value=candidate.value, threshold=candidate.threshold, as_of=as_of, status="open",
            opened_at=now,
        )  # fmt: skip
        # The partial unique index (symbol, rule) WHERE status='open' settles a race with a
        # concurrent evaluation: the loser's insert fails inside its savepoint and the
        # episode counts as already open, without touching the rest of the transaction.
        try:
            with session.begin_nested():
                session.add(alert)
                session.flush()
        except IntegrityError:
            outcome.suppressed.append(rule)
            logger.info("alert %s %s opened concurrently: %s", symbol, rule, candidate.message)
            continue
        queue_deliveries(session, alert, settings)
        outcome.opened.append(alert)
        logger.warning("alert #%s %s %s: %s", alert.id, symbol, rule, candidate.message)
    session.flush()
    return outcome

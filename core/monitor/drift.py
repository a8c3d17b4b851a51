"""Drift in forecast ERRORS (not prices) with river's ADWIN and KSWIN, and what to do then.

Prices always drift; that is not news. A change in the error stream means the model no
longer fits the market. The detectors are configured deliberately for daily data:

- ADWIN with ``clock=1`` (river's default of 32 checks once every 32 points: weeks late
  on daily data) and a configurable ``delta``.
- KSWIN with a fixed ``seed`` (it samples its reference window at random) and an explicit
  ``window_size``/``stat_size``; it tests nothing before ``window_size`` points.

river 0.26's ``update()`` returns None: read ``drift_detected`` after each update.
``replay_detectors`` measures, on historical errors, how often a setting cries wolf
(alarms per 1,000 stationary points) and how late it catches a known change.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from river import drift
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db.base import utcnow
from core.db.models import DriftEvent, ModelVersion, Prediction
from core.errors import ValidationFailed

Detector = Literal["adwin", "kswin"]
ADWIN_DEFAULTS: dict[str, Any] = {"delta": 0.002, "clock": 1}
KSWIN_DEFAULTS: dict[str, Any] = {"alpha": 0.005, "window_size": 100, "stat_size": 30, "seed": 42}
SHIFT_RECENT = 10


@dataclass(frozen=True)
class DriftPoint:
    """A detection: position in the stream, its date, and the detector's statistic.

    ``statistic`` for KSWIN is its Kolmogorov-Smirnov p-value. For ADWIN it is the shift
    in mean error: the last ``SHIFT_RECENT`` errors minus the errors before them since the
    detector last reset (river 0.26 resets ADWIN on the update after a detection, so its
    own ``estimation`` says nothing useful at that moment).
    """

    index: int
    date: dt.date | None
    statistic: float


def make_detector(detector: str, **params: Any) -> drift.ADWIN | drift.KSWIN:
    """A configured river detector; unknown names or parameters raise ``ValidationFailed``."""
    if detector == "adwin":
        cfg = {**ADWIN_DEFAULTS, **params}
        if not 0 < float(cfg["delta"]) < 1:
            raise ValidationFailed(f"ADWIN delta must be between 0 and 1, got {cfg['delta']!r}")
        if int(cfg["clock"]) < 1:
            raise ValidationFailed(f"ADWIN clock must be at least 1, got {cfg['clock']!r}")
        try:
            return drift.ADWIN(**cfg)
        except TypeError as exc:
            raise ValidationFailed(f"bad ADWIN parameter: {exc}") from None
    if detector == "kswin":
        cfg = {**KSWIN_DEFAULTS, **params}
        if not 0 < float(cfg["alpha"]) < 1:
            raise ValidationFailed(f"KSWIN alpha must be between 0 and 1, got {cfg['alpha']!r}")
        if not 0 < int(cfg["stat_size"]) < int(cfg["window_size"]):
            raise ValidationFailed(
                f"KSWIN needs 0 < stat_size < window_size, got stat_size={cfg['stat_size']!r}"
                f" and window_size={cfg['window_size']!r}"
            )
        try:
            return drift.KSWIN(**cfg)
        except TypeError as exc:
            raise ValidationFailed(f"bad KSWIN parameter: {exc}") from None
    raise ValidationFailed(f"unknown drift detector {detector!r}; use 'adwin' or 'kswin'")


def detect_drift(
    errors: Sequence[float],
    dates: Sequence[Any] | None = None,
    detector: str = "adwin",
    **params: Any,
) -> list[DriftPoint]:
    """Run one fresh detector over an error stream; one ``DriftPoint`` per detection.

    NaN errors (unreconciled forecasts) are skipped but keep their index, so ``index``
    always points into the stream given.
    """
    if dates is not None and len(dates) != len(errors):
        raise ValidationFailed(f"{len(errors)} errors but {len(dates)} dates; give one per error")
    det = make_detector(detector, **params)
    points = []
    since_reset: list[float] = []
    for i, x in enumerate(errors):
        value = float(x)
        if not math.isfinite(value):
            continue
        since_reset.append(value)
        det.update(value)  # returns None in river 0.26
        if det.drift_detected:
            if isinstance(det, drift.ADWIN):
                recent, older = since_reset[-SHIFT_RECENT:], since_reset[:-SHIFT_RECENT]
                stat = float(np.mean(recent) - np.mean(older)) if older else 0.0
                since_reset = []
            else:
                stat = float(det.p_value)
            day = pd.Timestamp(dates[i]).date() if dates is not None else None
            points.append(DriftPoint(i, day, stat))
    return points


@dataclass(frozen=True)
class DriftDecision:
    """What ``record_drift`` did: new events stored, champion marked stale, next step."""

    recorded: int
    marked_stale: bool
    retrain: Literal["queue", "ask", "none"]


def record_drift(
    session: Session,
    symbol: str,
    model_version_id: int | None,
    points: Sequence[DriftPoint],
    policy: str,
    *,
    detector: str = "adwin",
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> DriftDecision:
    """Store new drift events (one per symbol, detector and date) and apply the policy.

    On any NEW event the model version is marked stale. Policy ``"auto"`` returns
    ``retrain="queue"`` (the caller queues a retrain job), ``"manual"`` returns ``"ask"``
    (the dashboard asks an analyst). Re-recording known dates changes nothing and returns
    ``"none"``, so a daily job does not queue the same retrain every day. The database's
    unique (symbol, detector, date) decides what is new (``ON CONFLICT DO NOTHING``), so
    two concurrent checks cannot both record, and both act on, the same event. ``now``
    stamps ``created_at`` (default: the wall clock; a replay passes its own). No commit.
    """
    if policy not in ("auto", "manual"):
        raise ValidationFailed(f"DRIFT_POLICY must be 'manual' or 'auto', got {policy!r}")
    if any(p.date is None for p in points):
        raise ValidationFailed("drift points need dates to be recorded; pass dates")
    action = "retrain_queued" if policy == "auto" else "marked_stale"
    created_at = now or utcnow()
    rows: dict[dt.date, dict[str, Any]] = {}
    for p in points:
        assert p.date is not None
        rows.setdefault(p.date, {
            "symbol": symbol, "model_version_id": model_version_id, "detector": detector,
            "date": p.date, "statistic": p.statistic, "action": action,
            "details": {"index": p.index, **(details or {})}, "created_at": created_at,
        })  # fmt: skip
    if not rows:
        return DriftDecision(0, False, "none")
    known = set(
        session.scalars(
            select(DriftEvent.date).where(
                DriftEvent.symbol == symbol,
                DriftEvent.detector == detector,
                DriftEvent.date.in_(list(rows)),
            )
        )
    )
    fresh = [row for day, row in rows.items() if day not in known]
    if not fresh:
        return DriftDecision(0, False, "none")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(DriftEvent)
        .values(fresh)
        .on_conflict_do_nothing(index_elements=["symbol", "detector", "date"])
        .returning(DriftEvent.id)
    )
    recorded = len(session.execute(stmt).all())
    if not recorded:
        return DriftDecision(0, False, "none")
    marked = False
    if model_version_id is not None:
        version = session.get(ModelVersion, model_version_id)
        if version is not None:
            version.stale = True
            marked = True
    session.flush()
    return DriftDecision(recorded, marked, "queue" if policy == "auto" else "ask")


@dataclass(frozen=True)
class DetectorCalibration:
    """How a detector setting behaves on history, shown next to the settings.

    ``false_alarms_per_1000``: alarms per 1,000 points on stretches with no known change.
    ``delays``: points from each known change to its first alarm (None = missed).
    """

    detector: str
    params: dict[str, Any]
    n_points: int
    stationary_points: int
    false_alarms: int
    false_alarms_per_1000: float
    delays: tuple[int | None, ...]
    mean_delay: float | None
    missed: int


def replay_detectors(
    errors: Sequence[float] | Sequence[Sequence[float]],
    change_points: Sequence[int] = (),
    detector: str = "adwin",
    **params: Any,
) -> DetectorCalibration:
    """Calibrate a detector on historical errors.

    ``errors`` is either one long stream with known (or injected) ``change_points``, or a
    list of backtest folds (each run with a fresh detector, all taken as stationary).
    On a stream, alarms before the first change are false; after a change at ``c`` the
    first alarm in ``[c, next change)`` gives the delay ``index - c``; further alarms in
    the same stretch are not counted (the detector is re-learning the new regime).
    """
    folds: list[list[float]]
    if len(errors) and isinstance(errors[0], Sequence | np.ndarray):
        if change_points:
            raise ValidationFailed("change_points apply to one stream, not to a list of folds")
        folds = [[float(x) for x in fold] for fold in errors]  # type: ignore[union-attr]
    else:
        folds = [[float(x) for x in errors]]  # type: ignore[arg-type]
    n = sum(len(f) for f in folds)
    cps = sorted(int(c) for c in change_points)
    if cps and not (cps[0] > 0 and cps[-1] < n):
        raise ValidationFailed(f"change points must lie inside the stream (1..{n - 1}), got {cps}")
    alarms = [[p.index for p in detect_drift(f, detector=detector, **params)] for f in folds]
    if cps:
        stream = alarms[0]
        false = [a for a in stream if a < cps[0]]
        stationary = cps[0]
        bounds = [*cps, n]
        delays: list[int | None] = []
        for c, nxt in itertools.pairwise(bounds):
            hit = next((a for a in stream if c <= a < nxt), None)
            delays.append(None if hit is None else hit - c)
    else:
        false = [a for fold in alarms for a in fold]
        stationary, delays = n, []
    found = [d for d in delays if d is not None]
    cfg = {**(ADWIN_DEFAULTS if detector == "adwin" else KSWIN_DEFAULTS), **params}
    return DetectorCalibration(
        detector=detector,
        params=cfg,
        n_points=n,
        stationary_points=stationary,
        false_alarms=len(false),
        false_alarms_per_1000=1000.0 * len(false) / stationary if stationary else float("nan"),
        delays=tuple(delays),
        mean_delay=float(np.mean(found)) if found else None,
        missed=sum(d is None for d in delays),
    )


def inject_shift(errors: Sequence[float], at: int, shift: float) -> list[float]:
    """A copy of ``errors`` with ``shift`` added from index ``at`` on (a known change)."""
    if not 0 < at < len(errors):
        raise ValidationFailed(
            f"the change must lie inside the stream (1..{len(errors) - 1}), got {at}"
        )
    return [float(x) + (shift if i >= at else 0.0) for i, x in enumerate(errors)]


def error_stream(frame: pd.DataFrame, step: int = 1) -> tuple[list[float], list[dt.date]]:
    """The reconciled errors of one horizon step in target-date order, with their dates.

    One value per target date (the latest-issued if a target was logged twice), so the
    detectors see one observation per trading day.
    """
    rows = frame[(frame["step"] == step) & frame["error"].notna()]
    rows = rows.sort_values(["target_date", "issued_at"]).drop_duplicates(
        "target_date", keep="last"
    )
    return rows["error"].astype(float).tolist(), [t.date() for t in rows["target_date"]]


def logged_errors(
    session: Session,
    symbol: str,
    step: int = 1,
    *,
    model_version_id: int | None = None,
    issued_by: str | None = None,
    until: dt.date | None = None,
) -> tuple[list[float], list[dt.date]]:
    """``error_stream`` straight from the database (three columns, no DataFrame): the
    daily check and a replay run it every day, so it stays cheap as the ledger grows."""
    stmt = select(Prediction.target_date, Prediction.error).where(
        Prediction.symbol == symbol, Prediction.step == step, Prediction.error.is_not(None)
    )
    if model_version_id is not None:
        stmt = stmt.where(Prediction.model_version_id == model_version_id)
    if issued_by is not None:
        stmt = stmt.where(Prediction.issued_by == issued_by)
    if until is not None:
        stmt = stmt.where(Prediction.target_date <= until)
    # Ordered so that the latest-issued forecast of each target date comes last and wins.
    stmt = stmt.order_by(Prediction.target_date, Prediction.issued_at, Prediction.id)
    latest: dict[dt.date, float] = {}
    for day, error in session.execute(stmt):
        latest[day] = float(error or 0.0)  # never None: filtered in the query
    return list(latest.values()), list(latest)


def check_drift(
    session: Session,
    symbol: str,
    model_version_id: int | None,
    policy: str,
    *,
    detector: str = "adwin",
    step: int = 1,
    issued_by: str | None = None,
    until: dt.date | None = None,
    now: dt.datetime | None = None,
    **params: Any,
) -> DriftDecision:
    """Use case: ledger errors -> detector -> drift events and policy (no commit).

    The stream is the errors of one model (``model_version_id``), or with ``None`` every
    forecast of the symbol (narrowed by ``issued_by``, e.g. ``"replay"``): the served
    champion's stream across retrains, where a weekly retrain would leave each single
    version too few points to test. ``until`` ignores target dates after it. Events go to
    ``model_version_id``, or when it is None to the current champion.

    Re-running over the same ledger records nothing new (events are idempotent per date),
    so it is safe in a daily job.
    """
    errors, dates = logged_errors(
        session, symbol, step, model_version_id=model_version_id, issued_by=issued_by,
        until=until,
    )  # fmt: skip
    points = detect_drift(errors, dates, detector=detector, **params)
    cfg = {**(ADWIN_DEFAULTS if detector == "adwin" else KSWIN_DEFAULTS), **params}
    owner = model_version_id
    if owner is None:
        owner = session.scalar(
            select(ModelVersion.id).where(
                ModelVersion.symbol == symbol, ModelVersion.role == "champion"
            )
        )
    return record_drift(
        session, symbol, owner, points, policy, detector=detector,
        details={"step": step, "params": cfg}, now=now,
    )  # fmt: skip

"""Drift in forecast ERRORS (not prices) with river's ADWIN and KSWIN, and what to do then.

Prices always drift; that is not news. A change in the error stream means the model no
longer fits the market. Errors in price units hide the change that matters most: in a
crisis they triple while their mean stays near zero. So every reconciled error is first
STANDARDISED by the forecast's own predicted sigma, read back from its stored 95% band
(``standardised_errors``), and three detectors watch the one-step stream of z (one value
per target date, horizon step 1: the step reconciled first and most often):

- ``volatility``: Page-Hinkley (river's CUSUM test, one-sided: up) over z**2 (or |z|,
  see ``kind_stream``). Its mean is about 1 while the bands match the market; it rises
  when the market moves more than the bands allow. (Bands far too wide show as a
  ``shape`` event: z's spread collapses.)
- ``bias``: ADWIN over z: the forecasts are systematically too high or too low.
- ``shape``: KSWIN over z: the distribution of z changed (e.g. fatter tails).

Each stored event says which kind it is. Defaults (``KIND_DEFAULTS``) were calibrated by
replay on the bundled series (``core.monitor.calibration``). The detectors:

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

Detector = Literal["adwin", "kswin", "pagehinkley"]
# river-level defaults of ``detect_drift`` on a raw stream
ADWIN_DEFAULTS: dict[str, Any] = {"delta": 0.002, "clock": 1}
KSWIN_DEFAULTS: dict[str, Any] = {"alpha": 0.005, "window_size": 100, "stat_size": 30, "seed": 42}
PH_DEFAULTS: dict[str, Any] = {"min_instances": 30, "delta": 0.005, "threshold": 50.0,
                               "alpha": 0.9999, "mode": "both"}
DEFAULTS: dict[str, dict[str, Any]] = {"adwin": ADWIN_DEFAULTS, "kswin": KSWIN_DEFAULTS,
                                       "pagehinkley": PH_DEFAULTS}
SHIFT_RECENT = 10

Kind = Literal["volatility", "bias", "shape"]
KINDS: tuple[str, ...] = ("volatility", "bias", "shape")
KIND_DETECTOR: dict[str, Detector] = {"volatility": "pagehinkley", "bias": "adwin",
                                      "shape": "kswin"}
# Calibrated by replay on the bundled series (python -m core calibrate-drift): at most 2
# alarms per 1,000 calm trading days and a volatility event within 15 trading days of
# 2008-09-15 on every bundled series that covers it. See README, Monitoring.
# Volatility: a one-sided Page-Hinkley (CUSUM) test on z**2 with |z| capped at 4 (one
# earnings jump of 7 sigma alone must not be a regime change: it adds at most 16 to the
# sum, below the threshold of 25). ADWIN (delta 0.2) over z**2 caught 2008 after 2-11
# trading days on four series but after 43 on GOOG, whose earlier 2008 swings had already
# shrunk ADWIN's window; the CUSUM accumulates the excess of z**2 over its running mean
# day by day: 3-11 trading days on every bundled series, 1.19 false alarms per 1,000 calm
# days (thresholds 20-30, delta 0.1-0.2 with the cap also met both targets).
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "volatility": {"threshold": 25.0, "delta": 0.2, "mode": "up", "min_instances": 30,
                   "alpha": 0.9999, "cap": 4.0},
    "bias": {"delta": 0.002, "clock": 1},
    "shape": {"alpha": 0.0001, "window_size": 100, "stat_size": 30, "seed": 42},
}
Z95 = 1.959964  # standard normal quantile of 0.975: the 95% band is mean +- Z95 sigma


def standardised_errors(
    actual: Sequence[float] | np.ndarray,
    mean: Sequence[float] | np.ndarray,
    lo95: Sequence[float] | np.ndarray,
    hi95: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """z = error / predicted sigma, with sigma read back from each row's 95% band.

    A log-price model's band is ``exp`` of a band symmetric about the log forecast, so
    there ``z = (log(actual) - log(mean)) / ((log(hi95) - log(lo95)) / (2 * Z95))``. A
    price-space model's band is symmetric in price: ``z = (actual - mean) /
    ((hi95 - lo95) / (2 * Z95))``. The ledger does not store the model's space, so each
    row uses the space in which its band is the more symmetric about its mean (exactly
    symmetric in one space, off by the squared relative width in the other). NaN where
    the band has no width or a value is not a positive finite price.

    >>> round(float(standardised_errors([110.0], [100.0], [90.0], [110.0])[0]), 4)  # price
    1.96
    """
    a, m = np.asarray(actual, dtype=float), np.asarray(mean, dtype=float)
    lo, hi = np.asarray(lo95, dtype=float), np.asarray(hi95, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        la, lm, llo, lhi = np.log(a), np.log(m), np.log(lo), np.log(hi)
        log_asym = np.abs(lhi + llo - 2 * lm) / (lhi - llo)
        price_asym = np.abs(hi + lo - 2 * m) / (hi - lo)
        z_log = (la - lm) / ((lhi - llo) / (2 * Z95))
        z_price = (a - m) / ((hi - lo) / (2 * Z95))
    use_log = np.isfinite(log_asym) & (~np.isfinite(price_asym) | (log_asym < price_asym))
    z = np.where(use_log, z_log, z_price)
    return np.where(np.isfinite(z) & (hi > lo), z, np.nan)


def kind_stream(
    z: Sequence[float] | np.ndarray, kind: str, volatility: str = "square",
    cap: float | None = None,
) -> np.ndarray:
    """The values a kind's detector watches: z for bias and shape; for volatility z**2
    (``volatility="square"``, the default: its mean is realised over predicted variance,
    1 while the bands fit) or |z| (``"abs"``), with |z| capped at ``cap`` first if given.

    Replayed on the bundled series (``core.monitor.calibration``), with Page-Hinkley
    (threshold 25, delta 0.2, up) over z**2 capped at |z| = 4 the first volatility event
    after 2008-09-15 came 3-11 trading days later on all five series, 1.19 false alarms
    per 1,000 calm days; over |z| (threshold 9, delta 0.1, no cap) 5-13 days, 1.19. z**2's
    mean jumps further when the variance does. (ADWIN delta 0.2 over z**2: 2-11 days on
    four series, GOOG 43; 1.66.)
    """
    if kind not in KINDS:
        raise ValidationFailed(f"unknown drift kind {kind!r}; use one of {', '.join(KINDS)}")
    if volatility not in ("square", "abs"):
        raise ValidationFailed(f"volatility stream must be 'square' or 'abs', got {volatility!r}")
    values = np.asarray(z, dtype=float)
    if kind != "volatility":
        return values
    mag = np.abs(values) if cap is None else np.minimum(np.abs(values), float(cap))
    return mag**2 if volatility == "square" else mag


def kind_params(kind: str, **params: Any) -> dict[str, Any]:
    """A kind's calibrated detector settings with ``params`` overriding them."""
    if kind not in KINDS:
        raise ValidationFailed(f"unknown drift kind {kind!r}; use one of {', '.join(KINDS)}")
    return {**KIND_DEFAULTS[kind], **params}


def detect_kind(
    z: Sequence[float] | np.ndarray, dates: Sequence[Any] | None, kind: str, **params: Any
) -> list[DriftPoint]:
    """Run the detector of ``kind`` over a stream of standardised errors (a
    ``volatility="abs"`` among ``params`` picks |z| instead of z**2, ``cap`` caps |z|)."""
    cfg = kind_params(kind, **params)
    stream = kind_stream(z, kind, cfg.pop("volatility", "square"), cfg.pop("cap", None))
    return detect_drift(stream.tolist(), dates, detector=KIND_DETECTOR[kind], **cfg)


@dataclass(frozen=True)
class DriftPoint:
    """A detection: position in the stream, its date, and the detector's statistic.

    ``statistic`` for KSWIN is its Kolmogorov-Smirnov p-value. For ADWIN and Page-Hinkley
    it is the shift in mean error: the last ``SHIFT_RECENT`` errors minus the errors before
    them since the detector last reset (river 0.26 resets both on the update after a
    detection, so their own state says nothing useful at that moment).
    """

    index: int
    date: dt.date | None
    statistic: float


def make_detector(detector: str, **params: Any) -> drift.ADWIN | drift.KSWIN | drift.PageHinkley:
    """A configured river detector; unknown names or parameters raise ``ValidationFailed``."""
    if detector == "pagehinkley":
        cfg = {**PH_DEFAULTS, **params}
        if float(cfg["threshold"]) <= 0 or float(cfg["delta"]) < 0:
            raise ValidationFailed(
                f"Page-Hinkley needs threshold > 0 and delta >= 0, got threshold="
                f"{cfg['threshold']!r}, delta={cfg['delta']!r}")
        if cfg["mode"] not in ("up", "down", "both"):
            raise ValidationFailed(
                f"Page-Hinkley mode must be up, down or both, got {cfg['mode']!r}")
        try:
            return drift.PageHinkley(**cfg)
        except TypeError as exc:
            raise ValidationFailed(f"bad Page-Hinkley parameter: {exc}") from None
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
    raise ValidationFailed(
        f"unknown drift detector {detector!r}; use 'adwin', 'kswin' or 'pagehinkley'")


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
            if isinstance(det, drift.ADWIN | drift.PageHinkley):
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
    kind: str = "bias",
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> DriftDecision:
    """Store new drift events (one per symbol, detector, kind and date) and apply the policy.

    On any NEW event the model version is marked stale. Policy ``"auto"`` returns
    ``retrain="queue"`` (the caller queues a retrain job), ``"manual"`` returns ``"ask"``
    (the dashboard asks an analyst). Re-recording known dates changes nothing and returns
    ``"none"``, so a daily job does not queue the same retrain every day. The database's
    unique (symbol, detector, kind, date) decides what is new (``ON CONFLICT DO NOTHING``), so
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
            "kind": kind, "date": p.date, "statistic": p.statistic, "action": action,
            "details": {"index": p.index, **(details or {})}, "created_at": created_at,
        })  # fmt: skip
    if not rows:
        return DriftDecision(0, False, "none")
    known = set(
        session.scalars(
            select(DriftEvent.date).where(
                DriftEvent.symbol == symbol,
                DriftEvent.detector == detector,
                DriftEvent.kind == kind,
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
        .on_conflict_do_nothing(index_elements=["symbol", "detector", "kind", "date"])
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
    cfg = {**DEFAULTS.get(detector, {}), **params}
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


def logged_z(
    session: Session,
    symbol: str,
    step: int = 1,
    *,
    model_version_id: int | None = None,
    issued_by: str | None = None,
    until: dt.date | None = None,
) -> tuple[list[float], list[dt.date]]:
    """Standardised errors (``standardised_errors``) of one horizon step from the ledger,
    one per target date (the latest-issued forecast wins), in target-date order."""
    stmt = select(
        Prediction.target_date, Prediction.actual, Prediction.mean, Prediction.lo95,
        Prediction.hi95,
    ).where(
        Prediction.symbol == symbol, Prediction.step == step, Prediction.actual.is_not(None)
    )  # fmt: skip
    if model_version_id is not None:
        stmt = stmt.where(Prediction.model_version_id == model_version_id)
    if issued_by is not None:
        stmt = stmt.where(Prediction.issued_by == issued_by)
    if until is not None:
        stmt = stmt.where(Prediction.target_date <= until)
    stmt = stmt.order_by(Prediction.target_date, Prediction.issued_at, Prediction.id)
    latest: dict[dt.date, tuple[float, float, float, float]] = {}
    for day, actual, mean, lo95, hi95 in session.execute(stmt):  # actual: never None (filtered)
        latest[day] = (float(actual or 0.0), float(mean), float(lo95), float(hi95))
    if not latest:
        return [], []
    a, m, lo, hi = (np.array(col) for col in zip(*latest.values(), strict=True))
    return standardised_errors(a, m, lo, hi).tolist(), list(latest)


def check_drift(
    session: Session,
    symbol: str,
    model_version_id: int | None,
    policy: str,
    *,
    kinds: Sequence[str] = KINDS,
    step: int = 1,
    issued_by: str | None = None,
    until: dt.date | None = None,
    now: dt.datetime | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> DriftDecision:
    """Use case: ledger -> standardised errors -> one detector per kind -> drift events
    and policy (no commit).

    The stream is the z of one model (``model_version_id``), or with ``None`` every
    forecast of the symbol (narrowed by ``issued_by``, e.g. ``"replay"``): the served
    champion's stream across retrains, where a weekly retrain would leave each single
    version too few points to test. ``until`` ignores target dates after it. ``params``
    overrides a kind's calibrated settings (``{"volatility": {"delta": 0.01}}``). Events
    go to ``model_version_id``, or when it is None to the current champion.

    Re-running over the same ledger records nothing new (events are idempotent per kind
    and date), so it is safe in a daily job; one retrain is asked for however many kinds
    fire on the same day.
    """
    z, dates = logged_z(
        session, symbol, step, model_version_id=model_version_id, issued_by=issued_by,
        until=until,
    )  # fmt: skip
    owner = model_version_id
    if owner is None:
        owner = session.scalar(
            select(ModelVersion.id).where(
                ModelVersion.symbol == symbol, ModelVersion.role == "champion"
            )
        )
    recorded, marked, retrain = 0, False, "none"
    for kind in kinds:
        cfg = kind_params(kind, **(params or {}).get(kind, {}))
        points = detect_kind(z, dates, kind, **cfg)
        decision = record_drift(
            session, symbol, owner, points, policy, detector=KIND_DETECTOR[kind], kind=kind,
            details={"step": step, "params": cfg, "stream": "z^2" if kind == "volatility"
                     else "z"}, now=now,
        )  # fmt: skip
        recorded += decision.recorded
        marked = marked or decision.marked_stale
        if decision.retrain != "none":
            retrain = decision.retrain
    return DriftDecision(recorded, marked, retrain)  # type: ignore[arg-type]

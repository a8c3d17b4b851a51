"""One day of monitoring for one symbol: reconcile, score, drift, alerts, deliveries.

``monitor_symbol`` is what the scheduled daily job runs after the close, and what a replay
runs for each simulated day; it takes the caller's Session and never commits. ``as_of``
is the last trading day whose bar is in, ``now`` the clock the alerts and drift events
are stamped with (a replay passes simulated time, so cool-downs follow replayed days).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from core.errors import ValidationFailed
from core.monitor import alerts, channels, drift, ledger
from core.monitor.alerts import AlertOutcome, SessionCounter
from core.monitor.channels import DeliveryReport
from core.monitor.drift import DriftDecision
from core.settings import Settings

# ``DriftSettings.detector`` -> the kinds of change watched ("adwin"/"kswin": the detectors'
# own kinds, for callers that chose a detector before the kinds existed)
DETECTOR_KINDS: dict[str, tuple[str, ...]] = {
    "all": drift.KINDS, "adwin": ("volatility", "bias"), "kswin": ("shape",),
    "pagehinkley": ("volatility",),
    **{k: (k,) for k in drift.KINDS},
}


@dataclass(frozen=True)
class DriftSettings:
    """Which kinds of change are watched on which error stream, and what a detection
    leads to. ``params`` overrides the calibrated settings: by kind
    (``{"volatility": {"delta": 0.01}}``), or flat (``{"alpha": 0.5}``) for every kind
    watched."""

    detector: str = "all"  # all | volatility | bias | shape | adwin | kswin
    step: int = 1
    policy: str = "auto"
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def kinds(self) -> tuple[str, ...]:
        try:
            return DETECTOR_KINDS[self.detector]
        except KeyError:
            raise ValidationFailed(
                f"unknown drift detector {self.detector!r}; use one of {', '.join(DETECTOR_KINDS)}"
            ) from None

    @property
    def params_by_kind(self) -> dict[str, dict[str, Any]]:
        if all(key in drift.KINDS for key in self.params):
            return dict(self.params)
        return {kind: dict(self.params) for kind in self.kinds}


@dataclass
class DailyOutcome:
    """What one day of monitoring did."""

    as_of: dt.date
    reconciled: int
    drift: DriftDecision
    alerts: AlertOutcome
    deliveries: DeliveryReport

    @property
    def retrain_requested(self) -> bool:
        return self.drift.retrain == "queue"


def monitor_symbol(
    session: Session,
    settings: Settings,
    symbol: str,
    as_of: dt.date,
    now: dt.datetime,
    *,
    drift_settings: DriftSettings | None = None,
    issued_by: str | None = None,
    reconcile_since: dt.date | None = None,
    calendar: SessionCounter | None = None,
    deliver: bool = True,
    deliver_all_pending: bool = True,
) -> DailyOutcome:
    """Reconcile targets up to ``as_of``, check drift on the errors, run the alert rules
    and deliver what opened (no commit).

    ``issued_by`` narrows the drift stream to one front door's forecasts (a replay's own
    rows); ``reconcile_since`` limits reconciliation to recent targets (the daily job
    passes today minus the revision period). With ``deliver_all_pending=False`` only the
    alerts opened here are delivered (a replay must not retry production's deliveries).
    """
    cfg = drift_settings or DriftSettings()
    reconciled = ledger.reconcile(session, symbol, since=reconcile_since, until=as_of, now=now)
    decision = drift.check_drift(
        session, symbol, None, cfg.policy, kinds=cfg.kinds, step=cfg.step,
        issued_by=issued_by, until=as_of, now=now, params=cfg.params_by_kind,
    )  # fmt: skip
    outcome = alerts.evaluate_alerts(
        session, settings, symbol, as_of, calendar=calendar, now=now
    )
    report = DeliveryReport()
    if deliver and (deliver_all_pending or outcome.opened):
        ids = None if deliver_all_pending else [a.id for a in outcome.opened]
        report = channels.deliver_pending(session, settings, now=now, alert_ids=ids)
    return DailyOutcome(as_of, reconciled, decision, outcome, report)

"""How the drift detectors behave on one symbol's own forecast errors.

``calibrate_symbol`` takes the symbol's logged one-step errors (the ledger, replayed or
live) or, when fewer than ``min_logged`` are reconciled, one-step errors of a rolling
backtest (fit once, then ``update`` day by day). Each detector then runs twice: on the
errors as they are (every alarm counts as false: an upper bound on the false-alarm rate,
since real changes count too) and with a shift of ``shift_sd`` standard deviations
injected in the middle (the delay to catch a change of that size).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.db.engine import Database
from core.errors import NotEnoughHistory
from core.forecast.factory import make_forecaster
from core.market.series import load_series
from core.monitor.drift import DetectorCalibration, error_stream, inject_shift, replay_detectors
from core.monitor.ledger import ledger_frame
from core.settings import Settings
from core.symbols import check_symbol


@dataclass(frozen=True)
class CalibrationRow:
    detector: str
    params: dict[str, Any]
    false_alarms_per_1000: float
    false_alarms: int
    delay: int | None  # trading days from the injected change to the first alarm
    missed: bool


@dataclass
class CalibrationReport:
    symbol: str
    source: str  # ledger | backtest
    n_errors: int
    error_sd: float
    shift_sd: float
    change_at: int
    rows: list[CalibrationRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        lines = [
            f"{self.symbol}: {self.n_errors} one-step errors from the {self.source} "
            f"(sd {self.error_sd:.3f}); shift of {self.shift_sd:g} sd injected at "
            f"{self.change_at}",
            f"{'detector':<8} {'false alarms/1000':>18} {'delay (days)':>13}  settings",
        ]
        for r in self.rows:
            delay = "missed" if r.missed else str(r.delay)
            lines.append(
                f"{r.detector:<8} {r.false_alarms_per_1000:>18.1f} {delay:>13}  {r.params}"
            )
        return "\n".join(lines)


def backtest_errors(
    db: Database, settings: Settings, symbol: str, *, days: int = 250, train_days: int = 1000
) -> list[float]:
    """One-step errors over the last ``days`` trading days: fit once before, then update."""
    y = load_series(db, symbol, exchange=settings.exchange).close
    if len(y) < days + 60:
        raise NotEnoughHistory(
            f"needs at least {days + 60:,} trading days to calibrate, {symbol} has {len(y):,}"
        )
    cut = len(y) - days
    model = make_forecaster("auto_arima", exchange=settings.exchange).fit(
        y.iloc[max(0, cut - train_days) : cut]
    )
    errors = []
    for i in range(cut, len(y)):
        errors.append(float(y.iloc[i] - model.predict(1).mean[0]))
        model.update(y.iloc[i : i + 1])
    return errors


def calibrate_symbol(
    db: Database,
    settings: Settings,
    symbol: str,
    *,
    shift_sd: float = 1.0,
    min_logged: int = 120,
    backtest_days: int = 250,
    detectors: tuple[str, ...] = ("adwin", "kswin"),
) -> CalibrationReport:
    """False-alarm rate and detection delay of each detector on ``symbol``'s errors."""
    symbol = check_symbol(symbol)
    with db.read() as session:
        errors, _ = error_stream(ledger_frame(session, symbol), 1)
    source = "ledger"
    if len(errors) < min_logged:
        errors = backtest_errors(db, settings, symbol, days=backtest_days)
        source = "backtest"
    sd = float(np.std(errors))
    at = len(errors) // 2
    shifted = inject_shift(errors, at, shift_sd * sd)
    report = CalibrationReport(symbol, source, len(errors), sd, shift_sd, at)
    for name in detectors:
        plain: DetectorCalibration = replay_detectors(errors, detector=name)
        moved = replay_detectors(shifted, change_points=[at], detector=name)
        delay = moved.delays[0] if moved.delays else None
        report.rows.append(
            CalibrationRow(name, plain.params, plain.false_alarms_per_1000,
                           plain.false_alarms, delay, delay is None)
        )  # fmt: skip
    return report

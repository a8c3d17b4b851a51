"""How the drift detectors behave: calibrated by replay on the bundled real series.

``calibrate_bundled`` replays each bundled series (MSFT 1986-2017 shipped with pmdarima;
AAPL, GOOG, IBM and MSFT 2000-2013 from bokeh-sampledata, split- and dividend-adjusted)
through an in-memory stand-in for today's forecasts and their bands, standardises each
one-step error by the band's sigma, and runs the three detectors of
``core.monitor.drift`` (volatility, bias, shape) over:

- calm stretches (2004-2006, June 2012 - Feb 2013, and for the pmdarima MSFT its demo
  year Nov 2016 - Nov 2017): every event there counts as a false alarm, per 1,000 days;
- the 2008 crisis year: the delay, in trading days, from 2008-09-15 (Lehman) to the
  first volatility event on or after it (target: within 15).

(The volatility stream is z**2; ``params={"volatility": {"volatility": "abs"}}`` replays
|z| for comparison.) The stand-in: a random walk on log prices (ARIMA(0,1,0) without
drift: stock prices are close to one, and the product's fitted models rarely beat it)
whose one-step sigma is the standard deviation of the last ``train_days`` log returns,
refitted every 5 trading days: the product's bands as they are today (the variance of
the training window, retrained weekly). ``sigma="ewma"`` uses a RiskMetrics EWMA (lambda
0.94) instead, to show how the detectors behave once the bands follow the regime. Each
replay window starts a fresh detector, as ``python -m core replay`` does.

``calibrate_symbol`` does the same on one symbol's own logged forecasts (the product's
stored bands), with a variance change injected halfway, once enough are reconciled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.db.engine import Database
from core.errors import DataUnavailable, NotEnoughHistory, ValidationFailed
from core.monitor import drift
from core.symbols import check_symbol

CRISIS = ("2008", dt.date(2008, 1, 2), dt.date(2008, 12, 31))
LEHMAN = dt.date(2008, 9, 15)
CALM: tuple[tuple[str, dt.date, dt.date], ...] = (
    ("2004-06", dt.date(2004, 1, 2), dt.date(2006, 12, 29)),
    ("2012-13", dt.date(2012, 6, 1), dt.date(2013, 2, 28)),
    ("2016-17", dt.date(2016, 11, 1), dt.date(2017, 11, 10)),
)
MAX_FALSE_PER_1000 = 2.0
MAX_DELAY = 15
MIN_HISTORY = 250


def bundled_series() -> dict[str, pd.Series]:
    """Adjusted daily closes of every bundled series, by name."""
    from core.market.sample import load_sample_bars

    bars = load_sample_bars()
    out = {"MSFT (pmdarima)": pd.Series(bars["close"].to_numpy(float),
                                        index=pd.DatetimeIndex(bars["date"]))}
    try:
        import gzip

        from bokeh_sampledata import package_path
    except ImportError:  # optional: the calibration then covers the pmdarima series only
        return out
    with gzip.open(package_path("stocks.csv.gz"), "rt") as handle:
        frame = pd.read_csv(handle, parse_dates=["Date"])
    for ticker in ("AAPL", "GOOG", "IBM", "MSFT"):
        rows = frame[frame["Ticker"] == ticker].sort_values("Date")
        out[f"{ticker} (bokeh)"] = pd.Series(rows["Adj Close"].to_numpy(float),
                                             index=pd.DatetimeIndex(rows["Date"]))
    return out


def standin_z(
    close: pd.Series, start: dt.date, end: dt.date, *, train_days: int = 1000,
    refit_every: int = 5, sigma: str = "window",
) -> tuple[np.ndarray, list[dt.date]]:
    """Standardised one-step errors of the stand-in forecast for targets in [start, end].

    The forecast for day t, made after day t-1, is the last price; its sigma is the
    standard deviation of the (up to) ``train_days`` log returns before it, refitted every
    ``refit_every`` days (``"window"``), or the EWMA sigma of returns up to t-1 (``"ewma"``).
    z is then (log(actual) - log(mean)) / sigma, as ``drift.standardised_errors`` reads it
    back from a log model's 95% band.
    """
    if sigma not in ("window", "ewma"):
        raise ValidationFailed(f"sigma must be 'window' or 'ewma', got {sigma!r}")
    r = np.diff(np.log(close.to_numpy(float)))
    days = close.index[1:]
    pos = np.flatnonzero((days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end)))
    if pos.size == 0 or pos[0] < MIN_HISTORY:
        raise NotEnoughHistory(
            f"needs {MIN_HISTORY} trading days before {start} to replay from it, "
            f"has {max(int(pos[0]) if pos.size else 0, 0)}"
        )
    if sigma == "ewma":
        var = pd.Series(r**2).ewm(alpha=0.06, adjust=False).mean().to_numpy()
        sig = np.sqrt(var[pos - 1])
    else:
        sig = np.empty(pos.size)
        for i, t in enumerate(pos):
            if i % refit_every == 0:
                current = float(np.std(r[max(0, t - train_days) : t], ddof=1))
            sig[i] = current
    return r[pos] / sig, [d.date() for d in days[pos]]


@dataclass(frozen=True)
class WindowResult:
    series: str
    window: str
    days: int
    events: dict[str, list[str]]  # kind -> event dates
    delay: int | None = None  # 2008 only: trading days from 2008-09-15 to a volatility event


@dataclass
class BundledCalibration:
    """Replays of every bundled series, with the settings used and the verdicts."""

    sigma: str
    params: dict[str, dict[str, Any]]
    windows: list[WindowResult] = field(default_factory=list)

    def calm_days(self) -> int:
        return sum(w.days for w in self.windows if w.window != CRISIS[0])

    def false_alarms_per_1000(self, kind: str | None = None) -> float:
        kinds = drift.KINDS if kind is None else (kind,)
        n = sum(len(w.events[k]) for w in self.windows if w.window != CRISIS[0] for k in kinds)
        return 1000.0 * n / self.calm_days() if self.calm_days() else float("nan")

    def crisis_delays(self) -> dict[str, int | None]:
        """Trading days from 2008-09-15 to the first volatility event on/after it."""
        return {w.series: w.delay for w in self.windows if w.window == CRISIS[0]}

    @property
    def passed(self) -> bool:
        delays = self.crisis_delays().values()
        return self.false_alarms_per_1000() <= MAX_FALSE_PER_1000 and all(
            d is not None and d <= MAX_DELAY for d in delays
        )

    def table(self) -> pd.DataFrame:
        """One row per (series, window): days and the events of each kind."""
        rows = []
        for w in self.windows:
            row: dict[str, Any] = {"series": w.series, "window": w.window, "days": w.days}
            for k in drift.KINDS:
                row[k] = len(w.events[k])
            row["volatility events"] = ", ".join(w.events["volatility"][:4])
            rows.append(row)
        return pd.DataFrame(rows)

    def summary_frame(self) -> pd.DataFrame:
        """Per series: false alarms per 1,000 calm days (all kinds) and the 2008 delay."""
        rows = []
        delays = self.crisis_delays()
        for name in dict.fromkeys(w.series for w in self.windows):
            calm = [w for w in self.windows if w.series == name and w.window != CRISIS[0]]
            days = sum(w.days for w in calm)
            alarms = sum(len(w.events[k]) for w in calm for k in drift.KINDS)
            delay = delays.get(name, "not covered")
            rows.append({
                "series": name, "calm days": days,
                "false alarms / 1,000 calm days": round(1000 * alarms / days, 2) if days else None,
                "days from 2008-09-15 to a volatility event":
                    "missed" if delay is None else str(delay),
            })  # fmt: skip
        rows.append({
            "series": "all", "calm days": self.calm_days(),
            "false alarms / 1,000 calm days": round(self.false_alarms_per_1000(), 2),
            "days from 2008-09-15 to a volatility event":
                f"target <= {MAX_DELAY} ({'met' if self.passed else 'not met everywhere'})",
        })  # fmt: skip
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(calm_days=self.calm_days(), passed=self.passed,
                   false_alarms_per_1000={k: self.false_alarms_per_1000(k) for k in drift.KINDS}
                   | {"all": self.false_alarms_per_1000()},
                   crisis_delays=self.crisis_delays())
        return out

    def describe(self) -> str:
        lines = [f"Drift detectors replayed on the bundled series (stand-in bands: {self.sigma}"
                 f" sigma); settings {self.params}",
                 self.table().to_string(index=False), ""]
        per_kind = ", ".join(f"{k} {self.false_alarms_per_1000(k):.2f}" for k in drift.KINDS)
        lines.append(f"false alarms per 1,000 calm trading days ({self.calm_days():,} days): "
                     f"{self.false_alarms_per_1000():.2f} in all ({per_kind}); target <= "
                     f"{MAX_FALSE_PER_1000:g}")
        delays = ", ".join(f"{s} {'missed' if d is None else d}"
                           for s, d in self.crisis_delays().items())
        lines.append(f"trading days from 2008-09-15 to the first volatility event: {delays}; "
                     f"target <= {MAX_DELAY}")
        lines.append("PASS" if self.passed else "FAIL")
        return "\n".join(lines)


def calibrate_bundled(
    *, sigma: str = "window", params: dict[str, dict[str, Any]] | None = None,
    kinds: tuple[str, ...] = drift.KINDS,
) -> BundledCalibration:
    """Replay every bundled series through its calm windows and 2008 (see module doc)."""
    cfg = {k: drift.kind_params(k, **(params or {}).get(k, {})) for k in drift.KINDS}
    report = BundledCalibration(sigma, cfg)
    for name, close in bundled_series().items():
        for label, start, end in (CRISIS, *CALM):
            try:
                z, days = standin_z(close, start, end, sigma=sigma)
            except NotEnoughHistory:
                continue  # the series does not cover this window with enough history
            if len(days) < 100 or days[-1] < end - dt.timedelta(days=7):
                continue  # ends before the window does (bokeh stops 2013-03-01)
            events: dict[str, list[str]] = {k: [] for k in drift.KINDS}
            delay = None
            for k in kinds:
                points = drift.detect_kind(z, days, k, **cfg[k])
                events[k] = [p.date.isoformat() for p in points if p.date is not None]
                if k == "volatility" and label == CRISIS[0]:
                    start_at = next(i for i, d in enumerate(days) if d >= LEHMAN)
                    after = [p.index - start_at for p in points if p.index >= start_at]
                    delay = after[0] if after else None
            report.windows.append(WindowResult(name, label, len(days), events, delay))
    if not report.windows:
        raise DataUnavailable("no bundled series covers the calibration windows")
    return report


@dataclass(frozen=True)
class SymbolCalibration:
    """The detectors on one symbol's own logged z, as logged and with a variance change
    (z multiplied by ``factor``) injected halfway."""

    symbol: str
    n: int
    factor: float
    change_at: int
    false_alarms: dict[str, int]
    delays: dict[str, int | None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        lines = [f"{self.symbol}: {self.n} logged one-step standardised errors; variance "
                 f"change x{self.factor:g} injected at {self.change_at}"]
        for k in drift.KINDS:
            d = self.delays[k]
            lines.append(f"  {k:<10} alarms as logged {self.false_alarms[k]:>3}   delay after "
                         f"the change {'missed' if d is None else d}")
        return "\n".join(lines)


def calibrate_symbol(db: Database, symbol: str, *, factor: float = 2.0,
                     min_logged: int = 120) -> SymbolCalibration:
    """The detectors on ``symbol``'s logged z (the product's own stored bands)."""
    symbol = check_symbol(symbol)
    with db.read() as session:
        z, _ = drift.logged_z(session, symbol, 1)
    z = [v for v in z if np.isfinite(v)]
    if len(z) < min_logged:
        raise NotEnoughHistory(
            f"needs at least {min_logged} reconciled one-step forecasts of {symbol}, has "
            f"{len(z)}; run `python -m core replay --symbol {symbol} ...` first"
        )
    at = len(z) // 2
    changed = np.asarray(z, dtype=float)
    changed[at:] *= factor
    false, delays = {}, {}
    for k in drift.KINDS:
        false[k] = len(drift.detect_kind(z, None, k))
        after = [p.index - at for p in drift.detect_kind(changed, None, k) if p.index >= at]
        delays[k] = after[0] if after else None
    return SymbolCalibration(symbol, len(z), factor, at, false, delays)

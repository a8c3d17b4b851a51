"""The acceptance table of honest uncertainty (issue 10), measured in one run (prints,
asserts nothing).

    .venv/bin/python bench/bands.py [--rows rows.csv] [--save rows.csv] [--skip-replay]

1. Bands and drift: the in-memory replay of ``python -m core evaluate`` (2008 and a calm
   year of every bundled series; weekly refit, daily update, reconciled as the actuals
   arrive) or its saved rows (``--rows``, from ``evaluate --csv``). Per series and pooled:
   coverage 80/95 of the published default (``garch+aci``: GARCH(1,1)-t bands with the
   ledger-driven adaptive conformal layer) beside today's ``gaussian`` and the other
   methods, the interval score relative to the gaussian bands, and the first volatility
   event of the drift detectors on the published bands' one-step errors; then the drift
   calibration of ``python -m core calibrate-drift`` (the detectors' acceptance).
2. Cost: the daily refresh (``update`` with one new bar, including the GARCH variance
   filter, ``predict(5)`` and the ACI state read from a ledger of 250 reconciled days),
   median of repeats, beside the Gaussian model's refresh (ratio); and one 250-trading-day
   product replay (``core.monitor.replay``, MSFT to 2017-11-10) with its wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from core.forecast import evaluation as ev

warnings.simplefilter("ignore")
DEFAULT = "garch+aci"
TARGETS = {"crisis": {"cov80": (0.72, 0.88), "cov95": (0.90, 0.98)},
           "calm": {"cov80": (0.72, 0.88), "cov95": (0.92, 0.98)}}
METHODS = ("gaussian", "garch", "garch+aci", "garch+conformal")


def load_rows(path: str) -> pd.DataFrame:
    rows = pd.read_csv(path, parse_dates=["origin", "target"])
    rows["scored"] = rows["scored"].astype(bool)
    return rows


def _ok(value: float, lo: float, hi: float) -> str:
    return "ok" if lo <= value <= hi else "NO"


def acceptance(evaluation: ev.Evaluation) -> None:
    pooled = evaluation.pooled()
    series = evaluation.per_series()
    print("Bands: coverage 80/95, interval score vs today's gaussian bands (+ = better), "
          "first volatility event (one-step errors of the published bands)")
    head = (f"{'period':<7} {'series':<12} {'method':<16} {'cov80':>6} {'cov95':>6} "
            f"{'IS':>8} {'IS gain':>8} {'vol event':>11} {'delay':>6}")
    print(head)
    print("-" * len(head))
    periods = list(pooled.index.get_level_values("period").unique())
    for period in periods:
        names = list(series.loc[period].index.get_level_values("series").unique())
        for name, frame, key in [*((n, series, (period, n)) for n in names),
                                 ("pooled", pooled, (period,))]:
            ref = frame.loc[(*key, "gaussian"), "is"]
            for method in METHODS:
                if (*key, method) not in frame.index:
                    continue
                row = frame.loc[(*key, method)]
                delay = row["vol_delay"]
                when = row["vol_first"]
                delay_text = ("-" if pd.isna(delay) else "missed" if np.isinf(delay)
                              else str(int(delay)))
                when_text = "-" if pd.isna(when) else f"{pd.Timestamp(when):%Y-%m-%d}"
                print(f"{period:<7} {name:<12} {method:<16} {row['cov80']:>6.3f} "
                      f"{row['cov95']:>6.3f} {row['is']:>8.3f} "
                      f"{100 * (1 - row['is'] / ref):>+7.1f}% {when_text:>11} {delay_text:>6}")
        print()
    print(f"Acceptance, published default {DEFAULT} (pooled):")
    for period in periods:
        row = pooled.loc[(period, DEFAULT)]
        gain = 100 * (1 - row["is"] / pooled.loc[(period, "gaussian"), "is"])
        need = 15.0 if period == "crisis" else 0.0
        t = TARGETS[period]
        print(f"  {period}: cov80 {row['cov80']:.3f} in {t['cov80']} "
              f"{_ok(row['cov80'], *t['cov80'])}; cov95 {row['cov95']:.3f} in {t['cov95']} "
              f"{_ok(row['cov95'], *t['cov95'])}; interval score {gain:+.1f}% vs gaussian "
              f"(need >= {need:+.0f}%) {'ok' if gain >= need else 'NO'}")


def drift_acceptance() -> None:
    from core.monitor.calibration import calibrate_bundled

    print("\nDrift detectors (python -m core calibrate-drift: today's window-sigma bands)")
    report = calibrate_bundled()
    print(report.summary_frame().to_string(index=False))
    print("PASS" if report.passed else "FAIL")


def refresh_ms(repeat: int = 30) -> None:
    """Median daily refresh: update with one bar + predict(5) + the ACI state from a
    ledger of 250 reconciled days x 5 steps; gaussian and garch side by side."""
    from core.auth import SYSTEM  # noqa: F401  (the package's import side effects)
    from core.db.engine import Database
    from core.db.migrate import upgrade
    from core.forecast import forecaster_from_state
    from core.forecast.arima import AutoARIMA
    from core.monitor import ledger, published
    from tests.integration.test_monitor_support import add_bars, add_model_version

    y = ev.bundled_cases()[0].y.loc[:"2008-06-30"]
    train, new = y.iloc[-1001:-1], y.iloc[-1:]
    tmp = Path(tempfile.mkdtemp(prefix="bench-bands-"))
    db = Database.connect(f"sqlite:///{tmp / 'ledger.db'}")
    upgrade(db)
    days = list(y.index[-260:])
    with db.begin() as s:
        mv = add_model_version(s)
        for i in range(250):
            p = float(y.iloc[-260 + i])
            ledger.log_forecast(
                s, symbol="MSFT", model_version_id=mv, data_date=days[i].date(),
                dates=[d.date() for d in days[i + 1 : i + 6]], mean=[p] * 5,
                lo80=[p * 0.98] * 5, hi80=[p * 1.02] * 5, lo95=[p * 0.97] * 5,
                hi95=[p * 1.03] * 5, naive=p, last_value=p, exog_policy=None,
                issued_by="bench")
        add_bars(s, "MSFT", {d.date(): float(v) for d, v in y.iloc[-260:].items()})
        ledger.reconcile(s, "MSFT")
    print("\nDaily refresh on 1,000 MSFT closes (median of "
          f"{repeat}; update + predict(5) + ACI from a 250-day ledger)")
    out = {}
    for bands in ("gaussian", "garch"):
        state = AutoARIMA(bands=bands).fit(train).to_state()
        times, parts, cpu = [], [], []
        for _ in range(repeat):
            model = forecaster_from_state(state)
            c0 = time.process_time()
            t0 = time.perf_counter()
            model.update(new)
            t1 = time.perf_counter()
            raw = model.predict(5)
            with db.read() as s:
                published.publish_bands(s, "MSFT", raw, log=True, base=model.band_base,
                                        calibration="aci", as_of=new.index[-1].date())
            t2 = time.perf_counter()
            cpu.append(time.process_time() - c0)
            times.append(t2 - t0)
            parts.append((t1 - t0, t2 - t1))
        out[bands] = 1000 * statistics.median(times)
        upd = 1000 * statistics.median(p[0] for p in parts)
        pub = 1000 * statistics.median(p[1] for p in parts)
        print(f"  {bands:<9} refresh {out[bands]:6.2f} ms wall, "
              f"{1000 * statistics.median(cpu):6.2f} ms CPU (update incl. variance filter "
              f"{upd:5.2f} ms, predict + ACI publish {pub:5.2f} ms)  target < 25 ms "
              f"{'ok' if out[bands] < 25 else 'NO'}")
    print(f"  ratio garch/gaussian {out['garch'] / out['gaussian']:.2f}x; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    db.dispose()


def replay_seconds(days: int = 250) -> None:
    from core.auth import SYSTEM
    from core.db.engine import Database
    from core.db.migrate import upgrade
    from core.market.ingest import ingest_sample
    from core.market.series import load_series
    from core.monitor.replay import replay
    from core.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-bands-replay-"))
    settings = Settings.from_env({
        "DATA_DIR": str(tmp), "MODEL_DIR": str(tmp / "models"),
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
    })  # fmt: skip
    db = Database.connect(settings.database_url)
    upgrade(db)
    ingest_sample(db, actor=SYSTEM)
    idx = load_series(db, "MSFT").close.index[-days:]
    started, cpu = time.perf_counter(), time.process_time()
    summary = replay(db, settings, "MSFT", idx[0].date(), idx[-1].date(), horizon=5,
                     train_days=1000)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"\n{days}-day product replay (MSFT {idx[0].date()}..{idx[-1].date()}, GARCH-t + "
          f"ACI published bands): {wall:.1f} s wall, {cpu:.1f} s CPU, target < 60 s "
          f"{'ok' if wall < 60 else 'NO'}; {len(summary.retrains)} fits, "
          f"{summary.drift_events} drift events; load average {os.getloadavg()[0]:.1f}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", help="rows of a saved evaluation (evaluate --csv)")
    parser.add_argument("--save", help="write the evaluation's rows here")
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.rows:
        evaluation = ev.Evaluation(load_rows(args.rows), {})
    else:
        evaluation = ev.evaluate(progress=lambda _, m: print(f"... {m}", file=sys.stderr))
        if args.save:
            evaluation.rows.to_csv(args.save, index=False)
    print(f"measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    acceptance(evaluation)
    drift_acceptance()
    if not args.skip_timing:
        refresh_ms()
    if not args.skip_replay:
        replay_seconds()
    print(f"\nbench/bands.py took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

"""Benchmark of a 250-trading-day replay of MSFT ending 2017-11-10 (prints, asserts nothing).

    .venv/bin/python bench/replay.py [--days 250] [--naive-days 20]

In one run, on a temporary SQLite with the bundled sample loaded:

- the replay (``core.monitor.replay``): per day reconcile, scores, drift, alerts, a daily
  ``update`` of the champion (same order) and a forecast logged to the ledger; a full
  statsforecast order search + statsmodels refit every Monday and on drift;
- the naive way, as the seed's daily auto_arima DAG would do it: a full pmdarima
  ``auto_arima`` search on the same 1,000-day training window (log prices) every day,
  then ``predict(5)``; measured on the first ``--naive-days`` days only (it is slow).

Per-day medians and the ratio are printed; the wall time of the whole replay too.
"""

from __future__ import annotations

import argparse
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

from core.auth import SYSTEM
from core.db.engine import Database
from core.db.migrate import upgrade
from core.market.ingest import ingest_sample
from core.market.series import load_series
from core.monitor.replay import replay
from core.settings import Settings

warnings.simplefilter("ignore")
TRAIN_DAYS, HORIZON = 1000, 5


def naive_day(y: pd.Series, pos: int) -> tuple[float, float]:
    """Wall and CPU seconds for one day of the seed's way: a pmdarima search, then predict."""
    import pmdarima as pm

    window = np.log(y.iloc[pos - TRAIN_DAYS + 1 : pos + 1].to_numpy())
    cpu, started = time.process_time(), time.perf_counter()
    model = pm.auto_arima(window, seasonal=False, error_action="ignore", suppress_warnings=True)
    model.predict(HORIZON, return_conf_int=True, alpha=0.05)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--naive-days", type=int, default=20)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    settings = Settings.from_env({
        "DATA_DIR": str(tmp), "MODEL_DIR": str(tmp / "models"),
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
    })  # fmt: skip
    db = Database.connect(settings.database_url)
    upgrade(db)
    ingest_sample(db, actor=SYSTEM)
    y = load_series(db, "MSFT").close
    days = y.index[-args.days :]
    print(f"MSFT sample: {len(y):,} trading days; replay {days[0].date()}..{days[-1].date()} "
          f"({len(days)} days), training window {TRAIN_DAYS:,} days, horizon {HORIZON}")

    stamps: list[float] = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    summary = replay(
        db, settings, "MSFT", days[0].date(), days[-1].date(), horizon=HORIZON,
        train_days=TRAIN_DAYS, progress=lambda f, m: stamps.append(time.perf_counter()),
    )  # fmt: skip
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(summary.describe())
    initial = sum(r.fit_seconds for r in summary.retrains if r.reason == "initial")
    per_day = np.diff([started, *stamps])
    per_day[0] -= initial  # the first gap includes the initial fit before the first day
    retrain_days = {r.day for r in summary.retrains if r.reason != "initial"}
    is_retrain = np.array([d.date() in retrain_days for d in days[: len(per_day)]])
    replay_median = statistics.median(per_day)
    print(f"\nreplay: whole run {total:.1f} s wall, {cpu:.1f} s CPU of this process "
          f"({len(per_day)} days, initial fit {initial:.2f} s); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"  per day: median {replay_median * 1000:.0f} ms, mean {per_day.mean() * 1000:.0f} ms")
    if is_retrain.any():
        print(f"  refresh days (update): median {np.median(per_day[~is_retrain]) * 1000:.0f} ms;"
              f" retrain days ({is_retrain.sum()}): median "
              f"{np.median(per_day[is_retrain]) * 1000:.0f} ms")

    positions = y.index.get_indexer(days[: args.naive_days])
    runs = [naive_day(y, int(p)) for p in positions]
    naive, naive_cpu = [w for w, _ in runs], [c for _, c in runs]
    naive_median = statistics.median(naive)
    print(f"\nnaive (pmdarima auto_arima every day, first {len(naive)} days): "
          f"median {naive_median:.2f} s per day, mean {statistics.fmean(naive):.2f} s; "
          f"CPU median {statistics.median(naive_cpu):.2f} s")
    print(f"\nratio of per-day medians: {naive_median / replay_median:.0f}x less time per day; "
          f"of means: {statistics.fmean(naive) / per_day.mean():.0f}x")
    print(f"naive way for all {len(days)} days would take ~{naive_median * len(days) / 60:.0f} "
          f"min; the replay took {total:.1f} s; CPU per day: replay {cpu / len(days):.3f} s, "
          f"naive {statistics.median(naive_cpu):.2f} s "
          f"({statistics.median(naive_cpu) / (cpu / len(days)):.0f}x)")
    db.dispose()


if __name__ == "__main__":
    main()

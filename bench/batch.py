"""Benchmark of the weekly many-symbol retrain (prints, asserts nothing).

    .venv/bin/python bench/batch.py [--series 100] [--days 1000] [--pmdarima 5] [--workers N]

The workload: ``--series`` windows of ``--days`` bundled MSFT closes (log prices), each
fitted with auto-ARIMA. Side by side in one run, in series per second:

1. pmdarima ``auto_arima`` one series at a time (defaults, BLAS limited to one thread,
   which is its fast case on a busy machine). Measured on the first ``--pmdarima`` series
   only and reported as a per-series rate (a full run would take far too long).
2. This product, ``batch.fit_many`` on the local process pool (one worker per core).
3. This product on a 2-worker Dask ``LocalCluster`` (processes, one thread each),
   started inside the timed section (that is what ``--backend dask`` costs without an
   address).
4. The measured alternative: statsforecast's own multi-series ``StatsForecast.fit`` for
   the order search, then the statsmodels refit per series in the local pool.

Timings include starting the worker processes (importing the scientific stack costs a few
seconds per worker); the machine's load average is printed, as wall times inflate on a
shared machine. The four plans run one after another, so a load that changes during the
run shifts their figures (on 2026-11-30 the multi-series plan looked 1.8x faster at the end
of a run whose load fell from 6.9 to 5.9; an interleaved A/B on a warm pool showed the two
plans equal, see the ``core.forecast.batch`` docstring).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from core.forecast.batch import cpu_count, fit_many, refit_many, search_many
from core.forecast.statespace import single_threaded
from core.market.sample import load_sample_bars

warnings.simplefilter("ignore")


def windows(n: int, days: int) -> dict[str, pd.Series]:
    bars = load_sample_bars()
    y = pd.Series(bars["close"].to_numpy(dtype=float), index=pd.DatetimeIndex(bars["date"]))
    step = max(1, (len(y) - days) // max(n - 1, 1))
    return {f"S{i:03d}": y.iloc[i * step : i * step + days] for i in range(n)}


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--days", type=int, default=1000)
    ap.add_argument("--pmdarima", type=int, default=5)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    data = windows(args.series, args.days)
    workers = args.workers or cpu_count()
    print(f"{args.series} windows x {args.days} days of MSFT closes; {cpu_count()} cores; "
          f"load average {load()}\n")

    import pmdarima as pm

    first = list(data.values())[: args.pmdarima]
    started = time.perf_counter()
    with single_threaded():
        for y in first:
            pm.auto_arima(np.log(y.to_numpy()), seasonal=False, max_d=1,
                          error_action="ignore", suppress_warnings=True)
    pm_rate = len(first) / (time.perf_counter() - started)
    print(f"1. pmdarima auto_arima one at a time  {pm_rate:8.3f} series/s  "
          f"({1 / pm_rate:6.2f} s per series, measured on the first {len(first)}; "
          f"100 series would take ~{100 / pm_rate / 60:.0f} min)  load {load()}")

    rates = {}
    for label, kwargs in [(f"local pool, {workers} workers", {"backend": "local",
                                                             "n_workers": workers}),
                          ("dask LocalCluster, 2 workers", {"backend": "dask",
                                                            "n_workers": 2})]:
        batch = fit_many(data, "auto_arima", {}, **kwargs)  # type: ignore[arg-type]
        rates[label] = batch.series_per_second
        cpu = sum(r.fit_seconds for r in batch) / len(batch)
        print(f"2. product, {label:28} {batch.series_per_second:8.3f} series/s  "
              f"({batch.seconds:6.1f} s wall; {cpu:.2f} s per fit inside a worker; "
              f"{len(batch.failed)} failed)  -> {batch.series_per_second / pm_rate:5.1f}x "
              f"pmdarima  load {load()}")

    started = time.perf_counter()
    selections = search_many(data, n_jobs=workers)
    t_search = time.perf_counter() - started
    results = refit_many(data, selections, n_workers=workers)
    seconds = time.perf_counter() - started
    rate = len(results) / seconds
    print(f"3. StatsForecast multi-series search ({t_search:5.1f} s) + pooled refit "
          f"{rate:8.3f} series/s ({seconds:6.1f} s wall) -> {rate / pm_rate:5.1f}x pmdarima  "
          f"load {load()}")
    same = sum(r.order == batch[r.symbol].order for r in results)
    print(f"   same order as the one-task-per-series plan for {same} of {len(results)} series")


if __name__ == "__main__":
    main()

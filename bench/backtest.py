"""Benchmark of the 10-fold rolling-origin backtest with a refit at every fold (prints,
asserts nothing).

    .venv/bin/python bench/backtest.py [--runs N] [--kind auto_arima]

In one run, on the last 2,500 MSFT closes with the product's options: serial (n_jobs=1),
parallel forced into worker processes from the start (the old n_jobs=2), and the mode
``backtest(n_jobs=2)`` chooses (``core.forecast.backtest.choose_workers``), each beside the
serial time, plus the CPU time of this process and the machine's load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fit import msft
from core.forecast import backtest as bt
from core.forecast import make_forecaster
from core.forecast.factory import with_product_defaults

N, FOLDS, HORIZON = 2500, 10, 30
warnings.simplefilter("ignore")


def forced_parallel(kind: str, y, workers: int = 2) -> list:  # type: ignore[no-untyped-def]
    """Every fold in worker processes, as backtest(n_jobs=2) did before it chose."""
    from joblib import Parallel, delayed

    f = make_forecaster(kind, **with_product_defaults(kind, {}))
    origins = bt._origins(len(y), FOLDS, HORIZON, HORIZON, f.min_obs())
    return list(Parallel(n_jobs=workers)(
        delayed(bt._fit_predict)(f, y, None, o, HORIZON) for o in origins))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--kind", default="auto_arima")
    args = ap.parse_args()
    y = msft(N)
    kind, opts = args.kind, with_product_defaults(args.kind, {})
    make_forecaster(kind, **opts).fit(y.iloc[-300:])  # imports and first-call costs
    print(f"{FOLDS}-fold backtest, horizon {HORIZON}, refit every fold: {kind} {opts} on "
          f"MSFT last {N:,} closes; usable CPUs {bt.usable_cpus()}, load "
          f"{Path('/proc/loadavg').read_text().split()[0]}")

    def serial() -> object:
        return bt.backtest(make_forecaster(kind, **opts), y, folds=FOLDS, horizon=HORIZON)

    modes: list[str] = []

    def chosen() -> object:
        seen: list[str] = []
        rep = bt.backtest(make_forecaster(kind, **opts), y, folds=FOLDS, horizon=HORIZON,
                          n_jobs=2, progress=lambda f, t: seen.append(t))
        modes.append("parallel" if any("processes" in t for t in seen) else "serial")
        return rep

    results = {}
    for label, fn in [("serial (n_jobs=1)", serial),
                      ("parallel forced (2 workers)", lambda: forced_parallel(kind, y)),
                      ("chosen (n_jobs=2)", chosen)]:
        times, cpus = [], []
        for _ in range(args.runs):
            cpu, t = time.process_time(), time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - cpu)
        results[label] = statistics.median(times)
        print(f"   {label:28} median {results[label]:6.2f} s wall, "
              f"{statistics.median(cpus):6.2f} s CPU here  "
              f"({results[label] / results['serial (n_jobs=1)']:4.2f}x serial)")
    print(f"   mode chosen: {', '.join(modes)}; target: 10 folds < 2.5 s, chosen <= serial")


if __name__ == "__main__":
    main()

"""Honest-uncertainty benchmark: the band evaluation of ``python -m core evaluate`` (crisis
and calm year of every bundled series, replayed in memory) and the cost of GARCH bands in
the daily cycle (prints, asserts nothing).

    .venv/bin/python bench/integrity.py [--timing-only] [--series sample:MSFT ...]

Timing (median of repeats, Gaussian and GARCH bands side by side in one run): the daily
refresh (``update`` with one new bar, including the variance filter) and a 5-step forecast
from a saved model (state -> model -> predict).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import joblib

from core.forecast import evaluation as ev
from core.forecast import forecaster_from_state
from core.forecast.arima import AutoARIMA


def median_update_ms(model: AutoARIMA, new: object, repeat: int = 30) -> float:
    """Median time of ``update`` alone, each on a fresh copy restored from the state."""
    times = []
    for _ in range(repeat):
        copy = forecaster_from_state(model.to_state())
        t = time.perf_counter()
        copy.update(new)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def median_ms(fn: Callable[[], object], repeat: int = 30) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def timing() -> None:
    y = ev.bundled_cases()[0].y.loc[:"2008-06-30"]
    train, new = y.iloc[-1001:-1], y.iloc[-1:]
    print("Daily cycle on 1,000 MSFT closes (median ms)")
    out = {}
    for bands in ("gaussian", "garch"):
        model = AutoARIMA(bands=bands).fit(train)
        buf = io.BytesIO()
        joblib.dump(model.to_state(), buf)
        raw = buf.getvalue()

        def saved_forecast(raw: bytes = raw) -> None:
            forecaster_from_state(joblib.load(io.BytesIO(raw))).predict(5)

        loaded = forecaster_from_state(model.to_state())
        out[bands] = (median_update_ms(model, new), median_ms(saved_forecast),
                      median_ms(partial(loaded.predict, 5), 200), len(raw))
    for bands, (upd, load_fc, fc, size) in out.items():
        print(f"  {bands:<9} daily update {upd:6.2f} ms   forecast from saved model "
              f"{load_fc:6.2f} ms   predict(5) on a loaded model {fc:6.3f} ms   "
              f"artifact {size / 1024:.1f} KB")
    g, n = out["garch"], out["gaussian"]
    print(f"  ratio garch/gaussian: update {g[0] / n[0]:.2f}x, forecast from saved "
          f"{g[1] / n[1]:.2f}x, predict {g[2] / n[2]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timing-only", action="store_true")
    parser.add_argument("--series", nargs="*")
    args = parser.parse_args()
    timing()
    if args.timing_only:
        return
    cases = ev.bundled_cases()
    if args.series:
        cases = [c for c in cases if c.series in args.series]
    result = ev.evaluate(cases, progress=lambda _, m: print(f"... {m}", file=sys.stderr))
    print()
    print(ev.format_report(result, per_series=True))


if __name__ == "__main__":
    main()

"""Benchmark of the forecasting engine on the last 2,500 MSFT closes (prints, asserts nothing).

    .venv/bin/python bench/fit.py [--quick]

Side by side in one run: order selection (pmdarima defaults vs statsforecast, AIC compared
after refitting both orders with statsmodels), update with 5 new observations vs a full
refit, a 30-step forecast with intervals from a loaded model, the artifact size, and a
10-fold rolling-origin backtest with a refit at every fold.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import joblib
import numpy as np
import pandas as pd
from pmdarima.datasets import load_msft

from core.forecast import forecaster_from_state, make_forecaster
from core.forecast.arima import AutoARIMA
from core.forecast.backtest import backtest
from core.market.calendar import trading_calendar

N = 2500
warnings.simplefilter("ignore")


def msft(n: int) -> pd.Series:
    df = load_msft().iloc[-n:]
    idx = trading_calendar("XNYS").sessions("2000-01-01", df["Date"].iloc[-1])[-n:]
    return pd.Series(df["Close"].to_numpy(dtype=float), index=idx, name="close")


def timed(fn: Callable[[], Any], runs: int = 1) -> tuple[float, Any]:
    """Median wall time of ``runs`` calls, and the last result."""
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def select_pmdarima(z: np.ndarray) -> Any:
    import pmdarima as pm

    return pm.auto_arima(z, seasonal=False, error_action="ignore", suppress_warnings=True)


def select_statsforecast(z: np.ndarray, approximation: bool) -> Any:
    from statsforecast.models import AutoARIMA as SF

    return SF(seasonal=False, ic="aic", approximation=approximation).fit(z).model_


def main(quick: bool = False) -> None:
    y = msft(N)
    train, head, new = y, y.iloc[:-5], y.iloc[-5:]
    z = np.log(train.to_numpy())
    runs = 1 if quick else 3
    print(f"MSFT last {N:,} closes to {train.index[-1].date()}, log prices\n")

    print("1. Order selection only (the engine's own search)")
    t_pm, pm_model = timed(lambda: select_pmdarima(z), 1)
    print(f"   pmdarima auto_arima defaults      {t_pm:7.2f} s  order {pm_model.order}")
    sf_times = {}
    for approx in (True, False):
        t_sf, sf_model = timed(lambda a=approx: select_statsforecast(z, a), runs)
        p, q, _, _, _, d, _ = sf_model["arma"]
        sf_times[approx] = t_sf
        print(f"   statsforecast approximation={approx!s:5} {t_sf:7.2f} s  order ({p}, {d}, {q})"
              f"  -> {t_pm / t_sf:5.1f}x faster than pmdarima")

    print("\n2. Full fit = selection + statsmodels refit of the chosen order (one likelihood)")
    fits = {}
    for label, opts in [("pmdarima", {"engine": "pmdarima"}),
                        ("statsforecast approx", {"approximation": True}),
                        ("statsforecast exact", {"approximation": False})]:
        t_fit, model = timed(lambda o=opts: make_forecaster("auto_arima", **o).fit(train),
                             1 if label == "pmdarima" else runs)
        fits[label] = (t_fit, model)
        print(f"   {label:22} {t_fit:6.2f} s  {model.label:36} AIC {model.aic_:10.2f}"
              f"  fallback={model.fallback_reason_}")
    pm_aic = fits["pmdarima"][1].aic_
    for label in ("statsforecast approx", "statsforecast exact"):
        t_fit, model = fits[label]
        print(f"   {label}: {fits['pmdarima'][0] / t_fit:4.1f}x faster than pmdarima, AIC "
              f"{model.aic_ - pm_aic:+.2f} vs pmdarima's order (negative = better)")

    default = fits["statsforecast approx" if AutoARIMA().approximation in (None, True)
                   else "statsforecast exact"][1]
    print(f"\n   default engine model: {default.label}")

    print("\n3. Refresh with 5 new observations vs a full refit (same order, statsmodels)")
    base = make_forecaster("auto_arima").fit(head)
    state = base.to_state()
    copies = [forecaster_from_state(state) for _ in range(7)]
    upd_times = []
    for c in copies:
        t = time.perf_counter()
        c.update(new)
        upd_times.append(time.perf_counter() - t)
    t_upd = statistics.median(upd_times)
    t_refit, _ = timed(lambda: make_forecaster("auto_arima").fit(y), runs)
    print(f"   update(5 obs) median {t_upd * 1e3:7.1f} ms   full refit {t_refit:6.2f} s   "
          f"ratio {t_refit / t_upd:6.1f}x (target >= 30x)")

    print("\n4. 30-step forecast with intervals from a loaded model")
    state = default.to_state()
    t_load, loaded = timed(lambda: forecaster_from_state(state), 5)
    loaded.predict(30)
    t_pred, _ = timed(lambda: loaded.predict(30), 500)
    print(f"   from_state median {t_load * 1e3:6.1f} ms; predict(30) median "
          f"{t_pred * 1e3:6.3f} ms over 500 calls (target < 5 ms)")

    buf = io.BytesIO()
    joblib.dump(state, buf)
    print(f"\n5. Artifact: joblib dump of to_state = {len(buf.getvalue()):,} bytes "
          f"(target < 100 KB)")

    print("\n6. 10-fold rolling-origin backtest, horizon 30, refit every fold")
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"   machine load average {load} "
          "(wall times inflate on a shared machine; process CPU time does less)")
    for n_jobs in (1, 2):
        cpu = time.process_time()
        t_bt, rep = timed(lambda j=n_jobs: backtest(make_forecaster("auto_arima"), train,
                                                    folds=10, horizon=30, n_jobs=j), 1)
        cpu = time.process_time() - cpu
        print(f"   statsforecast n_jobs={n_jobs}: {t_bt:6.2f} s wall, {cpu:6.2f} s CPU in this "
              f"process (target < 10 s); "
              f"MASE {rep.summary['mase']:.2f} vs naive {rep.naive_summary['mase']:.2f}; "
              f"{rep.beats_naive_text}; coverage95 {rep.summary['coverage95']:.2f}")
    t_one, _ = timed(lambda: backtest(make_forecaster("auto_arima", engine="pmdarima"),
                                      train, folds=1, horizon=30), 1)
    print(f"   pmdarima: 1 fold {t_one:6.2f} s -> 10 folds estimated {10 * t_one:6.1f} s "
          f"(estimated from 1 fold, not run)")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)

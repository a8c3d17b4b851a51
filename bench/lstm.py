"""Benchmark of the LSTM forecaster on the last 2,500 MSFT closes (prints, asserts nothing).

    .venv/bin/python bench/lstm.py [--quick]

In one run: the time to fit the LSTM with its default settings (Keras 3 on JAX, early
stopping), the time of predict(30) from a saved model (artifact written, read back, numpy
forward pass), and a 5-fold rolling-origin backtest (horizon 30, refit every fold) of the
LSTM, auto-ARIMA (the product's GARCH-t bands), the backtest-weighted ARIMA + LSTM + naive
ensemble and naive side by side: MASE, 80/95% coverage, folds beating naive. The figures
are what this machine measured, whatever they show; ``--quick`` runs one fit and 2 folds.
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from bench.timing import timed
from core.forecast import forecaster_from_state, make_forecaster
from core.forecast.artifacts import read_artifact, write_artifact
from core.forecast.backtest import BacktestReport, backtest
from core.forecast.ensemble import ARIMA_LSTM_MEMBERS
from core.forecast.factory import with_product_defaults
from core.forecast.lstm import training_device
from core.market.calendar import trading_calendar
from core.market.sample import load_sample_bars

N = 2500
HORIZON = 30
warnings.simplefilter("ignore")


def msft(n: int) -> pd.Series:
    """The last ``n`` bundled MSFT closes on XNYS sessions."""
    bars = load_sample_bars().iloc[-n:]
    idx = trading_calendar("XNYS").sessions("2000-01-01", bars["date"].iloc[-1])[-n:]
    return pd.Series(bars["close"].to_numpy(dtype=float), index=idx, name="close")


MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "LSTM": ("lstm", {}),
    "auto-ARIMA": ("auto_arima", with_product_defaults("auto_arima", {})),
    "ensemble": ("ensemble", {"members": [dict(m) for m in ARIMA_LSTM_MEMBERS],
                              "weighting": "backtest", "horizon": HORIZON}),
    "naive": ("naive", {}),
}


def main(quick: bool = False) -> None:
    y = msft(N)
    runs = 1 if quick else 3
    folds = 2 if quick else 5
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"MSFT last {N:,} closes {y.index[0].date()}..{y.index[-1].date()}, log prices; "
          f"load average {load} on a shared 2-core machine\n")

    print("1. Fit the LSTM, default settings (window 20, 1x32 units, <= 30 epochs, batch 64)")
    t_cold, model = timed(lambda: make_forecaster("lstm").fit(y), 1)
    print(f"   first fit in this process {t_cold:6.2f} s (includes importing Keras + JAX)")
    t_fit, model = timed(lambda: make_forecaster("lstm").fit(y), runs)
    hist = model.summary()["training"]
    print(f"   fit median of {runs}        {t_fit:6.2f} s (target < 60 s) on "
          f"{training_device()}; {hist['epochs_run']} epochs run, best epoch "
          f"{hist['best_epoch']}, {model.n_params():,} weights")

    print("\n2. predict(30) from a saved model (artifact written and read back)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lstm.joblib"
        sha, size = write_artifact(path, model.to_state())
        t_load, loaded = timed(lambda: forecaster_from_state(read_artifact(path, sha)), 5)
    loaded.predict(HORIZON)
    cpu = time.process_time()
    t_pred, fc = timed(lambda: loaded.predict(HORIZON), 200)
    cpu = (time.process_time() - cpu) / 200
    same = bool((fc.mean == model.predict(HORIZON).mean).all())
    probe = np.ones(128)
    t_add, _ = timed(lambda: probe + probe, 2000)
    print(f"   artifact {size:,} bytes; read + from_state median {t_load * 1e3:6.1f} ms; "
          f"same forecast as before saving: {same}")
    print(f"   predict(30) median {t_pred * 1e3:6.2f} ms wall, {cpu * 1e3:6.2f} ms CPU per call "
          f"over 200 calls (target < 20 ms): 600 numpy LSTM cell steps; one numpy add of 128 "
          f"floats took {t_add * 1e6:4.1f} us here (under 1 us on an idle core)")

    print(f"\n3. {folds}-fold rolling-origin backtest, horizon {HORIZON}, refit every fold")
    reports: dict[str, tuple[float, BacktestReport]] = {}
    for name, (kind, options) in MODELS.items():
        t_bt, rep = timed(lambda k=kind, o=options: backtest(
            lambda: make_forecaster(k, **o), y, folds=folds, horizon=HORIZON), 1)
        reports[name] = (t_bt, rep)
    print(f"   {'model':<11}{'MASE':>7}{'naive':>7}{'RMSE':>8}{'cov80':>7}{'cov95':>7}"
          f"  beats naive   wall")
    for name, (t_bt, rep) in reports.items():
        s = rep.summary
        print(f"   {name:<11}{s['mase']:7.3f}{rep.naive_summary['mase']:7.3f}{s['rmse']:8.3f}"
              f"{s['coverage80']:7.2f}{s['coverage95']:7.2f}  {rep.folds_won} of {rep.folds} folds"
              f"  {t_bt:6.1f} s")
    ens = make_forecaster("ensemble", **MODELS["ensemble"][1]).fit(y)
    weights = ", ".join(f"{m.label} {w:.2f}" for m, w in zip(ens.members_, ens.weights_,
                                                             strict=True))
    print(f"\n   ensemble weights on the whole window (backtest-tuned): {weights}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)

"""Whole-process benchmark: ``python -m core fit --folds 0`` vs a plain pmdarima script on
the same 2,500 MSFT closes (prints, asserts nothing).

    .venv/bin/python bench/cli.py [--runs 3]

Both are fresh processes in the environment users get (``PYTHONDONTWRITEBYTECODE`` as
set), timed from spawn to exit, alternating, in one run; the database (a temporary SQLite
file with the bundled sample) is prepared first and not timed. The pmdarima script reads
the same closes from a .npy file and runs ``pm.auto_arima`` on their logs with its
defaults (non-seasonal), the way a user would without the product.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N = 2500
PMDARIMA_SCRIPT = """
import sys, warnings
import numpy as np
import pmdarima as pm
warnings.simplefilter("ignore")
z = np.log(np.load(sys.argv[1]))
m = pm.auto_arima(z, seasonal=False, error_action="ignore", suppress_warnings=True)
print(m.order, m.aic())
"""


def run(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - t, done.stdout.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/m.db", "DATA_DIR": tmp,
               "MODEL_DIR": f"{tmp}/models"}
        py = sys.executable
        subprocess.run([py, "-m", "core", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        subprocess.run([py, "-m", "core", "ingest", "--source", "sample", "--symbols", "MSFT"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        sys.path.insert(0, str(ROOT))
        from core.market.sample import load_sample_bars

        bars = load_sample_bars().tail(N)
        closes = Path(tmp) / "closes.npy"
        import numpy as np

        np.save(closes, bars["close"].to_numpy(dtype=float))
        start = str(bars["date"].iloc[0].date())
        fit = [py, "-m", "core", "fit", "--symbol", "MSFT", "--folds", "0", "--start", start]
        ref = [py, "-c", PMDARIMA_SCRIPT, str(closes)]
        times: dict[str, list[float]] = {"core": [], "pmdarima": []}
        last: dict[str, str] = {}
        for _ in range(args.runs):
            for label, argv in (("core", fit), ("pmdarima", ref)):
                t, out = run(argv, env)
                times[label].append(t)
                last[label] = out
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"whole process, last {N:,} MSFT closes from {start}, median of {args.runs} "
              f"(alternating); load {Path('/proc/loadavg').read_text().split()[0]}")
        print(f"   python -m core fit --folds 0   {med['core']:6.2f} s   {last['core']}")
        print(f"   plain pmdarima auto_arima      {med['pmdarima']:6.2f} s   order, AIC "
              f"{last['pmdarima']}")
        print(f"   -> core is {med['pmdarima'] / med['core']:4.2f}x faster (target >= 2.5x)")


if __name__ == "__main__":
    main()

"""Pool workers die with their parent: kill -9 of a multi-symbol retrain leaves no worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]

# A long multi-symbol batch on the local (loky) pool: far more work than the test waits for.
BATCH = """
import numpy as np, pandas as pd
from core.forecast.batch import fit_many
rng = np.random.default_rng(0)
index = pd.bdate_range("2010-01-01", periods=1500)
series = {f"S{i}": pd.Series(100 + np.cumsum(rng.normal(size=1500)), index=index)
          for i in range(400)}
fit_many(series, "auto_arima", {"engine": "statsforecast", "log": False},
         backend="local", n_workers=2)
"""


def _workers(parent: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in parent.children(recursive=True):
        try:
            if "popen_loky_posix" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _poll(check, what: str, tries: int = 1200, pause: float = 0.05):  # type: ignore[no-untyped-def]
    for _ in range(tries):
        value = check()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"gave up waiting for {what}")


def _busy(workers: list[psutil.Process]) -> bool:
    """Each worker has done real work (imported the engines and started fitting)."""
    try:
        return all(w.cpu_times().user > 3.0 for w in workers)
    except psutil.Error:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9 and /proc: Linux")
def test_killing_a_multi_symbol_retrain_leaves_no_pool_worker() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    batch = subprocess.Popen([sys.executable, "-c", BATCH], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[psutil.Process] = []
    try:
        parent = psutil.Process(batch.pid)
        workers = _poll(lambda: w if len(w := _workers(parent)) >= 2 else [],
                        "two pool workers", tries=2400)
        _poll(lambda: _busy(workers), "the workers to start fitting", tries=2400)
        batch.send_signal(signal.SIGKILL)
        batch.wait()
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == [], f"workers still alive after their parent was killed: {alive}"
        assert len(gone) == len(workers)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
        for w in workers:  # never leave a stray worker behind, even when the test fails
            with contextlib.suppress(psutil.Error):
                w.kill()

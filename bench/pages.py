"""Page speed with demo data: script run time cold and warm (AppTest, median of 10), and the
time from `streamlit run` to the Overview idle in headless Chromium.

    .venv/bin/python bench/pages.py [--replay-days 60] [--runs 10]

Targets (issue 5): every page's warm rerun under 150 ms; Overview idle in the browser under
10 s from process start. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ["overview.py", "explorer.py", "fitting.py", "forecast.py", "monitoring.py"]


def prepare(workdir: Path, replay_days: int) -> None:
    os.environ.update({
        "DATABASE_URL": f"sqlite:///{workdir / 'e2e.db'}",  # the name start_server uses
        "DATA_DIR": str(workdir),
        "MODEL_DIR": str(workdir / "models"),
    })
    from core.auth import SYSTEM
    from core.context import open_context
    from core.demo import load_demo

    ctx = open_context()
    started = time.perf_counter()
    load_demo(ctx.db, ctx.settings, SYSTEM, replay_days=replay_days)
    print(f"demo data: MSFT + {replay_days}-day replay in {time.perf_counter() - started:.1f} s")


def apptest_times(page: str, runs: int) -> tuple[float, float]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    started = time.perf_counter()
    at.switch_page(f"../pages/{page}")
    at.run()
    cold = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"{page} raised: {[e.value for e in at.exception]}")
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - started)
    return cold, statistics.median(warm)


def browser_time(workdir: Path) -> float:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import start_server, stop_server, wait_idle

    started = time.perf_counter()
    server = start_server(workdir)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu",
                      "--disable-background-networking"],
            )
            page = browser.new_page()
            page.goto(server.url)
            wait_idle(page)
            page.get_by_text(re.compile("Next forecast")).first.wait_for(timeout=120_000)
            elapsed = time.perf_counter() - started
            browser.close()
    finally:
        stop_server(server)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replay-days", type=int, default=60)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    prepare(workdir, args.replay_days)
    print(f"{'page':<16}{'cold (s)':>10}{'warm median (ms)':>18}  target < 150 ms")
    for page in PAGES:
        cold, warm = apptest_times(page, args.runs)
        verdict = "ok" if warm < 0.150 else "over"
        print(f"{page:<16}{cold:>10.2f}{warm * 1000:>18.1f}  {verdict}")
    if not args.no_browser:
        runs = [browser_time(workdir) for _ in range(3)]
        elapsed = statistics.median(runs)
        verdict = "ok" if elapsed < 10 else "over"
        print(f"streamlit run -> Overview idle in Chromium: median {elapsed:.1f} s of "
              f"{', '.join(f'{r:.1f}' for r in runs)} (target < 10 s: {verdict})")


if __name__ == "__main__":
    main()

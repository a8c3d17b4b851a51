"""Real-browser fixtures: `streamlit run` on a free port, driven by Debian's Chromium.

Follows streamlit's own e2e_playwright/conftest.py: wait for /_stcore/health, then for the
app to be idle (script not running, no skeleton), and look for stException elements.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Tests never write tracked files: pictures go to build/screenshots unless SCREENSHOTS_DIR
# says otherwise (`make screenshots` points it at docs/screenshots, the README's pictures).
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "build" / "screenshots")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit not healthy after {timeout}s:\n{log.read_text()[-3000:]}")


def start_server(workdir: Path, extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'e2e.db'}",
        "DATA_DIR": str(workdir),
        "MODEL_DIR": str(workdir / "models"),
        **(extra_env or {}),
    }
    log = workdir / f"streamlit-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process, log, timeout=90)
    return Server(url=url, env=env, process=process, log=log)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


def prepare_demo_database(workdir: Path, extra: list[list[str]] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'e2e.db'}",
        "DATA_DIR": str(workdir),
        "MODEL_DIR": str(workdir / "models"),
    }
    for args in [["db", "upgrade"], ["ingest", "--source", "sample"], *(extra or [])]:
        subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    return env


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a missing browser is a broken set-up, not a skip
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-quic", "--no-first-run", "--disable-component-update",
                  "--disable-sync"],
        )
        yield b
        b.close()


def wait_idle(page: object, timeout_ms: int = 90_000) -> None:
    """Wait until the script has finished running and no skeleton placeholder is left."""
    page.wait_for_selector(  # type: ignore[attr-defined]
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms
    )
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelectorAll(\"[data-testid='stSkeleton']\").length === 0",
        timeout=timeout_ms,
    )


def screenshot(page: object, path: Path) -> None:
    """A picture of the page from the top (Streamlit scrolls inside its main container),
    with the mouse parked where it shows no hover tooltip."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.mouse.move(5, 995)  # type: ignore[attr-defined]
    page.evaluate(  # type: ignore[attr-defined]
        "() => document.querySelector(\"[data-testid='stMain']\")?.scrollTo(0, 0)"
    )
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(path))  # type: ignore[attr-defined]


def assert_no_exception(page: object) -> None:
    errors = page.locator("[data-testid='stException']")  # type: ignore[attr-defined]
    assert errors.count() == 0, errors.all_inner_texts()

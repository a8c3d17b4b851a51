"""CLI: 'schedule --dry-run' prints the cron plan; 'run-daily' runs the pipeline once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("SCHEDULE_DAILY", "17:30")
    monkeypatch.setenv("SCHEDULE_RETRAIN_DAY", "fri")
    return tmp_path


def test_schedule_dry_run_prints_the_next_fire_times(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schedule", "--dry-run", "2"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert set(plan) == {"daily", "weekly"}
    assert all(t.endswith(("-05:00", "-04:00")) for t in plan["daily"])  # New York time
    assert all("T17:30:00" in t for t in plan["daily"])
    assert all("T19:00:00" in t for t in plan["weekly"])


def test_run_daily_without_symbols_explains(env: Path) -> None:
    with pytest.raises(SystemExit, match="no symbols"):
        main(["run-daily"])

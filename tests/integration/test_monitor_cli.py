"""The monitoring CLI end to end on a temporary SQLite: replay, ledger, alerts, drift,
calibrate-drift, and the one-line error for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.db.engine import Database
from core.db.migrate import upgrade
from core.market.sample import load_sample_bars
from core.market.series import load_series
from core.market.store import upsert_bars

FAST = ["--into-production", "--model", "arima", "--options", '{"order": [0, 1, 1]}',
        "--train-days", "150",
        "--horizon", "2"]  # fmt: skip


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A migrated database with 320 days of MSFT; returns the last 20 trading days."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for name in ("SLACK_WEBHOOK_URL", "SMTP_HOST", "DRIFT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    db = Database.connect(url)
    upgrade(db)
    upsert_bars(db, "MSFT", load_sample_bars().tail(320), "sample")
    days = [d.date().isoformat() for d in load_series(db, "MSFT").close.index[-20:]]
    db.dispose()
    return days


def test_replay_then_inspect_ledger_alerts_and_drift(
    env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    start, end = env[0], env[-1]
    assert main(["replay", "--symbol", "msft", "--start", start, "--end", end, *FAST]) == 0
    out = capsys.readouterr().out
    assert f"[  5%] {start} (1/20): forecast" in out
    assert f"MSFT: replayed 20 trading days ({start}..{end})" in out
    assert "forecasts logged 40" in out

    assert main(["replay", "--symbol", "MSFT", "--start", start, "--end", end, *FAST]) == 0
    assert ("already complete (20 trading days) in the production database; nothing to do"
            in capsys.readouterr().out)

    assert main(["ledger", "--symbol", "MSFT", "--json", "--limit", "4"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and {r["issued_by"] for r in rows} == {"replay"}
    assert rows[0]["data_date"].startswith(env[-2]) and rows[-1]["actual"] is None
    assert main(["ledger", "--symbol", "MSFT", "--limit", "3"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["model", "by", "data"] and len(table) == 4

    assert main(["alerts", "--symbol", "MSFT", "--json"]) == 0
    alerts = json.loads(capsys.readouterr().out)
    assert all(a["symbol"] == "MSFT" and a["opened_at"].startswith(a["as_of"]) for a in alerts)
    assert main(["drift", "--symbol", "MSFT", "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)
    assert main(["drift", "--symbol", "MSFT"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--symbol", "AAPL", "--start", "2017-10-02", "--end", "2017-10-06"],
                     "error: no stored data for AAPL; stored symbols: MSFT", id="symbol"),
        pytest.param(["--symbol", "MSFT", "--start", "2017-10-06", "--end", "2017-10-02"],
                     "error: the replay end 2017-10-02 is before its start 2017-10-06",
                     id="order"),
        pytest.param(["--symbol", "MSFT", "--start", "2017-10-02", "--end", "2018-01-05"],
                     "and 2017-11-10 (stored bars", id="outside"),
    ],
)  # fmt: skip
def test_replay_bad_input_is_one_line_and_exit_2(
    env: list[str], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["replay", *argv, *FAST]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_calibrate_drift_replays_the_bundled_series(
    env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate-drift", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["bundled"]
    assert report["calm_days"] == 4210 and report["false_alarms_per_1000"]["all"] <= 2.0
    # every series within the 15-day target (GOOG was 43 with ADWIN over z^2)
    assert report["crisis_delays"] == {"MSFT (pmdarima)": 10, "AAPL (bokeh)": 5,
                                       "GOOG (bokeh)": 11, "IBM (bokeh)": 3, "MSFT (bokeh)": 10}
    assert report["passed"]
    assert main(["calibrate-drift", "--symbol", "MSFT"]) == 2  # 20 replayed days: too few
    assert "needs at least 120 reconciled one-step forecasts of MSFT" in capsys.readouterr().err

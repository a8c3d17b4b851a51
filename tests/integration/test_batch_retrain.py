"""The many-symbol retrain (core.forecast.batch_retrain and ``python -m core retrain``) on
SQLite and PostgreSQL: challengers are saved for every symbol that fits, a symbol that
cannot be fitted is reported and does not stop the others."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.auth import SYSTEM, Actor
from core.db.engine import Database
from core.db.migrate import upgrade
from core.errors import PermissionDenied
from core.forecast import registry
from core.forecast.batch_retrain import retrain_many
from core.forecast.service import FitRequest, fit_model, save_model, versions
from core.market.ingest import ingest_sample
from core.market.sample import load_sample_bars
from core.market.store import upsert_bars
from core.settings import Settings

WINDOW = 350


def _seed(db: Database, *, msft: bool = True) -> None:
    """MSFT (whole bundled history) plus two 350-day MSFT windows stored as AAA and BBB,
    and TINY with 12 days (too short to fit)."""
    if msft:
        ingest_sample(db, actor=SYSTEM)
    bars = load_sample_bars()
    upsert_bars(db, "AAA", bars.iloc[2000 : 2000 + WINDOW], source="sample")
    upsert_bars(db, "BBB", bars.iloc[5000 : 5000 + WINDOW], source="sample")
    upsert_bars(db, "TINY", bars.iloc[:12], source="sample")


def _champion_for_msft(db: Database, settings: Settings) -> int:
    """A first MSFT model on a 350-day window: the retrain keeps that window length."""
    bars = load_sample_bars()
    start = pd.Timestamp(bars["date"].iloc[-WINDOW - 100]).date()
    end = pd.Timestamp(bars["date"].iloc[-101]).date()
    request = FitRequest(symbol="MSFT", kind="arima", options={"order": (0, 1, 1)},
                         start=start, end=end, folds=0)
    version = save_model(db, settings, fit_model(db, settings, request), SYSTEM)
    assert version.role == "champion"
    return version.id


@pytest.mark.slow
def test_retrain_many_saves_challengers_and_reports_failures(
    db: Database, settings: Settings
) -> None:
    _seed(db)
    champion_id = _champion_for_msft(db, settings)
    seen: list[float] = []
    out = retrain_many(db, settings, "MSFT,AAA,TINY,BBB", SYSTEM, backend="local",
                       n_workers=2, progress=lambda f, m: seen.append(f))
    assert list(out["symbols"]) == ["MSFT", "AAA", "TINY", "BBB"]
    assert out["saved"] == 3 and out["failed"] == 1 and out["backend"] == "local"
    assert "at least" in out["symbols"]["TINY"]["error"]
    assert seen[-1] == 1.0

    msft = out["symbols"]["MSFT"]
    assert msft["status"] == "saved" and msft["role"] == "challenger"
    assert msft["order"] == [0, 1, 1]  # the champion's own spec, refitted
    with db.read() as session:
        row = registry.get_version(session, msft["version_id"])
        assert registry.champion(session, "MSFT").id == champion_id  # not promoted
    last = pd.Timestamp(load_sample_bars()["date"].iloc[-1]).date()
    assert row.n_obs == WINDOW and row.train_end == last and row.backtest is None
    assert registry.load_state(row).state["kind"] == "arima"

    for symbol in ("AAA", "BBB"):  # no champion before: the default auto-ARIMA, champion
        result = out["symbols"][symbol]
        assert result["status"] == "saved" and result["role"] == "champion"
        assert result["model"].startswith("auto_arima ARIMA") and result["aic"] is not None
        assert [v.n_obs for v in versions(db, symbol)] == [WINDOW]

    idle = retrain_many(db, settings, ["AAA"], SYSTEM, backend="local", n_workers=1)
    assert idle["symbols"]["AAA"]["status"] == "unchanged" and idle["saved"] == 0
    assert idle["symbols"]["AAA"]["message"].startswith(
        "no new data since the champion's training end")
    again = retrain_many(db, settings, ["AAA"], SYSTEM, backend="local", n_workers=1,
                         force=True)
    assert again["symbols"]["AAA"]["role"] == "challenger"
    assert again["symbols"]["AAA"]["order"] == out["symbols"]["AAA"]["order"]


@pytest.mark.slow
def test_retrain_many_on_a_dask_local_cluster(sqlite_db: Database, settings: Settings) -> None:
    pytest.importorskip("distributed")
    _seed(sqlite_db, msft=False)
    out = retrain_many(sqlite_db, settings, ["AAA", "BBB", "NOPE"], SYSTEM, backend="dask",
                       n_workers=2)
    assert out["backend"] == "dask" and out["workers"] == 2
    assert [o["status"] for o in out["symbols"].values()] == ["saved", "saved", "failed"]
    assert "NOPE" in out["symbols"]["NOPE"]["error"]


def test_viewers_cannot_retrain(sqlite_db: Database, settings: Settings) -> None:
    with pytest.raises(PermissionDenied):
        retrain_many(sqlite_db, settings, ["MSFT"], Actor(name="v", role="viewer"))


@pytest.mark.slow
def test_cli_retrain_symbols_and_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BATCH_BACKEND", raising=False)
    monkeypatch.delenv("DASK_ADDRESS", raising=False)
    db = Database.connect(url)
    upgrade(db)
    bars = load_sample_bars()
    upsert_bars(db, "AAA", bars.iloc[2000 : 2000 + WINDOW], source="sample")
    upsert_bars(db, "TINY", bars.iloc[:12], source="sample")
    db.dispose()

    assert main(["retrain", "--symbols", "aaa", "--backend", "local", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "AAA      saved model 1 as champion" in out and "1 saved, 0 failed" in out

    assert main(["retrain", "--symbols", "aaa", "--workers", "1"]) == 0
    assert "AAA      no new data since the champion's training end" in capsys.readouterr().out
    assert main(["retrain", "--all", "--force", "--workers", "1", "--json"]) == 1  # TINY fails
    payload = json.loads(capsys.readouterr().out)
    assert payload["symbols"]["AAA"]["role"] == "challenger"
    assert payload["symbols"]["TINY"]["status"] == "failed"

    assert main(["retrain"]) == 2
    assert "give --symbols" in capsys.readouterr().err

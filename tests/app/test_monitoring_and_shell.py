"""AppTest of the monitoring page on replayed history, and of the shell's failure paths."""

from __future__ import annotations

import datetime as dt

import pytest

from core.auth import hash_password
from core.context import AppContext
from core.monitor.replay import replay
from dashboard import keys
from tests.app.conftest import assert_clean, run_page


@pytest.fixture
def replayed(sample_app: AppContext) -> AppContext:
    replay(sample_app.db, sample_app.settings, "MSFT", dt.date(2017, 9, 1),
           dt.date(2017, 11, 10), kind="drift", options={}, horizon=5, train_days=500,
           into_production=True)
    return sample_app


def test_monitoring_page_scores_the_replayed_ledger(replayed: AppContext) -> None:
    at = run_page("monitoring.py")
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Scored forecasts"].replace(",", "")) > 0
    assert metrics["MAE ratio to naive"] != "–"
    assert len(at.get("plotly_chart")) >= 3  # predicted vs actual, rolling error, gauges
    assert [t.label for t in at.tabs] == ["Per horizon", "Alerts", "Drift", "Model versions",
                                          "Ledger"]
    at.select_slider(key=keys.MON_WINDOW).set_value(120).run()
    assert_clean(at)


@pytest.mark.slow
def test_monitoring_shows_the_drift_calibration_on_request(replayed: AppContext) -> None:
    at = run_page("monitoring.py")
    at.toggle(key=keys.MON_CALIBRATION).set_value(True).run(timeout=180)
    assert_clean(at)
    [table] = [d.value for d in at.dataframe if "false alarms / 1,000 calm days" in d.value]
    assert table["series"].tolist()[-1] == "all" and len(table) == 6


def test_overview_card_after_replay(replayed: AppContext) -> None:
    at = run_page()
    assert_clean(at)
    labels = [m.label for m in at.metric]
    assert "30-day MAE ratio to naive" in labels and "Open alerts" in labels
    assert any("Next forecast" in md.value for md in at.markdown)


def test_database_down_is_a_clear_message(
    app_env: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    at = run_page()
    assert not at.exception
    assert any("Database unavailable" in e.value for e in at.error)


def test_unknown_symbol_in_url_falls_back_with_a_warning(sample_app: AppContext) -> None:
    at = run_page(query={"symbol": "ZZZZ"})
    assert_clean(at)
    assert any("not a stored symbol" in w.value for w in at.sidebar.warning)
    assert at.sidebar.selectbox(key=keys.SYMBOL).value == "MSFT"


def test_password_sign_in_turns_a_viewer_into_an_analyst(
    replayed: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYST_PASSWORD_HASH", hash_password("analyst-pass"))
    at = run_page("monitoring.py")
    assert not [b for b in at.button if b.key == keys.MON_RETRAIN]
    at.sidebar.text_input(key=keys.AUTH_PASSWORD).input("wrong-password")
    at.sidebar.button[0].click().run()
    assert any("Wrong password" in e.value for e in at.sidebar.error)
    at.sidebar.text_input(key=keys.AUTH_PASSWORD).input("analyst-pass")
    at.sidebar.button[0].click().run()
    assert_clean(at)
    assert [b for b in at.button if b.key == keys.MON_RETRAIN]

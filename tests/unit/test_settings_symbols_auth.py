from __future__ import annotations

import pytest

from core.auth import VIEWER, Actor, hash_password, require_analyst, verify_password
from core.errors import PermissionDenied, ValidationFailed
from core.settings import Settings
from core.symbols import check_symbol, check_symbols


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("msft", "MSFT", id="lowercase"),
        pytest.param(" BRK-B ", "BRK-B", id="dash-and-spaces"),
        pytest.param("^GSPC", "^GSPC", id="index"),
        pytest.param("EURUSD=X", "EURUSD=X", id="fx"),
    ],
)
def test_check_symbol_accepts(raw: str, expected: str) -> None:
    assert check_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("MSFT'; DROP TABLE bars;--", id="sql-injection"),
        pytest.param("../../etc", id="path-traversal"),
        pytest.param("", id="empty"),
        pytest.param("A" * 16, id="too-long"),
        pytest.param("MS FT", id="inner-space"),
        pytest.param(None, id="none"),
    ],
)
def test_check_symbol_rejects_with_a_clear_message(raw: object) -> None:
    with pytest.raises(ValidationFailed, match="symbol"):
        check_symbol(raw)


def test_check_symbols_dedupes_in_order() -> None:
    assert check_symbols("msft, aapl,MSFT,,") == ["MSFT", "AAPL"]
    with pytest.raises(ValidationFailed):
        check_symbols(" , ")


def test_settings_defaults_to_embedded_sqlite(tmp_path) -> None:
    settings = Settings.from_env({"DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'market.db'}"
    assert settings.thresholds.rmse_abs == 2.0
    t = settings.thresholds
    assert (t.coverage80_min, t.coverage80_max, t.coverage95_min, t.coverage95_max) == (
        0.72, 0.88, 0.90, 0.98)


def test_naive_ratio_days_new_name_and_old_name() -> None:
    assert Settings.from_env({"ALERT_MASE_DAYS": "7"}).thresholds.mae_ratio_above_one_days == 7
    both = {"ALERT_MASE_DAYS": "7", "ALERT_MAE_RATIO_DAYS": "3"}
    assert Settings.from_env(both).thresholds.mae_ratio_above_one_days == 3
    got = Settings.from_env({"ALERT_COVERAGE80_MAX": "0.9"}).thresholds.coverage80_max
    assert got == 0.9


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param("ALERT_RMSE_ABS", "-1", "ALERT_RMSE_ABS must be a number >= 0", id="negative"),
        pytest.param("ALERT_RMSE_ABS", "two", "ALERT_RMSE_ABS must be a number", id="not-number"),
        pytest.param("ALERT_RMSE_ABS", "nan", "ALERT_RMSE_ABS must be a number", id="nan"),
        pytest.param("ALERT_MASE_DAYS", "0", "ALERT_MASE_DAYS must be >= 1", id="zero-days"),
        pytest.param("ALERT_MAE_RATIO_DAYS", "0", "ALERT_MAE_RATIO_DAYS must be >= 1",
                     id="zero-days-new-name"),
        pytest.param("DRIFT_POLICY", "sometimes", "DRIFT_POLICY must be", id="policy"),
    ],
)
def test_settings_reject_bad_thresholds(name: str, value: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        Settings.from_env({name: value})


def test_password_hash_round_trip() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)
    assert not verify_password("anything", "not-a-hash")
    with pytest.raises(ValidationFailed, match="at least 8"):
        hash_password("short")


def test_require_analyst_refuses_viewers() -> None:
    require_analyst(Actor("ana", "analyst"), "fit a model")
    with pytest.raises(PermissionDenied, match="viewer and may not fit a model"):
        require_analyst(VIEWER, "fit a model")

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ValidationFailed
from core.market import calendar as calendar_module
from core.market.calendar import TradingCalendar


def test_sessions_skip_weekends_and_holidays() -> None:
    cal = TradingCalendar("XNYS")
    assert not cal.is_session("2017-11-23")  # Thanksgiving
    assert list(cal.next_sessions("2017-11-22", 2).strftime("%Y-%m-%d")) == [
        "2017-11-24", "2017-11-27"]
    assert cal.count_sessions("2017-11-10", "2017-11-24") == 9


def test_cached_sessions_equal_a_fresh_build_and_a_corrupt_cache_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calendar_module.tempfile, "gettempdir", lambda: str(tmp_path))
    built = TradingCalendar("XNYS")
    cached_files = list(tmp_path.glob("stockcast-XNYS-*.npy"))
    assert len(cached_files) == 1
    assert TradingCalendar("XNYS").all_sessions.equals(built.all_sessions)
    cached_files[0].write_bytes(b"not numpy")
    assert TradingCalendar("XNYS").all_sessions.equals(built.all_sessions)


def test_unknown_exchange_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="unknown exchange 'NOPE'"):
        TradingCalendar("NOPE")


@pytest.mark.parametrize("exchange", ["XTKS", "XSHG", "XBOM", "XSES", "XSAU", "AIXK"])
def test_exchanges_with_late_starts_or_fixed_ends_are_supported(
    exchange: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """These calendars cannot be evaluated from 1980 (or to three years ahead): the
    calendar is built over the span the library supports instead of raising ValueError."""
    monkeypatch.setattr(calendar_module.tempfile, "gettempdir", lambda: str(tmp_path))
    cal = TradingCalendar(exchange)
    sessions = cal.all_sessions
    assert len(sessions) > 250
    assert sessions.is_monotonic_increasing
    day = sessions[len(sessions) // 2]
    assert cal.is_session(day)
    assert cal.next_sessions(day, 3)[0] > day

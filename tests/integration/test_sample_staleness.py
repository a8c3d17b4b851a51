"""A bundled sample ends on a fixed date: its age is neither an alert nor a red badge."""

from __future__ import annotations

import datetime as dt

from core.auth import SYSTEM
from core.db.engine import Database
from core.market.calendar import trading_calendar
from core.market.ingest import ingest_csv, ingest_sample
from core.monitor.alerts import evaluate_alerts
from core.monitor.views import last_bar_age, symbol_card
from core.settings import Settings

TODAY = dt.date(2026, 12, 1)
CSV = b"Date,Open,High,Low,Close,Volume\n2017-11-09,10,11,9,10.5,5\n2017-11-10,10,11,9,10.6,5\n"


def _opened(db: Database, settings: Settings, symbol: str) -> list[str]:
    with db.begin() as s:
        out = evaluate_alerts(s, settings, symbol, TODAY, calendar=trading_calendar())
    return [a.rule for a in out.opened]


def test_sample_is_not_stale_but_the_same_age_csv_is(db: Database, settings: Settings) -> None:
    ingest_sample(db, actor=SYSTEM)  # MSFT, last bar 2017-11-10
    ingest_csv(db, settings, "ACME", CSV, actor=SYSTEM)  # a user's file ending the same day
    assert "stale_data" not in _opened(db, settings, "MSFT")
    assert "stale_data" in _opened(db, settings, "ACME")
    assert last_bar_age(db, "MSFT", settings, TODAY) == 0
    age = last_bar_age(db, "ACME", settings, TODAY)
    assert age is not None and age > 2000
    card = symbol_card(db, settings, "MSFT", TODAY)
    assert card.sample and card.stale_days == 0 and card.exchange == "XNYS"
    assert len(card.spark) == 120 and card.spark[-1] == card.last_close

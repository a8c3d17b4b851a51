"""The "random walk" banner: only for a model whose forecast really is the last price."""

from __future__ import annotations

import datetime as dt

from core.auth import SYSTEM
from core.db.engine import Database
from core.forecast import service
from core.forecast.service import FitRequest
from core.market.ingest import ingest_sample
from core.settings import Settings

CASES = [
    ("naive", {}, True),
    ("arima", {"order": [0, 1, 0], "with_constant": False}, True),
    ("arima", {"order": [0, 1, 0], "with_constant": True}, False),  # drift: the line slopes
    ("drift", {}, False),
]


def test_random_walk_flag_follows_the_forecast(db: Database, settings: Settings) -> None:
    ingest_sample(db, actor=SYSTEM)
    seen = []
    for kind, options, _ in CASES:
        request = FitRequest(symbol="MSFT", kind=kind, options=options,
                             start=dt.date(2015, 1, 1), folds=0)
        version = service.save_model(db, settings, service.fit_model(db, settings, request),
                                     SYSTEM)
        view = service.forecast(db, settings, "MSFT", 5, version_id=version.id,
                                log_to_ledger=False)
        seen.append(view.random_walk)
    assert seen == [want for *_, want in CASES]

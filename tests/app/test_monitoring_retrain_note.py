"""Monitoring's retrain panel reads the registry: replayed weekly retrains are retrains."""

from __future__ import annotations

import datetime as dt

from core.context import AppContext
from core.monitor.replay import replay
from tests.app.conftest import assert_clean, run_page


def test_replayed_retrains_are_not_reported_as_no_retrain(sample_app: AppContext) -> None:
    summary = replay(sample_app.db, sample_app.settings, "MSFT", dt.date(2017, 10, 2),
                     dt.date(2017, 11, 10), kind="drift", options={}, horizon=5,
                     train_days=500, into_production=True)
    assert any(r.reason == "weekly" for r in summary.retrains)
    at = run_page("monitoring.py")
    assert_clean(at)
    captions = [c.value for c in at.caption]
    assert not any("No retrain has run" in c for c in captions)
    assert any(f"newest model is #{summary.champion_id}" in c and "replay weekly retrain" in c
               for c in captions), captions

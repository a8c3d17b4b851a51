"""The demo: bundled real data, a champion model and a year of replayed monitoring,
so every page has something true to show, offline, in a couple of minutes."""

from __future__ import annotations

from typing import Any

from core.auth import Actor, require_analyst
from core.db.engine import Database
from core.jobs import Progress
from core.market.calendar import trading_calendar
from core.market.ingest import ingest_sample
from core.market.store import last_date
from core.settings import Settings

DEMO_SYMBOL = "MSFT"
REPLAY_DAYS = 250  # one trading year of daily forecasts, scores, alerts and drift checks


def _noop(fraction: float, message: str) -> None:
    return None


def load_demo(
    db: Database, settings: Settings, actor: Actor, *, progress: Progress = _noop,
    replay_days: int = REPLAY_DAYS,
) -> dict[str, Any]:
    """Load the bundled MSFT history (if absent) and replay the last ``replay_days``
    trading days of the daily pipeline. Resumable: a second call continues or is a no-op."""
    from core.monitor.replay import replay

    require_analyst(actor, "load the demo")
    progress(0.02, "Loading Microsoft's daily history (bundled, 1986-2017)")
    ingest_sample(db, created_by=actor.name, if_empty=True)
    end = last_date(db, DEMO_SYMBOL)
    if end is None:
        from core.errors import DataUnavailable

        raise DataUnavailable(
            f"the database holds other symbols but not {DEMO_SYMBOL}; run "
            "`python -m core ingest --source sample` to add the bundled history"
        )
    sessions = trading_calendar(settings.exchange).sessions("1980-01-01", end)
    start = sessions[-replay_days].date()

    def replay_progress(fraction: float, message: str) -> None:
        progress(0.05 + 0.95 * fraction, message)

    # The demo asks for a replay into production: filling an empty product's Monitoring
    # page with a replayed year is its purpose (a plain replay writes to its sandbox).
    summary = replay(db, settings, DEMO_SYMBOL, start, end, progress=replay_progress,
                     actor=actor, into_production=True)
    progress(1.0, "Demo ready")
    return {"symbol": DEMO_SYMBOL, "start": start.isoformat(), "end": end.isoformat(),
            "summary": summary.describe()}

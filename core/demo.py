"""The demo: every bundled real history, a champion model per symbol and a replayed stretch
of daily monitoring, so every page has something true to show, offline, quickly."""

from __future__ import annotations

from typing import Any

from core.auth import Actor, require_analyst
from core.db.engine import Database
from core.errors import DataUnavailable
from core.jobs import Progress
from core.market.calendar import trading_calendar
from core.market.ingest import ingest_sample
from core.market.listing import exchange_for
from core.market.sample import SAMPLE_SYMBOLS
from core.market.store import last_date
from core.settings import Settings

DEMO_SYMBOL = "MSFT"  # the job's symbol (one demo job at a time)
DEMO_SYMBOLS = SAMPLE_SYMBOLS
REPLAY_DAYS = 60  # three months of daily forecasts, scores, alerts and drift checks each
TRAIN_DAYS = 500  # two years per fit: enough for auto-ARIMA, quick to search


def _noop(fraction: float, message: str) -> None:
    return None


def demo_loaded(db: Database) -> bool:
    """True when every bundled symbol has a champion (the demo has run to its end)."""
    from core.forecast import registry

    with db.read() as session:
        return all(registry.champion(session, s) is not None for s in DEMO_SYMBOLS)


def load_demo(
    db: Database, settings: Settings, actor: Actor, *, progress: Progress = _noop,
    replay_days: int = REPLAY_DAYS, symbols: tuple[str, ...] = DEMO_SYMBOLS,
) -> dict[str, Any]:
    """Load the bundled histories (those absent) and replay the last ``replay_days``
    trading days of the daily pipeline for each. Resumable: a second call continues or is
    a no-op."""
    from core.monitor.replay import replay

    require_analyst(actor, "load the demo")
    progress(0.02, "Loading the bundled daily histories (MSFT 1986-2017; AAPL, GOOG, IBM "
                   "2000-2013)")
    ingest_sample(db, actor=actor, if_empty=True, symbols=symbols)
    described: list[str] = []
    first = last = None
    share = 0.93 / len(symbols)
    for k, symbol in enumerate(symbols):
        end = last_date(db, symbol)
        if end is None:
            raise DataUnavailable(
                f"the bundled history of {symbol} could not be stored; run "
                "`python -m core ingest --source sample` to see why"
            )
        sessions = trading_calendar(exchange_for(db, symbol, settings.exchange)).sessions(
            "1980-01-01", end)
        start = sessions[-replay_days].date()

        def replay_progress(fraction: float, message: str, k: int = k) -> None:
            progress(0.05 + share * (k + fraction), message)

        # The demo asks for a replay into production: filling the product's Monitoring page
        # with replayed days is its purpose (a plain replay writes to its sandbox).
        summary = replay(db, settings, symbol, start, end, progress=replay_progress,
                         actor=actor, train_days=TRAIN_DAYS, into_production=True)
        described.append(summary.describe())
        first = min(first or start, start)
        last = max(last or end, end)
    progress(1.0, "Demo ready")
    return {"symbol": ", ".join(symbols), "start": first.isoformat() if first else "",
            "end": last.isoformat() if last else "", "summary": "\n".join(described)}

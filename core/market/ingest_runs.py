"""Read the ingest audit trail (who loaded what, when, with which outcome)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from core.db.engine import Database
from core.db.models import IngestRun


def recent_ingest_runs(db: Database, symbol: str | None = None, limit: int = 20) -> pd.DataFrame:
    """Newest first: when, source, symbol, rows inserted/updated, status, error, warnings."""
    query = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
    if symbol is not None:
        query = query.where(IngestRun.symbol == symbol)
    with db.read() as session:
        runs = list(session.scalars(query))
    rows = [
        {
            "started": r.started_at,
            "source": r.source,
            "symbol": r.symbol,
            "inserted": r.rows_inserted,
            "updated": r.rows_updated,
            "status": r.status,
            "warnings": sum(
                1 for i in (r.report or {}).get("issues", []) if i.get("level") == "warning"
            ),
            "error": r.error or "",
            "by": r.created_by,
        }
        for r in runs
    ]
    columns = ["started", "source", "symbol", "inserted", "updated", "status", "warnings",
               "error", "by"]
    return pd.DataFrame(rows, columns=columns)

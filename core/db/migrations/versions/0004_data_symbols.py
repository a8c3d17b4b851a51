"""symbols: exchange per symbol and the bundled-sample flag (issue 12)

Revision ID: 0004_data
Revises: 0003_lifecycle
Create Date: 2026-12-02 00:15:00

Existing symbols are backfilled from their bars: the exchange from the Yahoo suffix (or the
EXCHANGE setting), ``sample`` when their bars came from the bundled sample.
"""

from __future__ import annotations

import datetime as dt
import os

import sqlalchemy as sa
from alembic import op

revision = "0004_data"
down_revision = "0003_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "symbols",
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("exchange", sa.String(length=16), nullable=False),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_symbols")),
    )
    from core.symbols import exchange_from_suffix

    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT symbol, MIN(source), MAX(source) FROM bars GROUP BY symbol"
        )
    ).all()
    table = sa.table(
        "symbols",
        sa.column("symbol", sa.String), sa.column("exchange", sa.String),
        sa.column("sample", sa.Boolean), sa.column("source", sa.String),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    default = os.environ.get("EXCHANGE", "XNYS")
    now = dt.datetime.now(dt.UTC)
    if rows:
        op.bulk_insert(table, [
            {"symbol": symbol, "exchange": exchange_from_suffix(symbol, default),
             "sample": lo == hi == "sample", "source": hi, "updated_at": now}
            for symbol, lo, hi in rows
        ])


def downgrade() -> None:
    op.drop_table("symbols")

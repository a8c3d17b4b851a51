"""drift events say which kind of change they are (volatility, bias, shape)

Revision ID: 0005_drift
Revises: 0004_data
Create Date: 2026-12-02 00:20:00

Events recorded before it watched the mean of signed errors (ADWIN: a bias) or their
distribution (KSWIN: a shape); they are labelled so. The unique key gains the kind, so
two kinds may fire on the same day.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_drift"
down_revision = "0004_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drift_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="bias")
        )
    op.execute("UPDATE drift_events SET kind = 'shape' WHERE detector = 'kswin'")
    with op.batch_alter_table("drift_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_drift_events_symbol", type_="unique")
        batch_op.create_unique_constraint(
            "uq_drift_events_symbol", ["symbol", "detector", "kind", "date"]
        )


def downgrade() -> None:
    with op.batch_alter_table("drift_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_drift_events_symbol", type_="unique")
        batch_op.create_unique_constraint("uq_drift_events_symbol", ["symbol", "detector", "date"])
        batch_op.drop_column("kind")

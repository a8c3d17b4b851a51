"""one champion per symbol (partial unique index); job leases (issue 11)

Revision ID: 0003_lifecycle
Revises: 0002
Create Date: 2026-12-01 23:55:00

A symbol left with two champions by the old read-then-write promotion keeps the one its
history last crowned (the newest promote/rollback event; the newest row if none) and the
others are retired, so the unique index can be built.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_lifecycle"
down_revision = "0002"
branch_labels = None
depends_on = None

ONE_CHAMPION = sa.text("role = 'champion'")


def upgrade() -> None:
    op.execute(
        """
        UPDATE model_versions SET role = 'retired'
        WHERE role = 'champion' AND id <> COALESCE(
            (SELECT e.version_id FROM model_events e
               JOIN model_versions v ON v.id = e.version_id
              WHERE e.symbol = model_versions.symbol AND v.role = 'champion'
                AND e.action IN ('promote', 'rollback')
              ORDER BY e.id DESC LIMIT 1),
            (SELECT MAX(v2.id) FROM model_versions v2
              WHERE v2.symbol = model_versions.symbol AND v2.role = 'champion'))
        """
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_model_versions_one_champion", ["symbol"], unique=True,
            sqlite_where=ONE_CHAMPION, postgresql_where=ONE_CHAMPION,
        )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index("uq_model_versions_one_champion")

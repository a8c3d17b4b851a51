"""TimescaleDB when the server has it: hypertables, compression, weekly bars (issue 16)

On PostgreSQL with the ``timescaledb`` extension available (and preloaded) and a role
allowed to create it, ``bars`` and ``predictions`` become hypertables with one chunk per
year of their date column, compressed by symbol (ordered by date) once a chunk is older
than ``TIMESCALE_COMPRESS_AFTER_DAYS`` (default 365), and ``bars_weekly`` is a continuous
aggregate of weekly OHLCV per symbol. The aggregate is real-time: the last four weeks
are never materialised and are aggregated from ``bars`` on read, so a bar the source
revises within its revision period shows at once; an hourly refresh (TimescaleDB's job
scheduler) re-materialises weeks whose bars changed further back. On SQLite, or
PostgreSQL without the extension, this revision does nothing.

Every unique key of a hypertable must include its time column: ``bars`` is keyed by
(symbol, date) already; ``predictions`` had the surrogate key (id) alone, so on
TimescaleDB its primary key becomes (id, target_date). ``id`` is still unique (one
sequence), so the ORM's identity by id and the ledger's
ON CONFLICT (model_version_id, data_date, target_date) are unchanged.

Idempotent (each step checks the catalog first). Downgrade drops the aggregate and the
policies, decompresses and copies each hypertable back into a plain table with the same
name, columns, keys and indexes. The extension itself stays installed (other objects may
use it); ``DROP EXTENSION timescaledb`` removes it.

Revision ID: 0006_timescale
Revises: 0005_drift
Create Date: 2026-12-01 23:50:00
"""

from __future__ import annotations

import logging
import os

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from core.settings import env_int

revision = "0006_timescale"
down_revision = "0005_drift"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# table -> its time column; one chunk per year suits daily rows (the default is 7 days).
HYPERTABLES = {"bars": "date", "predictions": "target_date"}
# Tables whose primary key lacked the time column before this revision (it is appended on
# upgrade and removed again on downgrade).
WIDENED_KEYS = {"predictions"}
WEEKLY_VIEW = "bars_weekly"
DEFAULT_COMPRESS_AFTER_DAYS = 365


def _compress_after_days() -> int:
    # Parsed as core.settings parses it (same errors); read when the revision runs.
    return env_int(
        os.environ, "TIMESCALE_COMPRESS_AFTER_DAYS", DEFAULT_COMPRESS_AFTER_DAYS, minimum=1
    )


def _scalar(bind: Connection, sql: str, **params: object) -> object:
    return bind.execute(sa.text(sql), params).scalar()


def _extension_installed(bind: Connection) -> bool:
    return bool(_scalar(bind, "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"))


def _may_create_extension(bind: Connection) -> bool:
    """Available on the server, preloaded, and this role may CREATE EXTENSION it."""
    if not _scalar(bind, "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"):
        log.info("timescaledb is not available on this server: plain PostgreSQL tables")
        return False
    preload = str(_scalar(bind, "SELECT current_setting('shared_preload_libraries')") or "")
    if "timescaledb" not in preload:
        log.warning(
            "timescaledb is available but not in shared_preload_libraries: plain PostgreSQL "
            "tables (add shared_preload_libraries = 'timescaledb' and rerun the upgrade)"
        )
        return False
    allowed = _scalar(
        bind,
        "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
        "OR (has_database_privilege(current_database(), 'CREATE') AND EXISTS ("
        "  SELECT 1 FROM pg_available_extension_versions "
        "  WHERE name = 'timescaledb' AND trusted))",
    )
    if not allowed:
        log.warning(
            "timescaledb is available but this role may not create it: plain PostgreSQL "
            "tables (a superuser can run CREATE EXTENSION timescaledb, then rerun the upgrade)"
        )
        return False
    return True


def _is_hypertable(bind: Connection, table: str) -> bool:
    return bool(
        _scalar(
            bind,
            "SELECT 1 FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = current_schema() AND hypertable_name = :t",
            t=table,
        )
    )


def _has_cagg(bind: Connection) -> bool:
    return bool(
        _scalar(
            bind,
            "SELECT 1 FROM timescaledb_information.continuous_aggregates "
            "WHERE view_schema = current_schema() AND view_name = :v",
            v=WEEKLY_VIEW,
        )
    )


def _primary_key_columns(bind: Connection, table: str) -> list[str]:
    rows = bind.execute(
        sa.text(
            "SELECT a.attname FROM pg_index i "
            "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = CAST(:t AS regclass) AND i.indisprimary ORDER BY k.n"
        ),
        {"t": table},
    )
    return [r[0] for r in rows]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if not _extension_installed(bind):
        if not _may_create_extension(bind):
            return
        op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    days = _compress_after_days()
    for table, time_column in HYPERTABLES.items():
        if not _is_hypertable(bind, table):
            pk = _primary_key_columns(bind, table)
            if time_column not in pk:
                # predictions: (id) -> (id, target_date); same constraint name.
                op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
                op.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} "
                    f"PRIMARY KEY ({', '.join([*pk, time_column])})"
                )
            # No default time index: the primary key and existing indexes serve the reads.
            op.execute(
                f"SELECT create_hypertable('{table}', by_range('{time_column}', "
                "INTERVAL '1 year'), create_default_indexes => false, "
                "if_not_exists => true, migrate_data => true)"
            )
        op.execute(
            f"ALTER TABLE {table} SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'symbol', "
            f"timescaledb.compress_orderby = '{time_column}')"
        )
        op.execute(
            f"SELECT add_compression_policy('{table}', compress_after => "
            f"INTERVAL '{days} days', if_not_exists => true)"
        )
    if not _has_cagg(bind):
        # Real-time (materialized_only = false): weeks after the materialised range are
        # aggregated from bars on read.
        op.execute(
            f"CREATE MATERIALIZED VIEW {WEEKLY_VIEW} "
            "WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS "
            "SELECT symbol, time_bucket(INTERVAL '1 week', date) AS date, "
            "first(open, date) AS open, max(high) AS high, min(low) AS low, "
            "last(close, date) AS close, CAST(sum(volume) AS bigint) AS volume "
            "FROM bars GROUP BY symbol, time_bucket(INTERVAL '1 week', date) "
            "WITH NO DATA"
        )
    # Materialise all but the last four weeks (wider than a source's revision period of
    # days), re-materialising any older week whose bars changed, every hour.
    op.execute(
        f"SELECT add_continuous_aggregate_policy('{WEEKLY_VIEW}', start_offset => NULL, "
        "end_offset => INTERVAL '4 weeks', schedule_interval => INTERVAL '1 hour', "
        "if_not_exists => true)"
    )


def _to_plain_table(bind: Connection, table: str, time_column: str) -> None:
    """Copy hypertable ``table`` into a plain table of the same name, keys and indexes."""
    constraints = bind.execute(
        sa.text(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u', 'f') "
            "ORDER BY contype DESC, conname"
        ),
        {"t": table},
    ).all()
    indexes = bind.execute(
        sa.text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = CAST(:t AS regclass) AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.conrelid = x.indrelid)"
        ),
        {"t": table},
    ).all()
    sequences = [
        r[0]
        for r in bind.execute(
            sa.text(
                "SELECT pg_get_serial_sequence(:t, a.attname) FROM pg_attribute a "
                "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"
            ),
            {"t": table},
        )
        if r[0]
    ]
    columns_of_sequence = {
        seq: bind.execute(
            sa.text(
                "SELECT a.attname FROM pg_depend d JOIN pg_attribute a "
                "ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
                "WHERE d.objid = CAST(:s AS regclass) AND d.deptype = 'a'"
            ),
            {"s": seq},
        ).scalar()
        for seq in sequences
    }
    plain = f"{table}__plain"
    for seq in sequences:  # dropping the hypertable would drop the sequences it owns
        op.execute(f"ALTER SEQUENCE {seq} OWNED BY NONE")
    op.execute(
        f"CREATE TABLE {plain} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS)"
    )
    op.execute(f"INSERT INTO {plain} SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {plain} RENAME TO {table}")
    for seq, column in columns_of_sequence.items():
        op.execute(f"ALTER SEQUENCE {seq} OWNED BY {table}.{column}")
    for name, kind, definition in constraints:
        if kind == "p" and table in WIDENED_KEYS:
            # Undo the upgrade's widening: (id, target_date) -> (id).
            cols = [c.strip() for c in definition[definition.index("(") + 1 : -1].split(",")]
            if len(cols) > 1 and cols[-1] == time_column:
                definition = f"PRIMARY KEY ({', '.join(cols[:-1])})"
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _name, definition in indexes:
        op.execute(definition)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _extension_installed(bind):
        return
    if _has_cagg(bind):
        op.execute(f"SELECT remove_continuous_aggregate_policy('{WEEKLY_VIEW}', if_exists => true)")
        op.execute(f"DROP MATERIALIZED VIEW {WEEKLY_VIEW}")
    for table, time_column in HYPERTABLES.items():
        if not _is_hypertable(bind, table):
            continue
        op.execute(f"SELECT remove_compression_policy('{table}', if_exists => true)")
        op.execute(
            f"SELECT decompress_chunk(c, if_compressed => true) FROM show_chunks('{table}') c"
        )
        _to_plain_table(bind, table, time_column)

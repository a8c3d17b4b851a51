"""Apply Alembic migrations programmatically (on start-up and from the CLI)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, OperationalError

from core.db.engine import Database, describe_db_error
from core.errors import DatabaseUnavailable
from core.settings import env_int

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Objects TimescaleDB creates itself: its schemas (chunks, compressed chunks, the
# continuous aggregates' materialisation tables) and the views of the TimescaleDB migration.
_TIMESCALE_SCHEMA_PREFIXES = ("_timescaledb", "timescaledb_")
_TIMESCALE_VIEWS = frozenset({"bars_weekly"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's ``include_object`` hook: autogenerate leaves TimescaleDB's objects alone.

    Only objects found in the database and absent from the models are candidates (those
    autogenerate would drop): anything in TimescaleDB's schemas, the continuous aggregate,
    and the default time indexes ``create_hypertable`` makes (``<table>_<column>_idx``).
    """
    if not reflected or compare_to is not None:
        return True
    table: Any = obj if type_ == "table" else getattr(obj, "table", None)
    schema = getattr(table, "schema", None) or ""
    if schema.startswith(_TIMESCALE_SCHEMA_PREFIXES):
        return False
    if type_ == "table" and name in _TIMESCALE_VIEWS:
        return False
    if type_ == "index" and name and table is not None:
        columns = [c.name for c in getattr(obj, "columns", [])]
        defaults = {f"{table.name}_{c}_idx" for c in columns}
        if name in defaults:
            return False
    return True


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def sync_compression_policy(connection: Connection, days: int) -> int:
    """On TimescaleDB, make the compression policies of bars and predictions compress
    chunks older than ``days`` (TIMESCALE_COMPRESS_AFTER_DAYS); returns policies replaced.

    The TimescaleDB migration creates the policies with the setting of the day it ran; this keeps
    them following the setting afterwards. Elsewhere it does nothing.
    """
    if connection.dialect.name != "postgresql":
        return 0
    if not connection.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    ).scalar():
        return 0
    stale = connection.execute(
        text(
            "SELECT hypertable_name FROM timescaledb_information.jobs "
            "WHERE proc_name = 'policy_compression' AND hypertable_schema = current_schema() "
            "AND hypertable_name IN ('bars', 'predictions') "
            "AND CAST(config ->> 'compress_after' AS interval) <> make_interval(days => :d)"
        ),
        {"d": days},
    ).scalars()
    replaced = 0
    for table in list(stale):
        connection.execute(text("SELECT remove_compression_policy(:t)"), {"t": table})
        connection.execute(
            text("SELECT add_compression_policy(:t, compress_after => make_interval(days => :d))"),
            {"t": table, "d": days},
        )
        replaced += 1
    return replaced


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; idempotent. On TimescaleDB the compression
    policies then follow TIMESCALE_COMPRESS_AFTER_DAYS (``sync_compression_policy``)."""
    config = alembic_config(db.url)
    days = env_int(os.environ, "TIMESCALE_COMPRESS_AFTER_DAYS", 365, minimum=1)
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            sync_compression_policy(connection, days)
    except (OperationalError, DBAPIError) as exc:
        raise DatabaseUnavailable(describe_db_error(db.url, exc)) from exc

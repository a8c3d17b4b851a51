"""TimescaleDB (TEST_TIMESCALE_URL): hypertables, compression, writes into compressed
chunks, the weekly aggregate, and the migration's idempotence and downgrade.

The repository tests themselves (test_bars_store, test_ingest_usecases, test_migrations,
test_monitor_ledger, ...) run on TimescaleDB through the ``db`` fixture's ``timescale``
backend; these tests check what only TimescaleDB has.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from core.db.engine import Database
from core.db.migrate import alembic_config, include_object, sync_compression_policy, upgrade
from core.db.models import Base
from core.errors import ValidationFailed
from core.market.store import UpsertCounts, read_bars, upsert_bars
from core.market.weekly import resample_weekly, weekly_bars
from core.monitor.ledger import ledger_frame, reconcile
from tests.integration.test_bars_store import bars
from tests.integration.test_monitor_support import add_bars, add_model_version, log_simple

REVISION = "0006_timescale"
HYPERTABLES = {"bars": "date", "predictions": "target_date"}


def before_revision(db: Database) -> str:
    """The revision this one follows (the lead re-chains revisions at merge)."""
    down = ScriptDirectory.from_config(alembic_config(db.url)).get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


def scalar(db: Database, sql: str, **params: object) -> object:
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def compress_all(db: Database, table: str) -> int:
    """Compress every chunk of ``table`` now (the policy would, once they are old enough)."""
    with db.engine.begin() as conn:
        return len(
            conn.execute(
                text(
                    "SELECT compress_chunk(c, if_not_compressed => true) "
                    f"FROM show_chunks('{table}') c"
                )
            ).all()
        )


def compressed_chunks(db: Database, table: str) -> int:
    return int(
        scalar(
            db,
            "SELECT count(*) FROM timescaledb_information.chunks "
            "WHERE hypertable_name = :t AND is_compressed",
            t=table,
        )
        or 0
    )


def years_of_bars(years: int = 3, symbol_seed: int = 1) -> pd.DataFrame:
    return bars(n=252 * years, start="2020-01-02", seed=symbol_seed)


@pytest.mark.timescale
def test_bars_and_predictions_are_yearly_compressed_hypertables(timescale_db: Database) -> None:
    db = timescale_db
    assert scalar(db, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    for table, column in HYPERTABLES.items():
        with db.engine.connect() as conn:
            dim = conn.execute(
                text(
                    "SELECT column_name, time_interval FROM timescaledb_information.dimensions "
                    "WHERE hypertable_name = :t"
                ),
                {"t": table},
            ).one()
            settings = conn.execute(
                text(
                    "SELECT segmentby, orderby FROM "
                    "timescaledb_information.hypertable_compression_settings "
                    "WHERE hypertable = CAST(:t AS regclass)"
                ),
                {"t": table},
            ).one()
            policy = conn.execute(
                text(
                    "SELECT config ->> 'compress_after' FROM timescaledb_information.jobs "
                    "WHERE proc_name = 'policy_compression' AND hypertable_name = :t"
                ),
                {"t": table},
            ).scalar()
        # TimescaleDB turns INTERVAL '1 year' into 360 days for a date column.
        assert tuple(dim) == (column, dt.timedelta(days=360))
        assert settings.segmentby == "symbol"
        assert settings.orderby == column
        assert policy == "365 days"
    # Every unique key includes the time column; predictions' key was widened.
    with db.engine.connect() as conn:
        pk = conn.execute(
            text(
                "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i "
                "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = 'predictions'::regclass AND i.indisprimary"
            )
        ).scalar()
    assert pk == ["id", "target_date"]
    assert scalar(db, "SELECT to_regclass('bars_weekly') IS NOT NULL") is True


@pytest.mark.timescale
def test_reads_are_identical_after_compression(timescale_db: Database) -> None:
    db = timescale_db
    frame = years_of_bars()
    upsert_bars(db, "MSFT", frame, "yahoo")
    upsert_bars(db, "AAPL", years_of_bars(symbol_seed=2), "yahoo")
    chunks = compress_all(db, "bars")
    assert chunks >= 3 and compressed_chunks(db, "bars") == chunks
    pd.testing.assert_frame_equal(read_bars(db, "MSFT"), frame)
    middle = frame.iloc[300:320].reset_index(drop=True)
    got = read_bars(db, "MSFT", middle["date"].iloc[0].date(), middle["date"].iloc[-1].date())
    pd.testing.assert_frame_equal(got, middle)


@pytest.mark.timescale
def test_revision_landing_in_a_compressed_chunk_updates(timescale_db: Database) -> None:
    db = timescale_db
    frame = years_of_bars()
    missing = frame.index[100]  # a day the first ingest did not have
    upsert_bars(db, "MSFT", frame.drop(index=missing), "yahoo")
    compress_all(db, "bars")
    assert compressed_chunks(db, "bars") >= 3
    revised = frame.copy()
    revised.loc[10, "close"] = revised.loc[10, "close"] + 1.25  # in 2020's compressed chunk
    revised.loc[400, "volume"] = revised.loc[400, "volume"] + 7  # in 2021's
    counts = upsert_bars(db, "MSFT", revised, "yahoo")
    assert counts == UpsertCounts(inserted=1, updated=2, unchanged=len(frame) - 3)
    pd.testing.assert_frame_equal(read_bars(db, "MSFT"), revised)
    # And the same frame again changes nothing.
    assert upsert_bars(db, "MSFT", revised, "yahoo") == UpsertCounts(0, 0, len(frame))


@pytest.mark.timescale
def test_ledger_logs_and_reconciles_on_compressed_chunks(timescale_db: Database) -> None:
    db = timescale_db
    day = dt.date(2021, 6, 1)
    targets = [dt.date(2021, 6, 2), dt.date(2021, 6, 3)]
    with db.begin() as s:
        mv = add_model_version(s)
        assert log_simple(s, mv, day, targets, [101.0, 102.0], 100.0) == 2
        add_bars(s, "MSFT", {day: 100.0, targets[0]: 104.0})
    compress_all(db, "predictions")
    compress_all(db, "bars")
    assert compressed_chunks(db, "predictions") == 1
    with db.begin() as s:
        assert log_simple(s, mv, day, targets, [101.0, 102.0], 100.0) == 0  # no duplicate
        assert reconcile(s, "MSFT") == 1
    with db.begin() as s:
        add_bars(s, "MSFT", {targets[0]: 103.0, targets[1]: 99.0})  # revised + new bar
        assert reconcile(s, "MSFT") == 2
    with db.read() as s:
        frame = ledger_frame(s, "MSFT")
    assert frame["actual"].tolist() == [103.0, 99.0]
    assert frame["error"].tolist() == pytest.approx([2.0, -3.0])


@pytest.mark.timescale
def test_weekly_aggregate_matches_the_pandas_resample(timescale_db: Database) -> None:
    db = timescale_db
    frame = years_of_bars(2)
    upsert_bars(db, "MSFT", frame, "yahoo")
    upsert_bars(db, "AAPL", years_of_bars(2, symbol_seed=3), "yahoo")
    expected = resample_weekly(frame)
    pd.testing.assert_frame_equal(weekly_bars(db, "MSFT"), expected)
    # Materialised (as the hourly policy would), then compressed, then a revision in a
    # materialised week: after the next refresh the view follows it.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CALL refresh_continuous_aggregate('bars_weekly', NULL, NULL)"))
    with db.engine.connect() as conn:
        mat = conn.execute(
            text(
                "SELECT format('%I.%I', materialization_hypertable_schema, "
                "materialization_hypertable_name) "
                "FROM timescaledb_information.continuous_aggregates "
                "WHERE view_name = 'bars_weekly'"
            )
        ).scalar()
        assert conn.execute(text(f"SELECT count(*) FROM {mat}")).scalar()  # really materialised
    compress_all(db, "bars")
    pd.testing.assert_frame_equal(weekly_bars(db, "MSFT"), expected)
    revised = frame.copy()
    revised.loc[20, "high"] = revised["high"].max() + 10.0
    upsert_bars(db, "MSFT", revised, "yahoo")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CALL refresh_continuous_aggregate('bars_weekly', NULL, NULL)"))
    pd.testing.assert_frame_equal(weekly_bars(db, "MSFT"), resample_weekly(revised))
    assert weekly_bars(db, "NONE").empty


@pytest.mark.timescale
def test_upgrade_reruns_cleanly_on_an_already_converted_database(timescale_db: Database) -> None:
    db = timescale_db
    upsert_bars(db, "MSFT", years_of_bars(1), "yahoo")
    compress_all(db, "bars")
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.stamp(config, before_revision(db))  # as if 0003 had not run: it runs again
    upgrade(db)
    upgrade(db)
    assert int(scalar(db, "SELECT count(*) FROM timescaledb_information.hypertables") or 0) == 2
    jobs = "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = :p"
    assert scalar(db, jobs, p="policy_compression") == 2
    assert scalar(db, jobs, p="policy_refresh_continuous_aggregate") == 1
    assert len(read_bars(db, "MSFT")) == 252


@pytest.mark.timescale
def test_downgrade_restores_plain_tables_with_their_data_and_keys(timescale_db: Database) -> None:
    db = timescale_db
    frame = years_of_bars(2)
    upsert_bars(db, "MSFT", frame, "yahoo")
    with db.begin() as s:
        mv = add_model_version(s)
        log_simple(s, mv, dt.date(2021, 6, 1), [dt.date(2021, 6, 2)], [101.0], 100.0)
    compress_all(db, "bars")
    compress_all(db, "predictions")
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, before_revision(db))
    assert int(scalar(db, "SELECT count(*) FROM timescaledb_information.hypertables") or 0) == 0
    assert scalar(db, "SELECT to_regclass('bars_weekly')") is None
    # No policy left (user jobs have ids from 1000; TimescaleDB's own are below).
    assert scalar(db, "SELECT count(*) FROM timescaledb_information.jobs WHERE job_id >= 1000") == 0
    pd.testing.assert_frame_equal(read_bars(db, "MSFT"), frame)
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'predictions'::regclass ORDER BY conname"
            )
        ).all()
        indexes = set(
            conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'predictions'")
            ).scalars()
        )
        sequence = conn.execute(text("SELECT pg_get_serial_sequence('predictions', 'id')")).scalar()
    constraints = dict(rows)
    assert constraints["pk_predictions"] == "PRIMARY KEY (id)"
    assert constraints["uq_predictions_model_version_id"].startswith("UNIQUE (model_version_id")
    assert constraints["fk_predictions_model_version_id_model_versions"].startswith("FOREIGN KEY")
    assert indexes == {
        "pk_predictions",
        "uq_predictions_model_version_id",
        "ix_predictions_symbol",
        "ix_predictions_target_date",
    }
    assert sequence == "public.predictions_id_seq"
    with db.begin() as s:  # the ledger still writes, ids continue from the old sequence
        assert log_simple(s, mv, dt.date(2021, 6, 1), [dt.date(2021, 6, 3)], [102.0], 100.0) == 1
    with db.read() as s:
        assert len(ledger_frame(s, "MSFT")) == 2
    # Back up again: hypertables, and the schema autogenerate sees still matches the models.
    upgrade(db)
    assert int(scalar(db, "SELECT count(*) FROM timescaledb_information.hypertables") or 0) == 2
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object})
        assert compare_metadata(ctx, Base.metadata) == []


@pytest.mark.timescale
def test_compression_policy_follows_the_setting(
    timescale_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = timescale_db
    policy = (
        "SELECT config ->> 'compress_after' FROM timescaledb_information.jobs "
        "WHERE proc_name = 'policy_compression' AND hypertable_name = :t"
    )
    monkeypatch.setenv("TIMESCALE_COMPRESS_AFTER_DAYS", "30")
    upgrade(db)
    assert [scalar(db, policy, t=t) for t in HYPERTABLES] == ["30 days", "30 days"]
    with db.engine.begin() as conn:  # unchanged setting: nothing replaced
        assert sync_compression_policy(conn, 30) == 0
    monkeypatch.setenv("TIMESCALE_COMPRESS_AFTER_DAYS", "0")
    with pytest.raises(ValidationFailed, match="TIMESCALE_COMPRESS_AFTER_DAYS must be >= 1"):
        upgrade(db)


@pytest.mark.postgres
def test_plain_postgres_without_the_preloaded_library_stays_plain(postgres_db: Database) -> None:
    db = postgres_db
    assert scalar(db, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'") == 0
    assert scalar(db, "SELECT to_regclass('bars_weekly')") is None


def test_include_object_keeps_model_objects_and_skips_timescale_ones() -> None:
    from sqlalchemy import Column, Index, Integer, MetaData, Table

    meta = MetaData()
    chunk = Table("_hyper_1_1_chunk", meta, Column("x", Integer), schema="_timescaledb_internal")
    bars_table = Table("bars", meta, Column("date", Integer))
    default_index = Index("bars_date_idx", bars_table.c.date)
    own_index = Index("ix_bars_date", bars_table.c.date)
    assert not include_object(chunk, chunk.name, "table", True, None)
    assert not include_object(bars_table, "bars_weekly", "table", True, None)
    assert not include_object(default_index, "bars_date_idx", "index", True, None)
    assert include_object(own_index, "ix_bars_date", "index", True, None)
    assert include_object(bars_table, "bars", "table", True, None)
    assert include_object(default_index, "bars_date_idx", "index", False, None)

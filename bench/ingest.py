"""Benchmark: bulk upsert of daily bars vs the seed's ``DataFrame.to_sql(if_exists="append")``.

Prints figures; asserts nothing. For each backend (SQLite, and PostgreSQL when a URL is
given via --pg-url or TEST_POSTGRES_URL), on a freshly migrated database per run:

- first ingest: ``upsert_bars`` per symbol (one transaction each) into an empty table, and
  ``to_sql(..., if_exists="append")`` per symbol (one transaction each);
- re-ingest of the same rows: ``upsert_bars`` again (all rows unchanged), and, since
  ``append`` of existing keys violates the primary key, the seed-style equivalent
  DELETE-the-symbol + ``to_sql`` append in one transaction per symbol;
- read: median ms of ``read_bars`` for one symbol's full history;
- PostgreSQL and TimescaleDB: the size of ``bars`` on disk (table, indexes, chunks); on
  TimescaleDB also after compressing every chunk, then a read and a re-ingest (all rows
  unchanged) against the compressed chunks. TimescaleDB figures are printed with their
  ratio to plain PostgreSQL in the same run (a ratio > 1 means TimescaleDB is faster).

TimescaleDB runs when --ts-url or TEST_TIMESCALE_URL names a server started with
``shared_preload_libraries=timescaledb`` (scripts/pg-throwaway.sh starts one).

Usage: python bench/ingest.py [--symbols 500] [--years 10] [--runs 3] [--pg-url URL]
       [--ts-url URL] [--skip-sqlite] [--skip-seed]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.db.engine import Database
from core.db.migrate import upgrade
from core.market.calendar import trading_calendar
from core.market.frames import canonical_bars
from core.market.store import read_bars, upsert_bars


def synthetic_bars(n_symbols: int, years: int, seed: int = 42) -> dict[str, pd.DataFrame]:
    """Random-walk daily bars on real XNYS sessions ending 2024-12-31."""
    sessions = trading_calendar().sessions(f"{2024 - years + 1}-01-01", "2024-12-31")
    n = len(sessions)
    rng = np.random.default_rng(seed)
    out: dict[str, pd.DataFrame] = {}
    for i in range(n_symbols):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
        out[f"S{i:04d}"] = canonical_bars(
            pd.DataFrame(
                {
                    "date": sessions,
                    "open": close * (1 + rng.normal(0, 0.003, n)),
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "volume": rng.integers(100_000, 50_000_000, n),
                    "dividend": 0.0,
                    "split_ratio": 1.0,
                }
            )
        )
    return out


@contextmanager
def fresh_sqlite() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.connect(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(db)
        try:
            yield db
        finally:
            db.dispose()


def pg_factory(url: str) -> Callable[[], object]:
    @contextmanager
    def fresh_pg() -> Iterator[Database]:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        name = f"bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db = Database.connect(make_url(url).set(database=name).render_as_string(False))
        try:
            upgrade(db)
            yield db
        finally:
            db.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return fresh_pg


def ours(db: Database, data: dict[str, pd.DataFrame]) -> float:
    t0 = time.perf_counter()
    for symbol, frame in data.items():
        upsert_bars(db, symbol, frame, "bench")
    return time.perf_counter() - t0


def seed_way(db: Database, data: dict[str, pd.DataFrame], *, replace: bool) -> float:
    t0 = time.perf_counter()
    stamp = dt.datetime.now(dt.UTC)
    for symbol, frame in data.items():
        rows = frame.assign(symbol=symbol, source="bench", fetched_at=stamp)
        with db.engine.begin() as conn:
            if replace:
                conn.execute(text("DELETE FROM bars WHERE symbol = :s"), {"s": symbol})
            rows.to_sql("bars", conn, if_exists="append", index=False)
    return time.perf_counter() - t0


def read_ms(db: Database, symbols: list[str], samples: int = 50) -> float:
    rng = np.random.default_rng(0)
    times = []
    for symbol in rng.choice(symbols, size=samples):
        t0 = time.perf_counter()
        read_bars(db, str(symbol))
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def table_bytes(db: Database) -> int:
    """``bars`` on disk: table + indexes + TOAST, and every chunk on TimescaleDB."""
    with db.engine.connect() as conn:
        hyper = conn.execute(
            text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        ).scalar() and conn.execute(
            text("SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'bars'")
        ).scalar()
        sql = "SELECT hypertable_size('bars')" if hyper else "SELECT pg_total_relation_size('bars')"
        return int(conn.execute(text(sql)).scalar() or 0)


def compress_bars(db: Database) -> float:
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(
            text("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('bars') c")
        )
    return time.perf_counter() - t0


def run_backend(
    name: str,
    fresh: Callable[[], object],
    data: dict[str, pd.DataFrame],
    runs: int,
    *,
    seed: bool = True,
    compress: bool = False,
) -> dict[str, float]:
    """Time one backend over ``runs`` fresh databases; prints and returns the medians."""
    rows = sum(len(f) for f in data.values())
    keys = ["ours1", "ours2"] + (["seed1", "seed2"] if seed else [])
    if compress:
        keys += ["compress", "ours3"]
    res: dict[str, list[float]] = {k: [] for k in keys}
    reads: list[float] = []
    reads_compressed: list[float] = []
    sizes: list[float] = []
    sizes_compressed: list[float] = []
    for r in range(runs):
        with fresh() as db:  # type: ignore[attr-defined]
            res["ours1"].append(ours(db, data))
            res["ours2"].append(ours(db, data))
            reads.append(read_ms(db, list(data)))
            if db.dialect == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(text("VACUUM ANALYZE bars"))
                sizes.append(table_bytes(db))
            if compress:
                res["compress"].append(compress_bars(db))
                sizes_compressed.append(table_bytes(db))
                reads_compressed.append(read_ms(db, list(data)))
                res["ours3"].append(ours(db, data))
        if seed:
            with fresh() as db:  # type: ignore[attr-defined]
                res["seed1"].append(seed_way(db, data, replace=False))
                res["seed2"].append(seed_way(db, data, replace=True))
        print(
            f"  [{name} run {r + 1}/{runs}] "
            + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in res.items())
            + f", read {reads[-1]:.1f} ms",
            flush=True,
        )
    med = {k: statistics.median(v) for k, v in res.items()}
    med["read_ms"] = statistics.median(reads)
    if sizes:
        med["bytes"] = statistics.median(sizes)
    print(
        f"\n{name}: {len(data)} symbols x {rows // len(data):,} days = {rows:,} rows, "
        f"median of {runs} run(s)"
    )
    for label, ours_key, seed_key in (
        ("first ingest", "ours1", "seed1"),
        ("re-ingest   ", "ours2", "seed2"),
    ):
        o = med[ours_key]
        line = f"  {label}: upsert {rows / o:>10,.0f} rows/s ({o:6.2f} s)"
        if seed:
            s = med[seed_key]
            line += f" | to_sql {rows / s:>10,.0f} rows/s ({s:6.2f} s) | ratio {s / o:4.1f}x"
        print(line)
    print(f"  read one symbol ({rows // len(data):,} rows): median {med['read_ms']:.1f} ms")
    if sizes:
        print(f"  bars on disk: {med['bytes'] / 2**20:,.1f} MiB")
    if compress:
        med["bytes_compressed"] = statistics.median(sizes_compressed)
        med["read_compressed_ms"] = statistics.median(reads_compressed)
        o3 = med["ours3"]
        print(
            f"  compress every chunk: {med['compress']:.2f} s; on disk "
            f"{med['bytes_compressed'] / 2**20:,.1f} MiB "
            f"({med['bytes'] / max(med['bytes_compressed'], 1):.1f}x smaller)"
        )
        print(f"  read one symbol, compressed: median {med['read_compressed_ms']:.1f} ms")
        print(f"  re-ingest onto compressed chunks: {rows / o3:,.0f} rows/s ({o3:.2f} s)")
    return med


def compare(ts: dict[str, float], pg: dict[str, float], rows: int) -> None:
    """TimescaleDB against plain PostgreSQL, same run, same data (> 1x: TimescaleDB faster)."""
    print("\nTimescaleDB vs PostgreSQL (same run; speed ratio > 1x means TimescaleDB is faster)")
    for label, key in (("first ingest", "ours1"), ("re-ingest   ", "ours2")):
        print(
            f"  {label}: {rows / ts[key]:>10,.0f} vs {rows / pg[key]:>10,.0f} rows/s "
            f"= {pg[key] / ts[key]:.2f}x"
        )
    print(
        f"  read 1 symbol: {ts['read_ms']:.1f} vs {pg['read_ms']:.1f} ms "
        f"= {pg['read_ms'] / ts['read_ms']:.2f}x; compressed {ts['read_compressed_ms']:.1f} ms "
        f"= {pg['read_ms'] / ts['read_compressed_ms']:.2f}x"
    )
    print(
        f"  re-ingest onto compressed chunks: {rows / ts['ours3']:,.0f} rows/s "
        f"= {pg['ours2'] / ts['ours3']:.2f}x"
    )
    print(
        f"  on disk: {ts['bytes'] / 2**20:,.1f} MiB uncompressed, "
        f"{ts['bytes_compressed'] / 2**20:,.1f} MiB compressed vs {pg['bytes'] / 2**20:,.1f} MiB "
        f"= {pg['bytes'] / ts['bytes_compressed']:.1f}x smaller"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("TEST_POSTGRES_URL"))
    parser.add_argument("--ts-url", default=os.environ.get("TEST_TIMESCALE_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--skip-seed", action="store_true", help="skip the seed's to_sql comparison"
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = synthetic_bars(args.symbols, args.years)
    rows = sum(len(f) for f in data.values())
    print(f"generated {rows:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
    seed = not args.skip_seed
    if not args.skip_sqlite:
        run_backend("SQLite", fresh_sqlite, data, args.runs, seed=seed)
    pg: dict[str, float] | None = None
    if args.pg_url:
        pg = run_backend("PostgreSQL", pg_factory(args.pg_url), data, args.runs, seed=seed)
    else:
        print("\nPostgreSQL: skipped (pass --pg-url or set TEST_POSTGRES_URL)")
    if args.ts_url:
        ts = run_backend(
            "TimescaleDB", pg_factory(args.ts_url), data, args.runs, seed=False, compress=True
        )
        if pg is not None:
            compare(ts, pg, rows)
    else:
        print("\nTimescaleDB: skipped (pass --ts-url or set TEST_TIMESCALE_URL)")


if __name__ == "__main__":
    main()

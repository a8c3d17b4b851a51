"""Benchmark: bulk upsert of daily bars vs the seed's ``DataFrame.to_sql(if_exists="append")``.

Prints figures; asserts nothing. For each backend (SQLite, and PostgreSQL when a URL is
given via --pg-url or TEST_POSTGRES_URL), on a freshly migrated database per run:

- first ingest: ``upsert_bars`` per symbol (one transaction each) into an empty table, and
  ``to_sql(..., if_exists="append")`` per symbol (one transaction each);
- re-ingest of the same rows: ``upsert_bars`` again (all rows unchanged), and, since
  ``append`` of existing keys violates the primary key, the seed-style equivalent
  DELETE-the-symbol + ``to_sql`` append in one transaction per symbol;
- read: median ms of ``read_bars`` for one symbol's full history.

Usage: python bench/ingest.py [--symbols 500] [--years 10] [--runs 3] [--pg-url URL]
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


def run_backend(
    name: str, fresh: Callable[[], object], data: dict[str, pd.DataFrame], runs: int
) -> None:
    rows = sum(len(f) for f in data.values())
    res: dict[str, list[float]] = {k: [] for k in ("ours1", "ours2", "seed1", "seed2")}
    reads: list[float] = []
    for r in range(runs):
        with fresh() as db:  # type: ignore[attr-defined]
            res["ours1"].append(ours(db, data))
            res["ours2"].append(ours(db, data))
            reads.append(read_ms(db, list(data)))
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
    print(
        f"\n{name}: {len(data)} symbols x {rows // len(data):,} days = {rows:,} rows, "
        f"median of {runs} run(s)"
    )
    for label, ours_key, seed_key in (
        ("first ingest", "ours1", "seed1"),
        ("re-ingest   ", "ours2", "seed2"),
    ):
        o, s = med[ours_key], med[seed_key]
        print(
            f"  {label}: upsert {rows / o:>10,.0f} rows/s ({o:6.2f} s) | "
            f"to_sql {rows / s:>10,.0f} rows/s ({s:6.2f} s) | ratio {s / o:4.1f}x"
        )
    print(
        f"  read one symbol ({rows // len(data):,} rows): median {statistics.median(reads):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = synthetic_bars(args.symbols, args.years)
    print(
        f"generated {sum(len(f) for f in data.values()):,} rows in "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    if not args.skip_sqlite:
        run_backend("SQLite", fresh_sqlite, data, args.runs)
    if args.pg_url:
        run_backend("PostgreSQL", pg_factory(args.pg_url), data, args.runs)
    else:
        print("\nPostgreSQL: skipped (pass --pg-url or set TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()

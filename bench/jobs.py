"""Job start latency: from the click (``jobs.submit`` + ``jobs.launch``) to ``running``.

    .venv/bin/python bench/jobs.py [--runs 5]

A page submits a job row and launches ``python -m core jobs run ID``; the page shows
"queued" until that process marks the row running. Measured from the row's ``created_at``
to its ``started_at`` (both written by the database clients, so no polling delay counts),
for the product's path and for the old one (the whole CLI parser built first, which
imports every subcommand module before the job is touched). Prints medians only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import jobs
from core.auth import SYSTEM
from core.db.engine import Database
from core.db.migrate import upgrade

OLD_PATH = (
    "import sys; from core import cli; p = cli.build_parser(); "
    "a = p.parse_args(['jobs', 'run', sys.argv[1]]); "
    "from core import jobs; from core.context import open_context; "
    "from core.handlers import HANDLERS; jobs.run(open_context(migrate=False).db, "
    "a.job_id, HANDLERS)"
)


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def measure(db: Database, env: dict[str, str], old: bool) -> float:
    # A fit of an unknown symbol: it starts, then fails after the heavy imports.
    job = jobs.submit(db, kind="fit", symbol="NOPE", params={"kind": "naive"}, actor=SYSTEM)
    if old:
        proc = subprocess.Popen([sys.executable, "-c", OLD_PATH, str(job.id)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        proc = jobs.launch(job.id, env=env)
    proc.wait()
    row = jobs.get(db, job.id)
    assert row.started_at is not None, row.error
    return (_aware(row.started_at) - _aware(row.created_at)).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        env = {**os.environ, "DATABASE_URL": url, "MODEL_DIR": str(Path(tmp) / "models"),
               "DATA_DIR": tmp, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        db = Database.connect(url)
        upgrade(db)
        figures: dict[str, list[float]] = {"product (jobs run fast path)": [],
                                           "old (whole CLI parser first)": []}
        for _ in range(args.runs):  # alternate, so drift in machine speed hits both
            for name in figures:
                figures[name].append(measure(db, env, old=name.startswith("old")))
                time.sleep(0.2)
        for name, values in figures.items():
            print(f"{name:<32} median click-to-running {statistics.median(values):.2f} s "
                  f"(min {min(values):.2f}, max {max(values):.2f}, {len(values)} runs)")
        db.dispose()


if __name__ == "__main__":
    main()

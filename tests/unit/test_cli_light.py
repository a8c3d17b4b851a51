"""Light commands stay light: building the CLI and running a command that only reads the
database must not import the forecasting engines (issue 13: `symbols` took 3.8 s and
234 MiB because the parser imported statsmodels to list the model kinds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("statsmodels", "statsforecast", "scipy.stats", "river", "plotly", "pmdarima",
         "keras", "jax", "arch")
LIGHT = (["--help"], ["symbols"], ["models", "--symbol", "MSFT"], ["alerts"],
         ["jobs", "list"], ["ledger", "--symbol", "MSFT"])

PROBE = """
import contextlib, io, json, sys
from core.cli import main
heavy, argv = json.loads(sys.argv[1]), json.loads(sys.argv[2])
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main(argv)
    except SystemExit:
        pass
print(json.dumps([m for m in heavy if m in sys.modules]))
"""


def test_light_commands_import_no_engine(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
           "DATA_DIR": str(tmp_path), "MODEL_DIR": str(tmp_path / "models")}
    subprocess.run([sys.executable, "-m", "core", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    seen = {}
    for argv in LIGHT:  # one fresh process per command, as a user runs them
        done = subprocess.run(
            [sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(list(argv))],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )
        seen[" ".join(argv)] = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {" ".join(c): [] for c in LIGHT}


NOT_BEFORE_START = (*HEAVY, "pandas", "core.handlers", "core.cli_api", "core.cli_batch",
                    "core.cli_data", "core.cli_models", "core.cli_monitor")
START_PROBE = """
import json, sys
from core import jobs
heavy, job_id = json.loads(sys.argv[1]), int(sys.argv[2])
real = jobs.mark_running

def marked(db, job_id):  # stop once the job is marked running: what had been imported?
    real(db, job_id)
    jobs.stop_heartbeat(job_id)
    print(json.dumps([m for m in heavy if m in sys.modules]))
    raise SystemExit(0)

jobs.mark_running = marked
from core.cli import main
main(["jobs", "run", str(job_id)])
"""


def test_a_background_job_is_marked_running_before_any_engine_is_imported(
    tmp_path: Path,
) -> None:
    """Issue 11: about 5 s of every fit was spent "queued" while the worker built the whole
    parser (every subcommand module) and imported the handlers; the page must see the job
    start within a second, so the worker marks it running before any of that (figures
    belong in bench/, not in an assertion on wall time)."""
    from core import jobs
    from core.auth import SYSTEM
    from core.db.engine import Database

    url = f"sqlite:///{tmp_path / 'm.db'}"
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(tmp_path),
           "MODEL_DIR": str(tmp_path / "models")}
    subprocess.run([sys.executable, "-m", "core", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    db = Database.connect(url)
    try:
        job = jobs.submit(db, kind="fit", symbol="MSFT", params={}, actor=SYSTEM)
        done = subprocess.run(
            [sys.executable, "-c", START_PROBE, json.dumps(NOT_BEFORE_START), str(job.id)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )
        assert json.loads(done.stdout.strip().splitlines()[-1]) == []
        assert jobs.get(db, job.id).status == "running"
    finally:
        db.dispose()

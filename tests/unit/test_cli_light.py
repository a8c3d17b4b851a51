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

"""Benchmark of ``POST /predict`` with a warm cache against a bare endpoint (prints only).

    .venv/bin/python bench/api.py [--seconds 20] [--clients 10,50] [--rounds 3]

Two uvicorn servers, one worker each, asyncio loop (no uvloop: its first requests stalled
here), no access log, on loopback:

- ``api``: the real app on a fresh SQLite database with MSFT and a drift champion; every
  request authenticates its key, counts against its rate limit, looks up the champion,
  reads the cache and is written to the request log;
- ``bare``: a FastAPI endpoint returning the same JSON bytes from memory.

Load comes from ``wrk`` (Debian package; a Lua script sets the POST body and key). The
target is >= 70% of the bare endpoint's throughput, p99 < 50 ms at 50 clients, no errors.

This machine's speed drifts by tens of percent from minute to minute, so each client count
is measured in ``--rounds`` rounds of one 20 s run per endpoint, alternating which goes
first; the figures are medians over the rounds and the ratio is of the median throughputs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BODY = {"symbol": "MSFT", "days": 7}

BARE_APP = """
import sys
from pathlib import Path
import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

PAYLOAD = Path(sys.argv[1]).read_bytes()
app = FastAPI()

@app.post("/predict")
async def predict() -> Response:
    return Response(PAYLOAD, media_type="application/json")

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), loop="asyncio", access_log=False,
            log_level="warning")
"""

LUA = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{key}"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


def post(url: str, key: str) -> bytes:
    request = urllib.request.Request(url, data=json.dumps(BODY).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-API-Key": key})
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


def prepare(workdir: Path) -> tuple[dict[str, str], str]:
    """A database with MSFT, a drift champion and a key; returns (env, key)."""
    from core import apikeys
    from core.auth import SYSTEM
    from core.context import open_context
    from core.forecast.service import FitRequest, fit_model, save_model
    from core.market.ingest import ingest_sample
    from core.settings import Settings

    env = {
        "DATA_DIR": str(workdir / "data"),
        "MODEL_DIR": str(workdir / "models"),
        "DATABASE_URL": f"sqlite:///{workdir / 'data' / 'bench.db'}",
    }
    ctx = open_context(Settings.from_env(env))
    ingest_sample(ctx.db, actor=SYSTEM)
    request = FitRequest(symbol="MSFT", kind="drift", options={}, start=dt.date(2016, 1, 1),
                         folds=2, horizon=5)
    save_model(ctx.db, ctx.settings, fit_model(ctx.db, ctx.settings, request), SYSTEM)
    _, key = apikeys.create_key(ctx.db, "bench", SYSTEM, rate_limit_per_minute=1_000_000)
    ctx.db.dispose()
    return env, key


def wrk(url: str, script: Path, clients: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{seconds}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m is None:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "requests": float(total.group(1)) if total else float("nan"),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": float(int(non2xx.group(1)) if non2xx else 0)
        + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", default="10,50")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    clients = [int(c) for c in args.clients.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        workdir = Path(tmp)
        print("preparing a database with MSFT, a drift champion and a key ...", flush=True)
        env, key = prepare(workdir)
        api_port, bare_port = free_port(), free_port()
        api_env = {**os.environ, **env}
        api_env.pop("REDIS_URL", None)  # the in-process cache, one worker
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port",
             str(api_port), "--loop", "asyncio", "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, env=api_env,
        )
        bare = None
        try:
            wait_ready(f"http://127.0.0.1:{api_port}/health")
            payload = post(f"http://127.0.0.1:{api_port}/predict", key)  # the miss: warms
            assert post(f"http://127.0.0.1:{api_port}/predict", key) == payload
            (workdir / "payload.json").write_bytes(payload)
            bare = subprocess.Popen(
                [sys.executable, "-c", BARE_APP, str(workdir / "payload.json"), str(bare_port)],
                cwd=ROOT,
            )
            wait_ready(f"http://127.0.0.1:{bare_port}/docs")
            script = workdir / "post.lua"
            script.write_text(LUA.format(body=json.dumps(BODY), key=key))
            print(f"payload {len(payload):,} bytes; {args.seconds} s per run, wrk on loopback, "
                  f"{os.cpu_count()} CPUs shared by server and load generator\n")
            print(f"{'endpoint':<18}{'clients':>8}{'round':>7}{'req/s':>10}{'p50 ms':>9}"
                  f"{'p99 ms':>9}{'errors':>8}")
            runs: dict[tuple[str, int], list[dict[str, float]]] = {}
            endpoints = [("bare bytes", bare_port), ("POST /predict", api_port)]
            for n in clients:
                for round_no in range(1, args.rounds + 1):
                    order = endpoints if round_no % 2 else endpoints[::-1]
                    for name, port in order:
                        r = wrk(f"http://127.0.0.1:{port}/predict", script, n, args.seconds)
                        runs.setdefault((name, n), []).append(r)
                        print(f"{name:<18}{n:>8}{round_no:>7}{r['rps']:>10,.0f}{r['p50']:>9.1f}"
                              f"{r['p99']:>9.1f}{int(r['errors']):>8}", flush=True)
            print(f"\nmedians over {args.rounds} rounds")
            print(f"{'endpoint':<18}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
                  f"{'errors':>8}")
            summary = {key: {m: statistics.median(r[m] for r in rs)
                             for m in ("rps", "p50", "p99")}
                       | {"errors": sum(r["errors"] for r in rs)}
                       for key, rs in runs.items()}
            for (name, n), r in summary.items():
                print(f"{name:<18}{n:>8}{r['rps']:>10,.0f}{r['p50']:>9.1f}{r['p99']:>9.1f}"
                      f"{int(r['errors']):>8}")
            print()
            for n in clients:
                api_r, bare_r = summary[("POST /predict", n)], summary[("bare bytes", n)]
                ratio = api_r["rps"] / bare_r["rps"]
                print(f"{n} clients: /predict at {ratio:.0%} of the bare endpoint's throughput "
                      f"(target >= 70%), p99 {api_r['p99']:.1f} ms (target < 50 ms at 50), "
                      f"{int(api_r['errors'])} errors")
        finally:
            for proc in (api, bare):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=10)
        from core.db.engine import Database

        db = Database.connect(env["DATABASE_URL"])
        with db.engine.connect() as conn:
            from sqlalchemy import text

            logged = conn.execute(text("SELECT count(*) FROM api_requests")).scalar()
        db.dispose()
        print(f"request log rows written: {logged:,}")


if __name__ == "__main__":
    main()

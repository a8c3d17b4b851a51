"""Alert delivery to a REAL local SMTP server (aiosmtpd) and a REAL local HTTP server.

A closed port and an HTTP 500 endpoint stand in for Slack being down: the failure is
recorded on the delivery row and retried on the next call, and nothing raises.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from core.db.engine import Database
from core.db.models import Alert, AlertDelivery
from core.monitor.channels import deliver_pending, format_alert, queue_deliveries
from core.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Hook:
    """A Slack stand-in: records JSON bodies, answers with ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0/B0"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


class Inbox:
    """aiosmtpd handler collecting (envelope recipients, message text)."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8")))
        return "250 OK"


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    h.thread.start()
    yield h
    h.server.shutdown()
    h.server.server_close()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def open_alert(db: Database, settings: Settings) -> int:
    with db.begin() as s:
        alert = Alert(
            symbol="MSFT", rule="rmse_abs", severity="warning",
            message="RMSE 3.10 over 30 forecasts is above 2.00", value=3.1, threshold=2.0,
            as_of=dt.date(2024, 7, 15), status="open",
        )  # fmt: skip
        s.add(alert)
        s.flush()
        queue_deliveries(s, alert, settings)
        return alert.id


def deliveries(db: Database) -> dict[str, tuple[str, int, str | None]]:
    with db.read() as s:
        rows = s.scalars(select(AlertDelivery)).all()
        return {r.channel: (r.status, r.attempts, r.last_error) for r in rows}


def test_webhook_and_email_delivered_to_local_servers(
    db: Database, settings: Settings, hook: Hook, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    cfg = dataclasses.replace(
        settings, slack_webhook_url=hook.url, smtp_host="127.0.0.1", smtp_port=port,
        smtp_recipients=("ops@example.com",),
    )  # fmt: skip
    alert_id = open_alert(db, cfg)
    with db.begin() as s:
        report = deliver_pending(s, cfg, timeout=5, link_base="http://dash.local:8501/")
    assert (report.attempted, report.delivered, report.failed) == (3, 3, 0)
    assert {c: v[0] for c, v in deliveries(db).items()} == {
        "log": "delivered", "slack": "delivered", "email": "delivered",
    }  # fmt: skip
    [body] = hook.bodies
    assert body["text"].startswith("[warning] MSFT rmse_abs: RMSE 3.10")
    link = f"http://dash.local:8501/monitoring?alert={alert_id}&symbol=MSFT"
    assert body["text"].splitlines()[-1] == link
    [(to, raw)] = box.mails
    mail = email.message_from_string(raw, policy=email.policy.default)
    assert to == ["ops@example.com"]
    assert mail["Subject"] == "[warning] MSFT rmse_abs"
    assert link in mail.get_content()  # type: ignore[attr-defined]
    with db.begin() as s:  # nothing left to send
        assert deliver_pending(s, cfg).attempted == 0


def test_failing_endpoints_are_recorded_and_retried(
    db: Database, settings: Settings, hook: Hook
) -> None:
    hook.status = 500
    cfg = dataclasses.replace(
        settings, slack_webhook_url=hook.url, smtp_host="127.0.0.1", smtp_port=free_port(),
        smtp_recipients=("ops@example.com",),
    )  # closed port: nothing listens on a port just released  # fmt: skip
    open_alert(db, cfg)
    with db.begin() as s:
        report = deliver_pending(s, cfg, timeout=2, max_attempts=3)
    assert (report.delivered, report.failed, report.gave_up) == (1, 2, 0)
    state = deliveries(db)
    assert state["log"][0] == "delivered"
    assert state["slack"][:2] == ("failed", 1) and "500" in (state["slack"][2] or "")
    assert state["email"][:2] == ("failed", 1) and "refused" in (state["email"][2] or "").lower()

    hook.status = 200  # Slack is back: the next run delivers on attempt 2
    with db.begin() as s:
        report = deliver_pending(s, cfg, timeout=2, max_attempts=3)
    assert (report.attempted, report.delivered, report.failed) == (2, 1, 1)
    assert deliveries(db)["slack"][:2] == ("delivered", 2)

    with db.begin() as s:
        report = deliver_pending(s, cfg, timeout=2, max_attempts=3)
    assert (report.failed, report.gave_up) == (1, 1)
    with db.begin() as s:  # mail gave up after 3 attempts: no 4th
        assert deliver_pending(s, cfg, timeout=2, max_attempts=3).attempted == 0
    assert deliveries(db)["email"][:2] == ("failed", 3)


def test_closed_webhook_port_does_not_raise(db: Database, settings: Settings) -> None:
    cfg = dataclasses.replace(settings, slack_webhook_url=f"http://127.0.0.1:{free_port()}/x")
    open_alert(db, cfg)
    with db.begin() as s:
        report = deliver_pending(s, cfg, timeout=2)
    assert report.failed == 1
    status, attempts, error = deliveries(db)["slack"]
    assert (status, attempts) == ("failed", 1) and "URLError" in (error or "")


def test_plain_text_without_link() -> None:
    alert = Alert(id=7, symbol=None, rule="job_failed:ingest", severity="error",
                  message="scheduled ingest job failed", as_of=None)  # fmt: skip
    assert format_alert(alert) == (
        "[error] all symbols job_failed:ingest: scheduled ingest job failed (alert #7)"
    )

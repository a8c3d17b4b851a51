"""Alert delivery: the database and the log always; a Slack-style webhook and e-mail if set.

Every alert gets one ``AlertDelivery`` row per channel when it opens (``queue_deliveries``).
``deliver_pending`` then tries each pending or failed row; a failure is recorded on the row
(``status="failed"``, ``attempts``, ``last_error``) and retried on the next call until
``max_attempts``. Nothing here raises out of a scheduled job: a down webhook must not stop
the forecasts. The text is plain and link-friendly (a bare URL on its own line) so Slack,
Teams-style webhooks and mail clients all turn it into a link.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.base import utcnow
from core.db.models import Alert, AlertDelivery
from core.errors import ValidationFailed
from core.settings import Settings

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
LOG, SLACK, EMAIL = "log", "slack", "email"


class DeliveryFailed(Exception):
    """One channel could not deliver one alert (recorded on the row, never raised out)."""


@dataclass(frozen=True)
class DeliveryReport:
    """What one ``deliver_pending`` call did."""

    attempted: int = 0
    delivered: int = 0
    failed: int = 0  # failed this time (will be retried while attempts < max)
    gave_up: int = 0  # failed and reached max attempts


def configured_channels(settings: Settings) -> list[str]:
    """The log always; Slack if ``SLACK_WEBHOOK_URL`` is set; e-mail if ``SMTP_HOST`` is set."""
    channels = [LOG]
    if settings.slack_webhook_url:
        channels.append(SLACK)
    if settings.smtp_host:
        channels.append(EMAIL)
    return channels


def queue_deliveries(session: Session, alert: Alert, settings: Settings) -> list[AlertDelivery]:
    """One pending delivery row per configured channel for a newly opened alert."""
    if alert.id is None:
        session.flush()
    rows = [
        AlertDelivery(alert_id=alert.id, channel=c, status="pending", attempts=0)
        for c in configured_channels(settings)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def alert_link(alert: Alert, link_base: str | None) -> str | None:
    """A dashboard link to the alert (``<base>/monitoring?symbol=...&alert=...``)."""
    if not link_base:
        return None
    query = {"alert": str(alert.id)}
    if alert.symbol:
        query["symbol"] = alert.symbol
    return f"{link_base.rstrip('/')}/monitoring?{urlencode(query)}"


def format_alert(alert: Alert, link_base: str | None = None) -> str:
    """One plain-text line (plus a bare link line) that reads well in Slack and in mail."""
    who = alert.symbol or "all symbols"
    when = f"as of {alert.as_of}; " if alert.as_of else ""
    text = f"[{alert.severity}] {who} {alert.rule}: {alert.message} ({when}alert #{alert.id})"
    link = alert_link(alert, link_base)
    return f"{text}\n{link}" if link else text


def send_webhook(url: str, text: str, timeout: float = 5.0) -> None:
    """POST ``{"text": ...}`` as JSON (Slack incoming-webhook format); raise on non-2xx."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryFailed(f"SLACK_WEBHOOK_URL must start with http:// or https://, got {url!r}")
    body = json.dumps({"text": text}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # scheme checked above
        status = response.status
    if not 200 <= status < 300:
        raise DeliveryFailed(f"webhook answered HTTP {status}")


def send_email(
    settings: Settings, subject: str, text: str, timeout: float = 10.0,
    *, html: str | None = None,
) -> None:
    """Send one mail through ``SMTP_HOST:SMTP_PORT`` to ``SMTP_TO``: plain text, plus an
    HTML alternative when ``html`` is given (mail clients show the richer part)."""
    if not settings.smtp_host:
        raise DeliveryFailed("SMTP_HOST is not set")
    if not settings.smtp_recipients:
        raise DeliveryFailed("SMTP_TO is empty: set a comma-separated list of addresses")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_sender
    msg["To"] = ", ".join(settings.smtp_recipients)
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        smtp.send_message(msg)


def _send(row: AlertDelivery, alert: Alert, settings: Settings, text: str, timeout: float) -> None:
    if row.channel == LOG:
        logger.warning("alert: %s", text)
    elif row.channel == SLACK:
        if not settings.slack_webhook_url:
            raise DeliveryFailed("SLACK_WEBHOOK_URL is no longer set")
        send_webhook(settings.slack_webhook_url, text, timeout)
    elif row.channel == EMAIL:
        subject = f"[{alert.severity}] {alert.symbol or 'all'} {alert.rule}"
        send_email(settings, subject, text, timeout)
    else:
        raise DeliveryFailed(f"unknown channel {row.channel!r}; use log, slack or email")


def deliver_pending(
    session: Session,
    settings: Settings,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    timeout: float = 5.0,
    link_base: str | None = None,
    now: dt.datetime | None = None,
    alert_ids: Sequence[int] | None = None,
) -> DeliveryReport:
    """Try every pending delivery and every failed one with attempts left; never raises.

    Each attempt is recorded on its row before the next is tried, in the caller's
    transaction. A network error, an HTTP error status or an SMTP refusal becomes
    ``status="failed"`` with the reason in ``last_error``. ``alert_ids`` limits the work
    to those alerts (a replay delivers only what it opened, never other pending rows).
    """
    if max_attempts < 1:
        raise ValidationFailed(f"max_attempts must be at least 1, got {max_attempts}")
    stmt = (
        select(AlertDelivery, Alert)
        .join(Alert, Alert.id == AlertDelivery.alert_id)
        .where(
            AlertDelivery.status.in_(("pending", "failed")),
            AlertDelivery.attempts < max_attempts,
        )
        .order_by(AlertDelivery.id)
    )
    if alert_ids is not None:
        stmt = stmt.where(AlertDelivery.alert_id.in_(list(alert_ids)))
    rows = session.execute(stmt).all()
    delivered = failed = gave_up = 0
    for row, alert in rows:
        row.attempts += 1
        try:
            _send(row, alert, settings, format_alert(alert, link_base), timeout)
        except Exception as exc:  # any channel failure is recorded, never raised out
            row.status = "failed"
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            failed += 1
            gave_up += row.attempts >= max_attempts
            logger.error(
                "alert #%s via %s failed (attempt %d of %d): %s",
                alert.id, row.channel, row.attempts, max_attempts, row.last_error,
            )  # fmt: skip
        else:
            row.status = "delivered"
            row.last_error = None
            row.delivered_at = now or utcnow()
            delivered += 1
        session.flush()
    return DeliveryReport(len(rows), delivered, failed, gave_up)

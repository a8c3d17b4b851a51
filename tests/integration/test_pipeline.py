"""The scheduled pipeline end to end on SQLite and PostgreSQL, with Yahoo faked.

run_daily over two symbols where one fetch fails; the weekly retrain promoting only
through the gate; the daily report delivered to a real local SMTP server and HTTP hook.
Cheap models ("drift") keep it fast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
from typing import Any

import numpy as np
import pandas as pd
import pytest
from curl_cffi.requests.exceptions import DNSError
from sqlalchemy import select

from core.auth import SYSTEM
from core.db.engine import Database
from core.db.models import Alert, Job, ModelVersion
from core.forecast import lifecycle, registry, service
from core.forecast.service import FitRequest
from core.market.calendar import trading_calendar
from core.market.ingest import ingest_yahoo
from core.monitor.ledger import ledger_frame
from core.pipeline import last_succeeded, run_daily, run_weekly_retrain
from core.settings import Settings
from tests.integration.test_monitor_channels import Hook, Inbox, hook, inbox  # noqa: F401
from tests.unit.test_market_fakes import FakeClient, history_frame

SYMBOLS = ["AAA", "BBB"]
DAY1, DAY2, DAY3 = dt.date(2024, 6, 5), dt.date(2024, 6, 6), dt.date(2024, 6, 7)


def after_close(day: dt.date) -> dt.datetime:
    """18:30 in New York (22:30 UTC in June): the daily job's time."""
    return dt.datetime.combine(day, dt.time(22, 30), tzinfo=dt.UTC)


def market(end: dt.date = DAY3, n: int = 300) -> dict[str, pd.DataFrame]:
    days = [str(d.date()) for d in trading_calendar().sessions("2022-01-01", end)[-n:]]
    rng = np.random.default_rng(7)
    out = {}
    for i, symbol in enumerate(SYMBOLS):
        close = 100.0 + 20 * i + np.cumsum(rng.normal(0.05, 1.0, len(days)))
        out[symbol] = history_frame(days, [round(float(c), 2) for c in close])
    return out


class Yahoo:
    """Serves each symbol's frame up to the clock's day; ``down`` symbols raise."""

    def __init__(self) -> None:
        self.frames = market()
        self.until = DAY1
        self.down: set[str] = set()

    def __call__(self, symbol: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        if symbol in self.down:
            raise DNSError("Could not resolve host: query2.finance.yahoo.com")
        frame = self.frames[symbol]
        keep = frame.index.tz_localize(None) <= pd.Timestamp(self.until)
        if start is not None:
            keep &= frame.index.tz_localize(None) >= pd.Timestamp(start)
        return frame[keep]


@pytest.fixture
def yahoo() -> Yahoo:
    return Yahoo()


@pytest.fixture
def market_db(db: Database, settings: Settings, yahoo: Yahoo) -> Database:
    """Both symbols stored up to DAY1, each with a "drift" champion."""
    assert ingest_yahoo(db, settings, SYMBOLS, client=FakeClient(yahoo),
                        now=after_close(DAY1), actor=SYSTEM).ok
    for symbol in SYMBOLS:
        request = FitRequest(symbol=symbol, kind="drift", folds=3, horizon=5)
        service.save_model(db, settings, service.fit_model(db, settings, request), SYSTEM)
    return db


def open_alerts(db: Database) -> dict[tuple[str | None, str], str]:
    with db.read() as s:
        rows = s.scalars(select(Alert).where(Alert.status == "open")).all()
        return {(a.symbol, a.rule): a.message for a in rows}


def test_one_failing_symbol_does_not_stop_the_other_and_raises_an_alert(
    market_db: Database, settings: Settings, yahoo: Yahoo
) -> None:
    db = market_db
    yahoo.until = DAY2
    ok = run_daily(db, settings, SYMBOLS, as_of=DAY2, now=after_close(DAY2),
                   client=FakeClient(yahoo), send_report=False)
    assert ok.status == "succeeded" and ok.failed_symbols == []

    yahoo.until, yahoo.down = DAY3, {"BBB"}
    run = run_daily(db, settings, SYMBOLS, now=after_close(DAY3), client=FakeClient(yahoo),
                    send_report=False)
    assert run.as_of == DAY3
    assert run.failed_symbols == ["BBB"]
    assert "unreachable" in (run.symbols["BBB"].error or "")
    aaa = run.symbols["AAA"]
    assert aaa.status == "ok"
    assert aaa.steps["ingest"]["inserted"] == 1
    assert aaa.steps["monitor"]["reconciled"] >= 1  # DAY2's step-1 forecast met DAY3's bar
    assert aaa.steps["forecast"]["data_date"] == DAY3.isoformat()
    assert "forecast" not in run.symbols["BBB"].steps  # no new data: no repeated forecast
    with db.read() as s:
        ledger = ledger_frame(s, "AAA", issued_by="schedule")
        job = s.get(Job, run.job_id)
    assert DAY3 in set(ledger["data_date"].dt.date)
    assert job is not None and job.kind == "daily" and job.status == "succeeded"
    assert job.active_key is None and job.result["failed"] == ["BBB"]
    alerts = open_alerts(db)
    assert ("BBB", "job_failed:daily") in alerts and ("AAA", "job_failed:daily") not in alerts
    assert last_succeeded(db, "daily") == DAY3

    yahoo.down = set()  # BBB recovers: the next run resolves its alert
    day4 = dt.date(2024, 6, 10)
    yahoo.frames = market(day4, 302)
    yahoo.until = day4
    again = run_daily(db, settings, SYMBOLS, now=after_close(day4), client=FakeClient(yahoo),
                      send_report=False)
    assert again.failed_symbols == []
    assert ("BBB", "job_failed:daily") not in open_alerts(db)


def test_weekly_retrain_promotes_only_through_the_gate(
    market_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = market_db
    with db.read() as s:
        before = {sym: registry.champion(s, sym).id for sym in SYMBOLS}  # type: ignore[union-attr]
    real_gate = lifecycle.gate
    gated: list[str] = []

    def gate(db_: Database, settings_: Settings, challenger: ModelVersion,
             champion: ModelVersion, **kw: Any) -> lifecycle.GateResult:
        gated.append(challenger.symbol)
        result = real_gate(db_, settings_, challenger, champion, **kw)
        if challenger.symbol == "BBB":  # pretend BBB's challenger is worse
            return dataclasses.replace(result, passed=False, challenger=result.champion * 2)
        return result

    monkeypatch.setattr(lifecycle, "gate", gate)
    # The champions were trained on all stored days: without force nothing is refitted.
    idle = run_weekly_retrain(db, settings, SYMBOLS, now=after_close(DAY1), n_workers=1)
    assert idle.failed_symbols == [] and gated == []
    assert all("no new data since the champion's training end" in
               str(o.steps["promotion"]["text"]) for o in idle.symbols.values())
    run = run_weekly_retrain(db, settings, SYMBOLS, now=after_close(DAY1), n_workers=1,
                             force=True)
    assert run.status == "succeeded" and run.failed_symbols == []
    assert sorted(gated) == SYMBOLS
    with db.read() as s:
        after = {sym: registry.champion(s, sym).id for sym in SYMBOLS}  # type: ignore[union-attr]
        roles = {v.id: v.role for sym in SYMBOLS for v in registry.list_versions(s, sym)}
    new_aaa = run.symbols["AAA"].steps["retrain"]["version_id"]
    new_bbb = run.symbols["BBB"].steps["retrain"]["version_id"]
    assert after["AAA"] == new_aaa != before["AAA"]  # passed the gate: promoted
    assert run.symbols["AAA"].steps["promotion"]["gate"]["passed"] is True
    assert after["BBB"] == before["BBB"]  # refused: the champion stays
    assert roles[new_bbb] != "champion"
    assert run.symbols["BBB"].steps["promotion"]["promoted"] is False
    assert "promotion refused" in run.symbols["BBB"].steps["promotion"]["text"]
    with db.read() as s:
        job = s.get(Job, run.job_id)
    assert job is not None and job.kind == "weekly" and job.status == "succeeded"


def test_weekly_retrain_failure_opens_an_alert(market_db: Database, settings: Settings) -> None:
    run = run_weekly_retrain(market_db, settings, ["AAA", "ZZZ"], now=after_close(DAY1),
                             n_workers=1)
    assert run.failed_symbols == ["ZZZ"]
    assert run.symbols["AAA"].status == "ok"
    assert ("ZZZ", "job_failed:weekly") in open_alerts(market_db)


def test_daily_report_delivered_by_email_and_slack(
    market_db: Database, settings: Settings, yahoo: Yahoo, hook: Hook,  # noqa: F811
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    box, port = inbox
    settings = dataclasses.replace(
        settings, slack_webhook_url=hook.url, smtp_host="127.0.0.1", smtp_port=port,
        smtp_recipients=("desk@example.com",),
    )  # fmt: skip
    run_daily(market_db, settings, SYMBOLS, as_of=DAY1, now=after_close(DAY1),
              client=FakeClient(yahoo), send_report=False)
    yahoo.until, yahoo.down = DAY2, {"BBB"}
    run = run_daily(market_db, settings, SYMBOLS, now=after_close(DAY2),
                    client=FakeClient(yahoo))
    assert run.report["email"] == "sent" and run.report["slack"] == "sent"
    report_mails = [m for _, m in box.mails if "Daily forecasts" in m]
    assert len(report_mails) == 1
    msg = email.message_from_string(report_mails[0], policy=email.policy.default)
    assert msg["Subject"] == (
        f"Daily forecasts {DAY2}: 1 issued, 1 failed, {len(open_alerts(market_db))} open alert(s)"
    )
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    page = html_part.get_content()
    assert "<h3>Forecasts issued</h3>" in page and "AAA" in page
    assert f"<h3>Errors on {DAY2}</h3>" in page and "job_failed:daily" in page
    text = [b["text"] for b in hook.bodies if "Daily forecasts" in b["text"]]
    assert len(text) == 1
    assert "Forecasts issued:" in text[0] and "AAA (" in text[0]
    assert "step 1: forecast" in text[0]  # DAY1's forecast scored against DAY2's close
    assert "BBB job_failed:daily" in text[0]


def test_a_crashed_run_is_recorded_alerted_and_releases_the_lock(
    market_db: Database, settings: Settings, yahoo: Yahoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.monitor import channels

    def down(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(channels, "deliver_pending", down)
    with pytest.raises(RuntimeError, match="database went away"):
        run_daily(market_db, settings, SYMBOLS, as_of=DAY1, now=after_close(DAY1),
                  client=FakeClient(yahoo), send_report=False)
    with market_db.read() as s:
        job = s.scalars(select(Job).where(Job.kind == "daily")).one()
    assert (job.status, job.active_key) == ("failed", None)
    assert "database went away" in (job.error or "")
    assert (None, "job_failed:daily") in open_alerts(market_db)
    assert last_succeeded(market_db, "daily") is None
    monkeypatch.undo()
    run = run_daily(market_db, settings, SYMBOLS, as_of=DAY1, now=after_close(DAY1),
                    client=FakeClient(yahoo), send_report=False)
    assert run.status == "succeeded"  # the lock was released; the next run resolves it
    assert (None, "job_failed:daily") not in open_alerts(market_db)


def test_drift_under_the_auto_policy_queues_one_gated_retrain(
    market_db: Database, settings: Settings, yahoo: Yahoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.pipeline as pipeline
    from core.monitor.alerts import AlertOutcome
    from core.monitor.channels import DeliveryReport
    from core.monitor.daily import DailyOutcome
    from core.monitor.drift import DriftDecision

    seen: list[str] = []

    def drifted(session: Any, settings_: Settings, symbol: str, as_of: dt.date,
                now: dt.datetime, **kw: Any) -> DailyOutcome:
        seen.append(kw["drift_settings"].policy)
        decision = DriftDecision(1, True, "queue" if symbol == "AAA" else "none")
        return DailyOutcome(as_of, 0, decision, AlertOutcome(), DeliveryReport())

    monkeypatch.setattr(pipeline, "monitor_symbol", drifted)
    launched: list[int] = []
    auto = dataclasses.replace(settings, drift_policy="auto")
    run = run_daily(market_db, auto, SYMBOLS, as_of=DAY1, now=after_close(DAY1),
                    client=FakeClient(yahoo), send_report=False, launch=launched.append)
    assert seen == ["auto", "auto"]
    assert run.symbols["AAA"].steps["monitor"]["retrain_job"] == f"queued job {launched[0]}"
    assert "retrain_job" not in run.symbols["BBB"].steps["monitor"]
    with market_db.read() as s:
        job = s.get(Job, launched[0])
    assert job is not None and (job.kind, job.symbol, job.status) == ("retrain", "AAA", "queued")
    assert job.params == {"auto_promote": True, "reason": "drift"}


def test_a_daily_run_whose_worker_died_is_reclaimed_by_the_next_run(
    market_db: Database, settings: Settings, yahoo: Yahoo
) -> None:
    """kill -9 of ``run-daily`` left its row running and every later run was refused; now
    the next run finds the expired lease, records the dead run failed and runs."""
    from core import jobs
    from core.db.base import utcnow

    dead = jobs.submit(market_db, kind="daily", symbol=None, params={}, actor=SYSTEM)
    with market_db.begin() as s:  # as a killed process on another host leaves it
        row = s.get(Job, dead.id)
        assert row is not None
        row.status, row.host, row.pid = "running", "elsewhere", 4242
        row.started_at = row.heartbeat_at = utcnow() - dt.timedelta(minutes=5)
        row.lease_expires_at = utcnow() - dt.timedelta(minutes=4)
    run = run_daily(market_db, settings, SYMBOLS, as_of=DAY1, now=after_close(DAY1),
                    client=FakeClient(yahoo), send_report=False)
    assert run.status == "succeeded"
    old = jobs.get(market_db, dead.id)
    assert (old.status, old.active_key) == ("failed", None)
    assert "worker died: no heartbeat since" in (old.error or "")

"""AppTest of the data explorer: chart, validation report, offline fetch, viewer role."""

from __future__ import annotations

import pytest
from curl_cffi.requests.exceptions import DNSError

from core.auth import hash_password
from core.context import AppContext
from core.market import yahoo
from core.market.store import read_bars
from dashboard import keys
from tests.app.conftest import assert_clean, run_page


def test_explorer_shows_chart_metrics_and_report(sample_app: AppContext) -> None:
    at = run_page("explorer.py")
    assert_clean(at)
    assert at.title[0].value == "Data explorer · MSFT"
    assert len(at.get("plotly_chart")) == 1
    labels = [m.label for m in at.metric]
    assert labels[:3] == ["Trading days", "Last close", "Last bar"]
    assert at.metric[2].value == "2017-11-10"
    assert any("Validation report" in e.label for e in at.expander)


def test_fetch_offline_says_yahoo_is_unreachable_and_keeps_data(
    sample_app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(symbol, start, end):  # type: ignore[no-untyped-def]
        raise DNSError("Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(yahoo, "yfinance_history", offline)
    before = read_bars(sample_app.db, "MSFT")
    at = run_page("explorer.py")
    at.button(key=keys.EX_FETCH).click().run()
    assert_clean(at)
    errors = " ".join(e.value for e in at.error)
    assert "Yahoo is unreachable" in errors and "unaffected" in errors
    after = read_bars(sample_app.db, "MSFT")
    assert after.equals(before)


def test_viewer_sees_no_import_controls(
    sample_app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYST_PASSWORD_HASH", hash_password("analyst-pass"))
    at = run_page("explorer.py")
    assert_clean(at)
    assert not [b for b in at.button if b.key in (keys.EX_FETCH, keys.EX_UPLOAD_GO)]
    assert any("needs an analyst sign-in" in c.value for c in at.caption)


def test_fetching_several_symbols_runs_as_a_background_job(
    sample_app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core import jobs
    from core.handlers import HANDLERS
    from core.market.store import stored_symbols
    from tests.unit.test_market_fakes import history_frame

    days = ["2017-11-06", "2017-11-07", "2017-11-08", "2017-11-09", "2017-11-10"]

    def yahoo_history(symbol, start, end):  # type: ignore[no-untyped-def]
        if symbol == "AAPL":
            return history_frame(days, [170.0, 171.0, 172.0, 173.5, 174.0])
        raise DNSError("Could not resolve host: query2.finance.yahoo.com")

    launched: list[int] = []
    monkeypatch.setattr(yahoo, "yfinance_history", yahoo_history)
    monkeypatch.setattr(jobs, "launch", lambda job_id, **_: launched.append(job_id))
    at = run_page("explorer.py")
    at.text_input(key=keys.EX_FETCH_SYMBOLS).input("AAPL, GOOG").run()
    at.button(key=keys.EX_FETCH).click().run()
    assert_clean(at)
    assert len(launched) == 1
    job = jobs.get(sample_app.db, launched[0])
    assert (job.kind, job.params) == ("ingest", {"symbols": ["AAPL", "GOOG"]})

    done = jobs.run(sample_app.db, job.id, HANDLERS)  # what the worker process does
    assert done.status == "succeeded"
    at.run()
    assert_clean(at)
    messages = [*(s.value for s in at.success), *(e.value for e in at.error)]
    assert any(m.startswith("AAPL: succeeded") for m in messages)
    assert any(m.startswith("GOOG: failed") and "unreachable" in m for m in messages)
    assert stored_symbols(sample_app.db) == ["AAPL", "MSFT"]

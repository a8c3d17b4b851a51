"""AppTest of the explorer's analyst basics (log scale, weekly and monthly bars, studies,
symbols rebased to 100) and of where fetch failures show (this session, on the spot)."""

from __future__ import annotations

import base64
import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from curl_cffi.requests.exceptions import DNSError
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from core.auth import SYSTEM
from core.context import AppContext
from core.market import yahoo
from core.market.ingest import ingest_sample
from dashboard import keys
from tests.app.conftest import APP, TIMEOUT, assert_clean, run_page


def _figure(at, key: str) -> go.Figure:  # type: ignore[no-untyped-def]
    """The figure a chart element carries (arrays decoded from plotly's typed arrays)."""
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    return pio.from_json(chart.proto.spec, skip_invalid=True)


def _values(array: object) -> np.ndarray:
    """A plotly array as numbers: plotly 6 writes numeric arrays as base64 typed arrays."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array, dtype="float64")


def _shown_text(element) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """What st.dataframe displays for a Styler (its display values), as strings."""
    return convert_arrow_bytes_to_pandas_df(element.proto.arrow_data.styler.display_values)


def test_weekly_monthly_log_and_studies(sample_app: AppContext) -> None:
    at = run_page("explorer.py")
    assert_clean(at)
    daily = _figure(at, "ex_chart")
    assert list(daily.layout.xaxis.rangebreaks[0].bounds) == ["sat", "mon"]
    n_daily = len(daily.data[0].x)

    at.segmented_control(key=keys.EX_PERIOD).set_value("week").run()
    assert_clean(at)
    weekly = _figure(at, "ex_chart")
    assert n_daily / 6 < len(weekly.data[0].x) < n_daily / 4
    assert not weekly.layout.xaxis.rangebreaks  # weeks have no gaps to hide
    assert all(pd.Timestamp(d).dayofweek == 0 for d in weekly.data[0].x)

    at.segmented_control(key=keys.EX_PERIOD).set_value("month").run()
    assert_clean(at)
    monthly = _figure(at, "ex_chart")
    assert all(pd.Timestamp(d).day == 1 for d in monthly.data[0].x)

    at.segmented_control(key=keys.EX_PERIOD).set_value("day").run()
    at.toggle(key=keys.EX_LOG).set_value(True).run()
    at.multiselect(key=keys.EX_STUDIES).set_value(["ma50", "bb20"]).run()
    assert_clean(at)
    fig = _figure(at, "ex_chart")
    assert fig.layout.yaxis.type == "log"
    names = [t.name for t in fig.data]
    assert {"50-bar average", "20-bar average", "Bollinger (20, 2 sd)"} <= set(names)


def test_symbols_rebased_to_100_on_one_chart(sample_app: AppContext) -> None:
    ingest_sample(sample_app.db, actor=SYSTEM, symbols=("AAPL",))
    at = run_page("explorer.py", query={"symbol": "MSFT"})
    assert_clean(at)
    at.multiselect(key=keys.EX_COMPARE).set_value(["AAPL"]).run()
    assert_clean(at)  # the default range (MSFT's last 3 years) has no AAPL bar: says so
    assert any("Cannot compare" in w.value and "AAPL" in w.value for w in at.warning)
    at.date_input(key=keys.EX_RANGE).set_value((dt.date(2010, 1, 4), dt.date(2012, 12, 31)))
    at.run()
    assert_clean(at)
    fig = _figure(at, "ex_rebased")
    lines = {t.name: _values(t.y) for t in fig.data if t.name}
    assert set(lines) == {"MSFT", "AAPL"}
    assert all(abs(float(v[0]) - 100.0) < 1e-9 for v in lines.values())


def test_tables_show_dashes_and_plain_dates(sample_app: AppContext) -> None:
    at = run_page("explorer.py")
    history = _shown_text(at.dataframe[-1])  # the ingest history: no error on success
    assert "None" not in history.to_string() and "00:00:00" not in history.to_string()
    assert (history["error"] == "-").all()
    table = _shown_text(next(d for d in at.dataframe if "volume" in d.value.columns
                             and "imputed" in d.value.columns))
    assert table["date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert table["volume"].str.contains(",").any()  # thousands separators


def test_a_single_symbol_failure_says_why_and_stays_in_its_session(
    sample_app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    def offline(symbol, start, end):  # type: ignore[no-untyped-def]
        raise DNSError("Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(yahoo, "yfinance_history", offline)
    at = run_page("explorer.py")
    at.button(key=keys.EX_FETCH).click().run()
    assert_clean(at)
    # On the spot: a top-level error naming the cause, not in a collapsed status box.
    assert any("MSFT: failed" in e.value and "unreachable" in e.value for e in at.error)
    at.run()  # a later rerun of the same session still says it
    assert any("unreachable" in e.value for e in at.error)

    later = AppTest.from_file(APP, default_timeout=TIMEOUT)
    later.run()
    later.switch_page("../pages/explorer.py").run()
    assert_clean(later)
    assert not [e for e in later.error if "unreachable" in e.value]


def test_another_sessions_failed_job_is_not_shown(
    sample_app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core import jobs
    from core.handlers import HANDLERS

    def offline(symbol, start, end):  # type: ignore[no-untyped-def]
        raise DNSError("Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(yahoo, "yfinance_history", offline)
    job = jobs.submit(sample_app.db, kind="ingest", symbol=None,
                      params={"symbols": ["AAPL", "GOOG"]}, actor=SYSTEM)
    jobs.run(sample_app.db, job.id, HANDLERS)
    at = run_page("explorer.py")
    assert_clean(at)
    assert not [e for e in at.error if "unreachable" in e.value]

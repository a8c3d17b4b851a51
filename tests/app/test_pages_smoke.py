"""Every page renders without an exception, on an empty database and on the sample data."""

from __future__ import annotations

import pytest

from core.context import AppContext
from tests.app.conftest import assert_clean, run_page

PAGES = ["overview.py", "explorer.py", "fitting.py", "forecast.py", "monitoring.py"]


@pytest.mark.parametrize("page", PAGES)
def test_page_on_empty_database(empty_app: AppContext, page: str) -> None:
    at = run_page(page)
    assert_clean(at)
    text = " ".join(str(m.value) for m in [*at.info, *at.markdown, *at.caption])
    assert "No market data" in text or "Welcome" in text or "Load" in text


@pytest.mark.parametrize("page", PAGES)
def test_page_on_sample_data(sample_app: AppContext, page: str) -> None:
    at = run_page(page)
    assert_clean(at)
    assert at.sidebar.selectbox(key="symbol").value == "MSFT"

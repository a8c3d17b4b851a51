"""Entry script: page config, shared sidebar (symbol, account), navigation over pages/."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from core.errors import CoreError  # noqa: E402
from dashboard import nav, queries, selection, user  # noqa: E402
from dashboard.guard import stop_with  # noqa: E402
from dashboard.resources import app_context  # noqa: E402

ASSETS = ROOT / "dashboard" / "assets"

st.set_page_config(
    page_title="Stockcast",
    page_icon=str(ASSETS / "icon.svg"),
    layout="wide",
    initial_sidebar_state="expanded",
)
st.logo(str(ASSETS / "logo.svg"), icon_image=str(ASSETS / "icon.svg"), size="large")

pages = [
    st.Page(nav.OVERVIEW, title="Overview", icon=":material/dashboard:", default=True),
    st.Page(nav.EXPLORER, title="Data explorer", icon=":material/candlestick_chart:",
            url_path="explorer"),
    st.Page(nav.FITTING, title="Model fitting", icon=":material/model_training:",
            url_path="fitting"),
    st.Page(nav.FORECAST, title="Forecast", icon=":material/insights:", url_path="forecast"),
    st.Page(nav.MONITORING, title="Monitoring", icon=":material/monitor_heart:",
            url_path="monitoring"),
]
navigation = st.navigation(pages)

try:
    ctx = app_context()
    stored = queries.stored_symbols()
except CoreError as exc:
    stop_with(exc)

selection.symbol_picker(stored)
actor = user.current_actor(ctx.settings)
st.session_state["actor"] = actor
user.sidebar_account(ctx.settings, actor)

navigation.run()

"""Small reusable widgets and page helpers."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.auth import LOCAL_ANALYST, Actor
from dashboard import nav


def actor() -> Actor:
    """The user set by the shell (dashboard/app.py) for this rerun."""
    value = st.session_state.get("actor")
    return value if isinstance(value, Actor) else LOCAL_ANALYST


def page_header(title: str, symbol: str | None, caption: str) -> None:
    st.title(f"{title} · {symbol}" if symbol else title)
    st.caption(caption)


def need_symbol(symbol: str | None) -> str:
    """Stop the page with a way forward when nothing is stored yet."""
    if symbol is None:
        st.info(
            "No market data yet. Load the bundled Microsoft history from the **Overview** page "
            "(\"Load demo\"), or import a CSV / fetch from Yahoo on the **Data explorer**.",
            icon=":material/lightbulb:",
        )
        st.page_link(nav.OVERVIEW, label="Go to Overview", icon=":material/dashboard:")
        st.stop()
    return symbol


def date_range(
    key: str, first: dt.date, last: dt.date, default_years: int = 3
) -> tuple[dt.date, dt.date]:
    """A (start, end) picker clamped to the stored range; a half-picked range stays valid."""
    default_start = max(first, (pd.Timestamp(last) - pd.DateOffset(years=default_years)).date())
    value = st.date_input(
        "Date range", value=(default_start, last), min_value=first, max_value=last, key=key,
        format="YYYY-MM-DD",
    )
    if isinstance(value, tuple | list) and len(value) == 2:
        return value[0], value[1]
    if isinstance(value, tuple | list) and len(value) == 1:
        return value[0], last
    if isinstance(value, dt.date):
        return value, last
    return default_start, last


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def png_export(fig: object, *, file_name: str, key: str) -> None:
    """Render a plotly figure to PNG on request (kaleido drives a headless Chromium), then
    offer it for download. Rendering takes a few seconds, so it never runs on a plain rerun."""
    import plotly.graph_objects as go

    assert isinstance(fig, go.Figure)
    stored = st.session_state.get(key)
    # Only offer the PNG of this very chart (same file name: same symbol, range and horizon).
    cached = stored[1] if isinstance(stored, tuple) and stored[0] == file_name else None
    if st.button("Render chart as PNG", key=f"{key}_render", icon=":material/image:"):
        with st.spinner("Rendering PNG…"):
            try:
                cached = fig.to_image(format="png", width=1400, height=720)
            except Exception as exc:  # kaleido needs a Chromium; say what is missing
                st.error(f"PNG export is unavailable here: {exc}. Install Chromium "
                         "(Debian package `chromium`) for chart export; CSV export still works.")
                cached = None
        st.session_state[key] = (file_name, cached)
    if cached:
        st.download_button("Download PNG", cached, file_name=file_name, mime="image/png",
                           key=f"{key}_download", icon=":material/download:")


LSTM_LABELS = {"window": "Window (returns in)", "units": "Units per layer", "layers": "Layers",
               "dropout": "Dropout", "epochs": "Epochs (at most)", "batch_size": "Batch size",
               "seed": "Seed"}


def lstm_settings(key_prefix: str) -> dict[str, object]:
    """The LSTM's settings as number inputs, defaults and ranges from the estimator; keys are
    ``key_prefix + name`` (``fit_lstm_epochs``). Returns only the settings that differ from
    the defaults, so a default fit stores no options."""
    from core.forecast.lstm import INT_LIMITS, default_settings

    defaults = default_settings()
    chosen: dict[str, object] = {}
    cols = st.columns(4)
    for i, name in enumerate(LSTM_LABELS):
        col = cols[i % 4]
        if name == "dropout":
            value: object = col.number_input(LSTM_LABELS[name], 0.0, 0.9,
                                             float(defaults[name]), 0.05, key=key_prefix + name)
        elif name == "seed":
            value = int(col.number_input(LSTM_LABELS[name], 0, 2**31 - 1, int(defaults[name]),
                                         key=key_prefix + name))
        else:
            lo, hi = INT_LIMITS[name]
            value = int(col.number_input(LSTM_LABELS[name], lo, hi, int(defaults[name]),
                                         key=key_prefix + name))
        if value != defaults[name]:
            chosen[name] = value
    st.caption(f"Early stopping after {defaults['patience']} epochs without a better loss on "
               f"the last {defaults['validation']:.0%} of the windows (time-ordered); bands "
               "from that held-out tail. "
               "Training runs on JAX's first device (a GPU if there is one, else the CPU).")
    return chosen


def arma_overfit_warning(coefficients: dict[str, dict[str, float | None]]) -> None:
    """A plain warning beside a coefficient table when the ARMA looks over-fitted
    (near-cancelling AR and MA roots, or huge standard errors; the rule is
    ``core.forecast.overfit.arma_overfit``). Shows nothing for a sound fit."""
    from core.forecast.overfit import arma_overfit

    check = arma_overfit(coefficients or {})
    if check.overfitted:
        st.warning(check.message, icon=":material/warning:")


def table(frame: pd.DataFrame, **kwargs: object) -> None:
    """``st.dataframe`` through the one table formatter (``dashboard.tables.styled``):
    thousands separators, "-" for missing values, dates without "00:00:00"."""
    from dashboard import tables

    st.dataframe(tables.styled(frame), hide_index=True, **kwargs)  # type: ignore[arg-type]

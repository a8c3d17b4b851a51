"""One symbol selection shared by every page, kept in session state and in the URL."""

from __future__ import annotations

import streamlit as st

from dashboard import keys

_SYNCED = "symbol_synced_from_url"


def symbol_picker(stored: list[str]) -> str | None:
    """Sidebar picker over stored symbols; ``?symbol=XYZ`` in the URL selects one.

    A link (or a card's page link) that names another stored symbol switches to it; an
    unknown symbol in the URL gets a warning and falls back to the current selection.
    """
    if not stored:
        st.sidebar.info("No market data stored yet.", icon=":material/inbox:")
        return None
    wanted = st.query_params.get("symbol")
    if wanted is not None and wanted != st.session_state.get(_SYNCED):
        candidate = wanted.strip().upper()
        if candidate in stored:
            st.session_state[keys.SYMBOL] = candidate
        else:
            st.sidebar.warning(
                f"{wanted[:20]!r} from the link is not a stored symbol; stored: "
                f"{', '.join(stored[:8])}{'…' if len(stored) > 8 else ''}."
            )
    if st.session_state.get(keys.SYMBOL) not in stored:
        st.session_state[keys.SYMBOL] = stored[0]
    symbol: str = st.sidebar.selectbox("Symbol", stored, key=keys.SYMBOL)
    st.query_params["symbol"] = symbol
    st.session_state[_SYNCED] = symbol
    return symbol


def current_symbol() -> str | None:
    value = st.session_state.get(keys.SYMBOL)
    return str(value) if value else None

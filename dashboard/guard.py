"""Turn every CoreError into a clear message on the page, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

import streamlit as st

from core.errors import CoreError, DatabaseUnavailable

T = TypeVar("T")


def stop_with(exc: CoreError) -> NoReturn:
    if isinstance(exc, DatabaseUnavailable):
        st.error(f"**Database unavailable.** {exc}", icon=":material/database_off:")
        st.caption("Stored data is unaffected. Check DATABASE_URL, then reload the page.")
    else:
        st.error(str(exc), icon=":material/error:")
    st.stop()


def run(func: Callable[[], T]) -> T:
    """Call ``func``; on a CoreError show its message and stop this page's script run."""
    try:
        return func()
    except CoreError as exc:
        stop_with(exc)

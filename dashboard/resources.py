"""Process-wide resources: the one Database (engine + sessionmaker) of this server."""

from __future__ import annotations

import streamlit as st

from core.context import AppContext, open_context
from core.jobs import recover_orphans


@st.cache_resource(show_spinner="Opening the database…")
def app_context() -> AppContext:
    """Connect, migrate, and fail any job a previous server left running.

    An exception is not cached, so a database that was down is retried on the next rerun.
    """
    ctx = open_context()
    recover_orphans(ctx.db)
    return ctx

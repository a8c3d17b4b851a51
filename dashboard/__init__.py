"""Streamlit glue: cached resources and queries, widgets, charts, state keys."""

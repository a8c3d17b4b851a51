"""REST API front door (FastAPI): forecasts, symbols and models over the ``core`` use cases."""

"""Stock-forecasting engine: data, models, monitoring. Never imports streamlit."""

__version__ = "0.1.0"

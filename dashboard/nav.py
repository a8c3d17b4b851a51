"""The pages of the app, by absolute path: used by st.navigation and by page links."""

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"

OVERVIEW = str(PAGES_DIR / "overview.py")
EXPLORER = str(PAGES_DIR / "explorer.py")
FITTING = str(PAGES_DIR / "fitting.py")
FORECAST = str(PAGES_DIR / "forecast.py")
MONITORING = str(PAGES_DIR / "monitoring.py")

"""The explorer's chart studies (moving averages, Bollinger bands) from displayed bars.

The numbers come from ``core.market.indicators``; this module only names them for the
chart's legend and the choice box.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.market.indicators import bollinger_bands, moving_average

MOVING_AVERAGES = {"ma20": 20, "ma50": 50, "ma200": 200}
BOLLINGER = "bb20"
CHOICES = {"ma20": "20-bar average", "ma50": "50-bar average", "ma200": "200-bar average",
           BOLLINGER: "Bollinger bands (20 bars, 2 sd)"}


@dataclass(frozen=True)
class Studies:
    lines: dict[str, pd.Series]
    band: tuple[pd.Series, pd.Series] | None
    band_name: str


def studies(bars: pd.DataFrame, chosen: list[str]) -> Studies:
    """Lines and band for the chosen studies, aligned with ``bars`` row by row; a window
    longer than the bars shown draws nothing (NaN until the window is full)."""
    close = pd.Series(bars["close"].to_numpy(dtype="float64"), index=bars.index)
    lines = {f"{MOVING_AVERAGES[c]}-bar average": moving_average(close, MOVING_AVERAGES[c])
             for c in chosen if c in MOVING_AVERAGES}
    band = None
    if BOLLINGER in chosen:
        bands = bollinger_bands(close, 20, 2.0)
        band = (bands.lower, bands.upper)
        lines.setdefault("20-bar average", bands.middle)
    return Studies(lines=lines, band=band, band_name="Bollinger (20, 2 sd)")

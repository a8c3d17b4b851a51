"""The bundled MSFT sample loads offline as a canonical frame."""

from __future__ import annotations

import pandas as pd

from core.market.frames import BAR_COLUMNS
from core.market.sample import load_sample_bars
from core.market.validation import validate_bars


def test_sample_is_the_full_msft_history() -> None:
    frame = load_sample_bars()
    assert list(frame.columns) == BAR_COLUMNS
    assert len(frame) == 7983
    assert frame["date"].iloc[0] == pd.Timestamp("1986-03-13")
    assert frame["date"].iloc[-1] == pd.Timestamp("2017-11-10")
    assert frame["split_ratio"].eq(1.0).all() and frame["dividend"].eq(0.0).all()
    assert validate_bars(frame, "MSFT").ok

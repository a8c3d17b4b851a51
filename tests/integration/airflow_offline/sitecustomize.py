"""Yahoo made offline for the Airflow DAG test's project interpreter.

``tests/integration/test_airflow_dag.py`` puts this folder on ``PYTHONPATH`` of the
interpreter that ``@task.external_python`` starts, and sets ``STOCKCAST_OFFLINE_YAHOO`` to
the symbols that "download" fine: they get their stored bundled bars back in the shape
``Ticker.history`` returns; every other symbol fails the way a dead network does. Nothing
happens without that variable (the folder is on no other path).
"""

from __future__ import annotations

import os

_OK = os.environ.get("STOCKCAST_OFFLINE_YAHOO")

if _OK is not None:
    import datetime as dt

    import pandas as pd
    from curl_cffi.requests.exceptions import DNSError

    import core.market.yahoo as _yahoo

    def _offline(symbol: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        if symbol not in _OK.split(","):
            raise DNSError("Could not resolve host: query2.finance.yahoo.com")
        from core.market.sample import load_sample_bars

        bars = load_sample_bars()
        keep = pd.Series(True, index=bars.index)
        if start is not None:
            keep &= bars["date"] >= pd.Timestamp(start)
        if end is not None:  # exclusive, as yfinance's
            keep &= bars["date"] < pd.Timestamp(end)
        bars = bars[keep]
        index = pd.DatetimeIndex(bars["date"], name="Date").tz_localize("America/New_York")
        return pd.DataFrame(
            {
                "Open": bars["open"].to_numpy(),
                "High": bars["high"].to_numpy(),
                "Low": bars["low"].to_numpy(),
                "Close": bars["close"].to_numpy(),
                "Adj Close": bars["close"].to_numpy(),
                "Volume": bars["volume"].to_numpy(),
                "Dividends": bars["dividend"].to_numpy(),
                "Stock Splits": [0.0 if r == 1.0 else r for r in bars["split_ratio"]],
            },
            index=index,
        )

    _yahoo.yfinance_history = _offline

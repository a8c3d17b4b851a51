"""Figure layouts: room for labels, legends off the title, the forecast's opening view,
exchange-calendar range breaks, gauges that keep their end labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.io as pio

from core.market.calendar import trading_calendar
from dashboard import charts

CAL = trading_calendar("XNYS")


def _bars(start: str = "2015-01-02", end: str = "2017-11-10") -> pd.DataFrame:
    days = CAL.sessions(start, end)
    close = 50 + np.cumsum(np.random.default_rng(1).standard_normal(len(days))) * 0.4
    return pd.DataFrame({"date": days, "open": close, "high": close + 1, "low": close - 1,
                         "close": close, "volume": np.full(len(days), 1_000_000)})


def _forecast(after: pd.Timestamp, days: int = 20) -> pd.DataFrame:
    dates = CAL.next_sessions(after, days)
    mean = np.full(days, 60.0)
    s = np.sqrt(np.arange(1, days + 1))
    return pd.DataFrame({"date": dates, "mean": mean, "lo80": mean - s, "hi80": mean + s,
                         "lo95": mean - 2 * s, "hi95": mean + 2 * s})


def test_the_template_leaves_room_for_labels() -> None:
    layout = pio.templates["stockcast"].layout
    assert layout.xaxis.automargin and layout.yaxis.automargin
    assert layout.yaxis.title.standoff >= 8 and layout.xaxis.title.standoff >= 8
    assert min(layout.margin.l, layout.margin.r, layout.margin.b) >= 12
    assert layout.title.xref == "paper"  # the title starts over the plot, not at the edge


def test_calendar_breaks_hide_weekends_and_the_exchanges_holidays() -> None:
    closed = CAL.closed_days("2024-12-20", "2025-01-05")
    breaks = charts.calendar_breaks(closed)
    assert breaks[0] == {"bounds": ["sat", "mon"]}
    assert breaks[1] == {"values": ["2024-12-25", "2025-01-01"]}
    assert charts.calendar_breaks(None) == [{"bounds": ["sat", "mon"]}]
    assert charts.calendar_breaks([]) == []


def test_an_exchange_open_on_a_weekend_day_lists_its_closed_days() -> None:
    closed = pd.to_datetime(["2024-01-05", "2024-01-06"])  # Friday and Saturday closed
    assert charts.calendar_breaks(closed) == [{"values": ["2024-01-05", "2024-01-06"]}]


def test_the_forecast_opens_on_six_months_and_the_horizon() -> None:
    bars = _bars()
    history = pd.Series(bars["close"].to_numpy(), index=pd.DatetimeIndex(bars["date"]))
    fc = _forecast(history.index[-1])
    overlays = {f"model {i} · auto_arima": fc.assign(mean=fc["mean"] + i) for i in range(6)}
    fig = charts.forecast_fan(history, fc, title="MSFT", overlays=overlays,
                              closed=CAL.closed_days(history.index[0], fc["date"].iloc[-1]))
    start, end = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert pd.Timedelta(days=175) < history.index[-1] - start < pd.Timedelta(days=190)
    assert end >= fc["date"].iloc[-1]
    lo, hi = fig.layout.yaxis.range
    visible = history[history.index >= start]
    assert lo <= min(visible.min(), fc["lo95"].min()) and hi >= max(visible.max(),
                                                                    fc["hi95"].max())
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["6 months", "1 year", "All"]
    assert menu.buttons[-1].args[0] == {"xaxis.autorange": True, "yaxis.autorange": True}
    # the legend sits beside the plot: more overlays lengthen it downwards, never over the
    # title or the view buttons
    assert fig.layout.legend.orientation == "v" and fig.layout.legend.x > 1
    assert fig.layout.xaxis.rangebreaks[0].bounds == ("sat", "mon")


def test_a_short_history_offers_only_all() -> None:
    bars = _bars("2017-08-01")
    history = pd.Series(bars["close"].to_numpy(), index=pd.DatetimeIndex(bars["date"]))
    fig = charts.forecast_fan(history, _forecast(history.index[-1]), title="MSFT")
    assert not fig.layout.updatemenus and fig.layout.xaxis.range is None


def test_the_gauge_keeps_its_end_labels_inside() -> None:
    fig = charts.coverage_gauge(1.0, 0.95, 0.90, 0.98, label="95% interval coverage")
    domain = fig.data[0].domain
    assert domain.x[0] > 0 and domain.x[1] < 1  # room for "0" and "100" beside the arc
    assert fig.layout.margin.b >= 20 and fig.layout.margin.l >= 20


def test_candlestick_studies_log_scale_and_periods() -> None:
    bars = _bars("2017-01-03")
    close = bars["close"]
    fig = charts.candlestick(bars, title="MSFT", log_y=True,
                             lines={"20-bar average": close.rolling(20).mean()},
                             band=(close - 2, close + 2), closed=CAL.closed_days(
                                 bars["date"].iloc[0], bars["date"].iloc[-1]))
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text.endswith("(log scale)")
    assert {t.name for t in fig.data} >= {"OHLC", "20-bar average", "Bollinger band"}
    weekly = charts.candlestick(bars, title="MSFT", daily=False)
    assert not weekly.layout.xaxis.rangebreaks

"""Plotly figures with one template, readable on light and dark themes.

Pure functions from frames to figures: no Streamlit calls, so they are easy to test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

BLUE = "#1f6feb"
ORANGE = "#f0883e"
GREEN = "#2da44e"
RED = "#cf222e"
GREY = "#8b949e"
PURPLE = "#8250df"
PALETTE = [BLUE, ORANGE, GREEN, PURPLE, "#bf8700", "#1b7c83", RED]

_OWN = go.layout.Template(
    layout=go.Layout(
        colorway=PALETTE,
        font={"family": "Inter, Helvetica, Arial, sans-serif", "size": 13},
        hovermode="x unified",
        # Room at every edge for the labels plotly places outside the plot; automargin
        # grows it when tick labels are longer (a PNG cut "85" to "5" with 10 px).
        margin={"l": 16, "r": 16, "t": 72, "b": 16},
        # The title starts where the plot starts (xref paper), not on the image's edge.
        title={"x": 0, "xref": "paper", "xanchor": "left", "y": 0.985, "yanchor": "top",
               "font": {"size": 16}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0},
        xaxis={"showgrid": False, "automargin": True, "title": {"standoff": 12}},
        yaxis={"gridcolor": "rgba(139,148,158,0.25)", "zeroline": False, "automargin": True,
               "title": {"standoff": 10}},
    )
)
# A legend beside the plot: it grows downwards with more entries, never over the title
# or the view buttons (a horizontal legend on top covered the title with overlays on).
SIDE_LEGEND = {"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1, "yanchor": "top"}
# Merged once and made the default: naming a template per figure ("a+b") re-merges and
# re-validates it every time, which cost ~150 ms a chart (measured with bench/pages.py).
pio.templates["stockcast"] = pio.templates.merge_templates(
    pio.templates[pio.templates.default or "plotly_white"], _OWN
)
pio.templates.default = "stockcast"


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def calendar_breaks(closed: Sequence[object] | pd.DatetimeIndex | None) -> list[dict[str, object]]:
    """Plotly range breaks that leave the exchange's closed days out of a daily time axis.

    ``closed`` are the days without a session over the chart's span, to the end of its last
    week (``dashboard.queries.closed_days``). When every Saturday and Sunday is closed,
    one weekend pattern covers them and only the holidays are listed; an exchange open on a
    weekend day gets every closed day listed. None: weekends only (no calendar at hand).
    """
    if closed is None:
        return [{"bounds": ["sat", "mon"]}]
    days = pd.DatetimeIndex(pd.to_datetime(list(closed))).normalize()
    if days.empty:
        return []
    # Whole weeks: a weekend day just past the last closed day may be a session.
    first = days.min() - pd.Timedelta(days=int(days.min().dayofweek))
    last = days.max() + pd.Timedelta(days=6 - int(days.max().dayofweek))
    span = pd.date_range(first, last, freq="D")
    weekends = span[span.dayofweek >= 5]
    if weekends.isin(days).all():
        holidays = days[days.dayofweek < 5]
        breaks: list[dict[str, object]] = [{"bounds": ["sat", "mon"]}]
        if len(holidays):
            breaks.append({"values": [f"{d:%Y-%m-%d}" for d in holidays]})
        return breaks
    return [{"values": [f"{d:%Y-%m-%d}" for d in days]}]


def _no_gaps(fig: go.Figure, closed: Sequence[object] | pd.DatetimeIndex | None) -> None:
    fig.update_xaxes(rangebreaks=calendar_breaks(closed))


Closed = Sequence[object] | pd.DatetimeIndex | None


def candlestick(
    bars: pd.DataFrame,
    *,
    title: str,
    closed: Closed = None,
    log_y: bool = False,
    lines: dict[str, pd.Series] | None = None,
    band: tuple[pd.Series, pd.Series] | None = None,
    band_name: str = "Bollinger band",
    daily: bool = True,
) -> go.Figure:
    """Candlestick with volume; imputed days and flagged outliers are marked.

    ``lines`` (moving averages) and ``band`` (lower, upper: Bollinger) are drawn on the
    price panel, aligned with ``bars`` row by row. ``closed`` are the exchange's closed
    days over the span (daily bars only: weekly and monthly bars have no gaps to hide).
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22],
                        vertical_spacing=0.03)
    if band is not None:
        lower, upper = band
        fig.add_trace(go.Scatter(x=bars["date"], y=upper, mode="lines", line={"width": 0},
                                 hoverinfo="skip", showlegend=False, name=f"{band_name} upper"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=bars["date"], y=lower, mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor=_rgba(PURPLE, 0.12),
                                 name=band_name, hoverinfo="skip"),
                      row=1, col=1)
    fig.add_trace(
        go.Candlestick(
            x=bars["date"], open=bars["open"], high=bars["high"], low=bars["low"],
            close=bars["close"], name="OHLC",
            increasing_line_color=GREEN, decreasing_line_color=RED,
        ),
        row=1, col=1,
    )
    for i, (label, values) in enumerate((lines or {}).items()):
        fig.add_trace(go.Scatter(x=bars["date"], y=values, mode="lines", name=label,
                                 line={"color": PALETTE[(i + 3) % len(PALETTE)], "width": 1.4}),
                      row=1, col=1)
    if "imputed" in bars and bars["imputed"].any():
        imp = bars[bars["imputed"]]
        fig.add_trace(
            go.Scatter(x=imp["date"], y=imp["close"], mode="markers", name="Imputed (filled)",
                       marker={"symbol": "circle-open", "size": 8, "color": GREY}),
            row=1, col=1,
        )
    if "outlier" in bars and bars["outlier"].any():
        out = bars[bars["outlier"]]
        fig.add_trace(
            go.Scatter(x=out["date"], y=out["high"] * 1.02, mode="markers",
                       name="Flagged outlier", marker={"symbol": "triangle-down", "size": 10,
                                                       "color": ORANGE}),
            row=1, col=1,
        )
    fig.add_trace(
        go.Bar(x=bars["date"], y=bars["volume"], name="Volume",
               marker_color=_rgba(BLUE, 0.45), showlegend=False),
        row=2, col=1,
    )
    fig.update_layout(title=title, height=560, xaxis_rangeslider_visible=False,
                      legend=SIDE_LEGEND, margin={"t": 48})  # no legend or buttons on top
    fig.update_yaxes(title_text="Price (log scale)" if log_y else "Price", row=1, col=1,
                     type="log" if log_y else "linear")
    fig.update_yaxes(title_text="Volume", row=2, col=1)
    if daily:
        _no_gaps(fig, closed)
    return fig


def rebased_lines(rebased: pd.DataFrame, *, title: str, closed: Closed = None,
                  log_y: bool = False) -> go.Figure:
    """Several symbols on one scale: each close divided by its first and times 100
    (``core.market.indicators.rebase``), one line per column."""
    fig = go.Figure()
    for i, name in enumerate(rebased.columns):
        fig.add_trace(go.Scatter(x=rebased.index, y=rebased[name], mode="lines", name=str(name),
                                 line={"color": PALETTE[i % len(PALETTE)], "width": 1.6}))
    fig.add_hline(y=100, line={"color": GREY, "width": 1, "dash": "dot"})
    fig.update_layout(title=title, height=480, legend=SIDE_LEGEND, margin={"t": 48},
                      yaxis_title="Rebased (first day = 100)")
    if log_y:
        fig.update_yaxes(type="log")
    _no_gaps(fig, closed)
    return fig


# The views the forecast chart offers: it opens on the first, the full range one click away.
FAN_VIEWS = (("6 months", 6), ("1 year", 12), ("All", None))


def _view_range(history: pd.Series, forecast: pd.DataFrame,
                overlays: dict[str, pd.DataFrame], months: int | None
                ) -> tuple[list[str], list[float]] | None:
    """The x range (dates) and a y range that fits the visible history, bands and lines."""
    if months is None:
        return None
    start = pd.Timestamp(forecast["date"].iloc[-1] if history.empty else history.index[-1])
    start = start - pd.DateOffset(months=months)
    end = pd.Timestamp(forecast["date"].iloc[-1]) + pd.Timedelta(days=2)
    seen = [history[history.index >= start].to_numpy(dtype="float64"),
            forecast["lo95"].to_numpy(dtype="float64"), forecast["hi95"].to_numpy(dtype="float64"),
            *(f["mean"].to_numpy(dtype="float64") for f in overlays.values())]
    values = np.concatenate([v for v in seen if len(v)])
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    lo, hi = float(values.min()), float(values.max())
    pad = (hi - lo) * 0.06 or abs(hi) * 0.02 or 1.0
    return [f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"], [lo - pad, hi + pad]


def forecast_fan(
    history: pd.Series,
    forecast: pd.DataFrame,
    *,
    title: str,
    overlays: dict[str, pd.DataFrame] | None = None,
    closed: Closed = None,
) -> go.Figure:
    """History, forecast mean and 80%/95% bands; optional overlays (mean lines).

    Opens zoomed on the last six months and the forecast, with buttons for a year and the
    whole history: a 20-day forecast after years of history is a sliver otherwise. Each
    button sets the y range to what it shows (plotly does not rescale y on a zoom).
    """
    overlays = overlays or {}
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=history.index, y=history.values, name="History",
                             line={"color": GREY, "width": 1.6}))
    x = list(forecast["date"]) + list(forecast["date"][::-1])
    fig.add_trace(go.Scatter(x=x, y=list(forecast["hi95"]) + list(forecast["lo95"][::-1]),
                             fill="toself", fillcolor=_rgba(BLUE, 0.15), line={"width": 0},
                             name="95% interval", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=list(forecast["hi80"]) + list(forecast["lo80"][::-1]),
                             fill="toself", fillcolor=_rgba(BLUE, 0.30), line={"width": 0},
                             name="80% interval", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=forecast["date"], y=forecast["mean"], name="Forecast",
                             line={"color": BLUE, "width": 2.4}))
    for i, (label, frame) in enumerate(overlays.items()):
        fig.add_trace(go.Scatter(x=frame["date"], y=frame["mean"], name=label,
                                 line={"color": PALETTE[(i + 1) % len(PALETTE)], "width": 1.6,
                                       "dash": "dash"}))
    fig.update_layout(title=title, height=480, yaxis_title="Price", legend=SIDE_LEGEND)
    span = (history.index[-1] - history.index[0]) if len(history) > 1 else pd.Timedelta(0)
    buttons = []
    for label, months in FAN_VIEWS:
        if months is not None and span <= pd.Timedelta(days=31 * months):
            continue  # the history is shorter than this view: "All" shows it
        view = _view_range(history, forecast, overlays, months)
        if view is None:
            args: dict[str, object] = {"xaxis.autorange": True, "yaxis.autorange": True}
        else:
            args = {"xaxis.range": view[0], "yaxis.range": view[1]}
        buttons.append({"label": label, "method": "relayout", "args": [args]})
    if len(buttons) > 1:
        first = buttons[0]["args"][0]
        if "xaxis.range" in first:
            fig.update_xaxes(range=first["xaxis.range"])
            fig.update_yaxes(range=first["yaxis.range"])
        fig.update_layout(updatemenus=[{
            "type": "buttons", "direction": "right", "active": 0, "showactive": True,
            "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom",
            "pad": {"l": 0, "r": 0, "t": 0, "b": 0}, "buttons": buttons,
            "font": {"size": 12},
        }])
    _no_gaps(fig, closed)
    return fig


def fold_errors(per_fold: pd.DataFrame, *, metric: str, title: str) -> go.Figure:
    """Grouped bars of a metric per backtest fold: model vs naive (``naive_<metric>``)."""
    fig = go.Figure()
    origins = per_fold["origin"].astype(str)
    fig.add_trace(go.Bar(x=origins, y=per_fold[metric], name="Model", marker_color=BLUE))
    fig.add_trace(go.Bar(x=origins, y=per_fold[f"naive_{metric}"], name="Naive",
                         marker_color=GREY))
    fig.update_layout(title=title, barmode="group", height=340,
                      xaxis_title="Forecast origin (last training day)",
                      yaxis_title=metric.upper())
    fig.update_xaxes(type="category")
    return fig


def residual_diagnostics(residuals: pd.Series, acf: Sequence[float], pacf: Sequence[float],
                         qq: tuple[np.ndarray, np.ndarray]) -> go.Figure:
    """Residuals over time, ACF, PACF and a normal Q-Q plot in one figure."""
    fig = make_subplots(rows=2, cols=2, subplot_titles=("Residuals", "Normal Q-Q", "ACF", "PACF"))
    fig.add_trace(go.Scatter(x=residuals.index, y=residuals.values, mode="lines",
                             line={"color": BLUE, "width": 1}, name="residual"), row=1, col=1)
    theo, sample = qq
    fig.add_trace(go.Scatter(x=theo, y=sample, mode="markers", marker={"size": 3, "color": BLUE},
                             name="quantiles"), row=1, col=2)
    lim = [float(np.nanmin(theo)), float(np.nanmax(theo))]
    slope = float(np.nanstd(sample)) if len(sample) else 1.0
    fig.add_trace(go.Scatter(x=lim, y=[lim[0] * slope + float(np.nanmean(sample)),
                                       lim[1] * slope + float(np.nanmean(sample))],
                             mode="lines", line={"color": ORANGE}, name="normal"), row=1, col=2)
    band = 1.96 / np.sqrt(max(len(residuals), 1))
    for col, values in ((1, acf), (2, pacf)):
        lags = list(range(1, len(values) + 1))
        fig.add_trace(go.Bar(x=lags, y=list(values), marker_color=BLUE, name="corr"),
                      row=2, col=col)
        for sign in (1, -1):
            fig.add_hline(y=sign * band, line={"color": RED, "dash": "dot", "width": 1},
                          row=2, col=col)
    fig.update_layout(height=560, showlegend=False)
    if isinstance(residuals.index, pd.DatetimeIndex):  # residuals by trading date
        fig.update_xaxes(rangebreaks=calendar_breaks(None), row=1, col=1)
    return fig


def predicted_vs_actual(ledger: pd.DataFrame, *, step: int, title: str,
                        closed: Closed = None) -> go.Figure:
    """Forecasts of one horizon step against what happened, with the 80%/95% bands."""
    rows = ledger[ledger["step"] == step].sort_values("target_date")
    rows = rows.drop_duplicates("target_date", keep="last")
    x = list(rows["target_date"]) + list(rows["target_date"][::-1])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=list(rows["hi95"]) + list(rows["lo95"][::-1]), fill="toself",
                             fillcolor=_rgba(BLUE, 0.13), line={"width": 0}, name="95% interval",
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=list(rows["hi80"]) + list(rows["lo80"][::-1]), fill="toself",
                             fillcolor=_rgba(BLUE, 0.25), line={"width": 0}, name="80% interval",
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=rows["target_date"], y=rows["mean"], name="Predicted",
                             line={"color": BLUE, "width": 1.8}))
    done = rows[rows["actual"].notna()]
    fig.add_trace(go.Scatter(x=done["target_date"], y=done["actual"], name="Actual",
                             mode="lines+markers", marker={"size": 4},
                             line={"color": "#1b2430", "width": 1.4}))
    fig.update_layout(title=title, height=420, yaxis_title="Price")
    _no_gaps(fig, closed)
    return fig


def rolling_error(rolling: pd.DataFrame, *, threshold: float, drift_dates: Sequence[object],
                  title: str, closed: Closed = None) -> go.Figure:
    """Rolling RMSE of the model and of the naive forecast on the same targets (like with
    like), with the RMSE alert threshold and the drift events."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=rolling.index, y=rolling["rmse"], name="Model RMSE",
                             line={"color": BLUE, "width": 2}))
    fig.add_trace(go.Scatter(x=rolling.index, y=rolling["naive_rmse"], name="Naive RMSE",
                             line={"color": GREY, "width": 1.4, "dash": "dot"}))
    fig.add_hline(y=threshold, line={"color": RED, "dash": "dash", "width": 1.2},
                  annotation_text=f"alert threshold {threshold:g}",
                  annotation_position="top left")
    for i, day in enumerate(drift_dates):
        fig.add_vline(x=pd.Timestamp(str(day)).timestamp() * 1000,
                      line={"color": ORANGE, "width": 1.2, "dash": "dot"})
        if i == 0:
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="Drift detected",
                                     line={"color": ORANGE, "dash": "dot"}))
    fig.update_layout(title=title, height=340, yaxis_title="RMSE (price units)")
    _no_gaps(fig, closed)
    return fig


def coverage_gauge(value: float, target: float, low: float, high: float, *,
                   label: str) -> go.Figure:
    """Coverage against its nominal ``target``, green inside [``low``, ``high``] and red
    outside on BOTH sides: a band holding too many actuals is too wide."""
    fig = go.Figure(go.Indicator(
        mode="gauge+number+delta", value=value * 100, number={"suffix": "%"},
        delta={"reference": target * 100, "suffix": " pts"},
        title={"text": label},
        domain={"x": [0.08, 0.92], "y": [0.0, 0.9]},
        gauge={"axis": {"range": [0, 100], "tickfont": {"size": 11}}, "bar": {"color": BLUE},
               "threshold": {"line": {"color": RED, "width": 3}, "value": target * 100},
               "steps": [{"range": [0, low * 100], "color": _rgba(RED, 0.15)},
                         {"range": [low * 100, high * 100], "color": _rgba(GREEN, 0.15)},
                         {"range": [high * 100, 100], "color": _rgba(RED, 0.15)}]},
    ))
    # The end labels ("0", "100") sit below the arc's ends, outside its domain: the
    # domain leaves them room on each side and the bottom margin under them.
    fig.update_layout(height=240, margin={"l": 30, "r": 30, "t": 56, "b": 24})
    return fig


def champion_timeline(timeline: pd.DataFrame, *, title: str, closed: Closed = None) -> go.Figure:
    """When each model served (first to last data date it forecast from), as bars."""
    fig = go.Figure()
    for i, r in enumerate(timeline.to_dict("records")):
        fig.add_trace(go.Scatter(
            x=[r["from"], r["until"]], y=[r["label"], r["label"]], mode="lines+markers",
            line={"color": PALETTE[i % len(PALETTE)], "width": 10}, showlegend=False,
            hovertext=f"{r['forecasts']} forecast days. {r['note']}", name=r["label"],
        ))
    fig.update_layout(title=title,
                      height=140 + 26 * max(1, len(timeline)), yaxis={"autorange": "reversed"})
    _no_gaps(fig, closed)
    return fig


def sparkline(closes: Sequence[float]) -> dict[str, object]:
    """A card's sparkline as a Vega-Lite spec: the line alone, no axes, its own y range (a
    zero-based axis flattens a stock's moves into a straight line)."""
    values = [{"i": i, "close": float(c)} for i, c in enumerate(closes)]
    return {
        "data": {"values": values},
        "mark": {"type": "line", "strokeWidth": 1.5, "tooltip": False},
        "encoding": {
            "x": {"field": "i", "type": "quantitative", "axis": None},
            "y": {"field": "close", "type": "quantitative", "axis": None,
                  "scale": {"zero": False}},
        },
        "config": {"view": {"stroke": None}},
    }

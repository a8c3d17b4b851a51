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
        margin={"l": 10, "r": 10, "t": 72, "b": 10},
        title={"x": 0, "xanchor": "left", "y": 0.99, "yanchor": "top", "font": {"size": 16}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0},
        xaxis={"showgrid": False},
        yaxis={"gridcolor": "rgba(139,148,158,0.25)", "zeroline": False},
    )
)
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


def _no_weekend_gaps(fig: go.Figure) -> None:
    fig.update_xaxes(rangebreaks=[{"bounds": ["sat", "mon"]}])


def candlestick(bars: pd.DataFrame, *, title: str) -> go.Figure:
    """Candlestick with volume; imputed days and flagged outliers are marked."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22],
                        vertical_spacing=0.03)
    fig.add_trace(
        go.Candlestick(
            x=bars["date"], open=bars["open"], high=bars["high"], low=bars["low"],
            close=bars["close"], name="OHLC",
            increasing_line_color=GREEN, decreasing_line_color=RED,
        ),
        row=1, col=1,
    )
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
    fig.update_layout(title=title, height=560,
                      xaxis_rangeslider_visible=False)
    fig.update_yaxes(title_text="Price", row=1, col=1)
    fig.update_yaxes(title_text="Volume", row=2, col=1)
    _no_weekend_gaps(fig)
    return fig


def forecast_fan(
    history: pd.Series,
    forecast: pd.DataFrame,
    *,
    title: str,
    overlays: dict[str, pd.DataFrame] | None = None,
) -> go.Figure:
    """History, forecast mean and 80%/95% bands; optional overlays (mean lines)."""
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
    for i, (label, frame) in enumerate((overlays or {}).items()):
        fig.add_trace(go.Scatter(x=frame["date"], y=frame["mean"], name=label,
                                 line={"color": PALETTE[(i + 1) % len(PALETTE)], "width": 1.6,
                                       "dash": "dash"}))
    fig.update_layout(title=title, height=480, yaxis_title="Price")
    _no_weekend_gaps(fig)
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
    return fig


def predicted_vs_actual(ledger: pd.DataFrame, *, step: int, title: str) -> go.Figure:
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
    _no_weekend_gaps(fig)
    return fig


def rolling_error(rolling: pd.DataFrame, *, threshold: float, drift_dates: Sequence[object],
                  title: str) -> go.Figure:
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
    return fig


def coverage_gauge(value: float, target: float, low: float, high: float, *,
                   label: str) -> go.Figure:
    """Coverage against its nominal ``target``, green inside [``low``, ``high``] and red
    outside on BOTH sides: a band holding too many actuals is too wide."""
    fig = go.Figure(go.Indicator(
        mode="gauge+number+delta", value=value * 100, number={"suffix": "%"},
        delta={"reference": target * 100, "suffix": " pts"},
        title={"text": label},
        gauge={"axis": {"range": [0, 100]}, "bar": {"color": BLUE},
               "threshold": {"line": {"color": RED, "width": 3}, "value": target * 100},
               "steps": [{"range": [0, low * 100], "color": _rgba(RED, 0.15)},
                         {"range": [low * 100, high * 100], "color": _rgba(GREEN, 0.15)},
                         {"range": [high * 100, 100], "color": _rgba(RED, 0.15)}]},
    ))
    fig.update_layout(height=230, margin={"l": 20, "r": 20, "t": 50, "b": 10})
    return fig


def champion_timeline(timeline: pd.DataFrame, *, title: str) -> go.Figure:
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
    _no_weekend_gaps(fig)
    return fig

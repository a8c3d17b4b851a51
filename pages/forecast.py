"""Forecast: the champion's forecast as a fan chart with honest uncertainty."""

from __future__ import annotations

import streamlit as st

from core.errors import CoreError, ModelNotFound
from dashboard import charts, keys, model_queries, nav, queries, tables, widgets
from dashboard.guard import stop_with
from dashboard.selection import current_symbol

symbol = widgets.need_symbol(current_symbol())
widgets.page_header("Forecast", symbol, "The champion model's forecast on the exchange's "
                    "trading days, with 80% and 95% intervals and the naive baseline.")

c1, c2, c3 = st.columns([2, 2, 1])
try:
    limit = model_queries.champion_max_horizon(symbol)
except CoreError as exc:
    stop_with(exc)
longest = min(60, limit) if limit else 60
if longest > 1:
    days = c1.slider("Horizon (trading days)", 1, longest, min(20, longest), key=keys.FC_HORIZON)
else:
    days = 1
if limit is not None:
    c1.caption(f"At most {limit} trading days: this ARIMAX regresses on its inputs "
               f"{limit} days earlier, so it knows them only {limit} days ahead "
               "(refit it with a longer horizon to see further).")

try:
    fc = model_queries.forecast(symbol, days)
except ModelNotFound as exc:
    st.info(str(exc), icon=":material/model_training:")
    st.page_link(nav.FITTING, label="Fit a model", icon=":material/model_training:")
    st.stop()
except CoreError as exc:
    stop_with(exc)

names = model_queries.version_labels(symbol)
overlay_ids = c2.multiselect(
    "Overlay other saved models", [i for i in names if i != fc.version_id],
    format_func=names.__getitem__, key=keys.FC_OVERLAY,
)
show_naive = c3.toggle("Naive baseline", value=True, key=keys.FC_NAIVE)

for warning in fc.warnings:
    st.warning(warning, icon=":material/warning:")
if fc.random_walk:
    st.warning(
        "The selected model is a random walk (ARIMA(0,1,0) or naive): its forecast is the last "
        "price, with widening uncertainty. That is often the honest answer for stock prices.",
        icon=":material/trending_flat:")
elif fc.beats_naive is False:
    st.warning(
        f"This model did not beat the naive forecast in its backtest ({fc.beats_naive_text}). "
        "Read the bands, not the line.", icon=":material/balance:")

m = st.columns(4)
m[0].metric("Model", f"#{fc.version_id}", fc.model, delta_color="off", delta_arrow="off")
m[1].metric("Forecast from", f"{fc.data_date:%Y-%m-%d}",
            f"trained to {fc.trained_until:%Y-%m-%d}", delta_color="off", delta_arrow="off")
last = float(fc.history.iloc[-1])
end = fc.forecast.iloc[-1]
places = tables.price_decimals(fc.history.iloc[-20:])
m[2].metric(f"Mean in {tables.horizon_label(days)}", tables.price(end["mean"], places),
            f"{end['mean'] / last - 1:+.2%}")
m[3].metric("95% range", f"{tables.price(end['lo95'], places)} – "
                         f"{tables.price(end['hi95'], places)}", fc.band_method,
            delta_color="off", delta_arrow="off",
            help="Published bands: the model's band layer; '+aci' corrected every day by the "
                 "adaptive conformal layer that the reconciled ledger drives")

overlays = {}
if show_naive:
    overlays["Naive"] = fc.forecast[["date"]].assign(mean=fc.forecast["naive"])
for vid in overlay_ids:
    try:
        other = model_queries.forecast(symbol, days, int(vid))
    except CoreError as exc:
        st.warning(f"Model #{vid} cannot forecast: {exc}")
        continue
    overlays[model_queries.version_label(int(vid), other.model)] = other.forecast

# Two years of history: the chart opens on the last six months and the forecast, with a
# year and all of it one click away (more rows cost the browser seconds, not the server).
history = fc.history.iloc[-504:]
closed = queries.closed_days(symbol, history.index[0].date(),
                             fc.forecast["date"].iloc[-1].date())
fan = charts.forecast_fan(history, fc.forecast, overlays=overlays, closed=closed,
                          title=f"{symbol} · {fc.model} · {tables.horizon_label(days)} forecast")
st.plotly_chart(fan, key="fc_chart", config={"displaylogo": False})
if fc.exog_policy:
    st.caption(f"Exogenous inputs policy: **{fc.exog_policy}** (stored with every forecast).")

st.dataframe(tables.styled(fc.forecast), hide_index=True)
st.download_button("Download forecast CSV", widgets.csv_bytes(fc.forecast),
                   file_name=f"{symbol}_forecast_{fc.data_date}_{days}d.csv", mime="text/csv",
                   icon=":material/download:", key="fc_download")
widgets.png_export(fan, file_name=f"{symbol}_forecast_{fc.data_date}_{days}d.png", key="fc_png")
if st.button("Log this forecast", key=keys.FC_LOG, icon=":material/playlist_add:",
             help="Record it in the prediction ledger, to be scored when the actuals arrive"):
    try:
        added = model_queries.log_forecast(symbol, days)
    except CoreError as exc:
        stop_with(exc)
    if added:
        st.success(f"Logged model #{fc.version_id}'s {days}-day forecast from "
                   f"{fc.data_date:%Y-%m-%d} ({added} target days).")
    else:
        st.info(f"Model #{fc.version_id}'s forecast from {fc.data_date:%Y-%m-%d} for these "
                "days is already in the ledger.")
st.caption("Browsing does not log: the ledger holds the forecasts the product publishes (the "
           "daily job, the API, the CLI and this button), once per model, data date and target "
           "day, with the naive forecast beside them; the Monitoring page scores them when the "
           "actual prices arrive.")

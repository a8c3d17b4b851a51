"""Overview: one card per watched symbol, each linking to its pages."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from core import jobs
from core.demo import demo_loaded
from core.errors import CoreError
from dashboard import charts, keys, monitor_queries, nav, queries, tables, widgets
from dashboard.guard import run
from dashboard.resources import app_context

ctx = app_context()
actor = widgets.actor()
today = dt.date.today()

st.title("Overview")
st.caption("Every watched symbol at a glance: price, champion model, next forecast, recent "
           "skill against the naive forecast, alerts and data freshness.")


def demo_panel() -> None:
    demo = jobs.active(ctx.db, kind="demo", symbol="MSFT")
    if demo is not None:
        st.progress(demo.progress, text=f"Loading the demo — {demo.message or ''}")
        return
    if st.session_state.pop("ov_demo_polling", False):
        queries.clear()
        st.rerun()


stored = run(queries.stored_symbols)
if not stored or st.session_state.get("ov_demo_polling") or not run(lambda: demo_loaded(ctx.db)):
    with st.container(border=True):
        st.markdown("### Welcome to Stockcast" if not stored else "### Load the demo")
        st.markdown(
            "Load the bundled demo: real daily histories that work offline (Microsoft "
            "1986–2017; Apple, Alphabet and IBM 2000–2013), an auto-ARIMA champion for each, "
            "and three months of replayed daily monitoring so every page has something to show."
        )
        if actor.is_analyst:
            if st.button("Load demo", key=keys.OV_LOAD_DEMO, type="primary",
                         icon=":material/rocket_launch:"):
                try:
                    job = jobs.submit(ctx.db, kind="demo", symbol="MSFT", params={}, actor=actor)
                except CoreError as exc:
                    st.error(str(exc))
                else:
                    jobs.launch(job.id)
                    st.session_state["ov_demo_polling"] = True
                    st.rerun()
        else:
            st.caption(":material/lock: Loading data needs an analyst sign-in.")
        polling = bool(st.session_state.get("ov_demo_polling"))
        st.fragment(demo_panel, run_every="2s" if polling else None)()
    if not stored:
        st.stop()

watch = [s for s in (ctx.settings.watchlist or stored) if s in stored] or stored
cols = st.columns(2 if len(watch) <= 2 else 3)  # a lone card needs room for its metrics
for i, symbol in enumerate(watch):
    with cols[i % len(cols)], st.container(border=True):
        try:
            card = monitor_queries.symbol_card(symbol, today)
        except CoreError as exc:
            st.markdown(f"#### {symbol}")
            st.error(str(exc))
            continue
        st.markdown(f"#### {symbol}")
        a, b = st.columns(2)
        places = tables.price_decimals([card.last_close])
        a.metric("Last close", tables.price(card.last_close, places),
                 f"{card.change:+.2%}" if card.change is not None else None,
                 help=f"Bar of {card.last_date:%Y-%m-%d}")
        # The data's date as text, not a metric: a metric's large figure cuts a date short.
        b.caption("Data to")
        b.markdown(f"**{card.last_date:%d %b %Y}**")
        if card.sample:
            b.badge("bundled sample", color="gray", icon=":material/inventory_2:",
                    help="A fixed real history shipped with the product.")
        elif card.stale_days <= 1:
            b.badge("up to date", color="green", help=f"Sessions of {card.exchange}.")
        else:
            b.badge(f"{card.stale_days:,} trading days old", color="red",
                    help=f"Sessions of {card.exchange}.")
        if card.spark:
            st.vega_lite_chart(charts.sparkline(card.spark), height=70)
        if card.sample:
            st.caption(f":material/inventory_2: Bundled sample data ({card.exchange}), ending "
                       f"{card.last_date:%d %b %Y}: it is not updated, so its age is not an "
                       "alarm. Fetch from Yahoo on the Data page for live bars.")
        if card.champion_id is None:
            st.caption("No champion model yet.")
        else:
            stale = " · :orange[stale: drift detected]" if card.champion_stale else ""
            st.markdown(f"**Champion** #{card.champion_id} {card.champion_label}  \n"
                        f"trained to {card.champion_trained_to:%Y-%m-%d}{stale}")
            if card.next_mean is not None and card.next_date is not None:
                st.markdown(
                    f"**Next forecast** ({card.next_date:%a %d %b %Y}): "
                    f"**{tables.price(card.next_mean, places)}** (80%: "
                    f"{tables.price(card.next_lo80, places)} – "
                    f"{tables.price(card.next_hi80, places)})"
                )
            elif card.forecast_error:
                st.warning(card.forecast_error)
        c, d = st.columns(2)
        if card.mase_30 is None:
            c.metric("30-day MAE ratio to naive", "–",
                     help="No scored forecasts in the last 30 days.")
        else:
            verdict = tables.naive_verdict(card.mase_30)
            c.metric("30-day MAE ratio to naive", f"{card.mase_30:.2f}", verdict,
                     delta_color=("inverse" if verdict == "worse than naive" else
                                  "normal" if verdict == "better than naive" else "off"),
                     delta_arrow="off",
                     help="Model MAE / naive MAE over the last 30 scored days; below 1 beats "
                          "'tomorrow = today'.")
        d.metric("Open alerts", f"{card.open_alerts:,}")
        links = st.columns(3, gap="small")  # text only: with icons a 3-card row cuts them
        links[0].page_link(nav.EXPLORER, label="Data", query_params={"symbol": symbol})
        links[1].page_link(nav.FORECAST, label="Forecast", query_params={"symbol": symbol})
        links[2].page_link(nav.MONITORING, label="Monitor", query_params={"symbol": symbol})

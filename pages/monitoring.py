"""Monitoring: how past forecasts compare with what happened, alerts, drift, retraining."""

from __future__ import annotations

import streamlit as st

from core import jobs
from core.errors import CoreError
from core.forecast import lifecycle
from core.monitor import views
from dashboard import keys, model_queries, monitor_queries, widgets
from dashboard.guard import stop_with
from dashboard.resources import app_context
from dashboard.selection import current_symbol

ctx = app_context()
actor = widgets.actor()
symbol = widgets.need_symbol(current_symbol())
limits = ctx.settings.thresholds

widgets.page_header("Monitoring", symbol, "Every logged forecast scored against the actual "
                    "price and against the naive forecast logged beside it.")


def job_panel() -> None:
    """The latest retrain job of this symbol; polls while it is queued or running."""
    latest, dead = monitor_queries.latest_retrain(symbol)
    if latest is None:
        newest = views.latest_model_note(ctx.db, symbol)
        tail = f"; its newest model is {newest}." if newest else ", and it has no model yet."
        st.caption("No retrain job has run for this symbol from here or the scheduler" + tail)
        return
    status = "failed (worker dead)" if dead else latest.status
    label = f"Retrain job #{latest.id} · {status} · started by {latest.created_by}"
    if dead:  # shown as failed now; the next retrain (any front door) records it and runs
        st.session_state.pop("mon_polling", None)
        st.error(f"{label}: {dead}. The champion is unchanged; press Retrain to start again.")
        return
    if latest.status in jobs.ACTIVE:
        st.progress(latest.progress, text=f"{label} — {latest.message or ''}")
        st.session_state["mon_polling"] = latest.id
        return
    if st.session_state.pop("mon_polling", None) == latest.id:
        model_queries.clear()
        st.rerun()  # the job just finished: refresh the whole page once
    if latest.status == "failed":
        st.error(f"{label}: {latest.error}")
        return
    if latest.status == "cancelled":
        st.warning(f"{label}: {latest.message}")
        return
    result = latest.result or {}
    if result.get("unchanged"):  # no new bars since the champion's training end
        st.info(f"{label}: {result.get('message')}")
        return
    gate = result.get("gate") or {}
    st.success(f"{label}: challenger #{result.get('challenger_id')} "
               f"({result.get('challenger', '')}) saved.")
    if gate:
        st.markdown(f"**Challenger vs champion:** {gate.get('text')}")
    challenger_id = result.get("challenger_id")
    champion_id = model_queries.champion_id(symbol)
    if (actor.is_analyst and challenger_id and challenger_id != champion_id
            and st.button(f"Promote challenger #{challenger_id}", key=keys.MON_PROMOTE,
                          icon=":material/military_tech:")):
        try:
            outcome = lifecycle.promote(ctx.db, ctx.settings, int(challenger_id), actor)
        except CoreError as exc:
            st.error(str(exc))
        else:
            model_queries.clear()
            st.success(f"Model {outcome.version.id} is now the champion.")


running = jobs.active(ctx.db, kind="retrain", symbol=symbol)
if running is not None and jobs.dead_reason(running):
    running = None  # its worker is gone: Retrain takes over its lock (jobs.submit reclaims)

top = st.columns([3, 1])
window = top[0].select_slider("Scoring window (trading days)", [20, 30, 60, 120, 250],
                              value=limits.window_days if limits.window_days in
                              (20, 30, 60, 120, 250) else 30, key=keys.MON_WINDOW)
with top[1]:
    if actor.is_analyst:
        if st.button("Retrain", key=keys.MON_RETRAIN, type="primary", icon=":material/refresh:",
                     disabled=running is not None,
                     help="Fits the champion's model again on the latest data as a challenger, "
                          "in the background; you decide whether to promote it."):
            try:
                job = jobs.submit(ctx.db, kind="retrain", symbol=symbol, params={}, actor=actor)
            except CoreError as exc:
                st.error(str(exc))
            else:
                jobs.launch(job.id)
                st.session_state["mon_polling"] = job.id
                st.rerun()
    else:
        st.caption(":material/lock: Retraining needs an analyst sign-in.")

with st.container(border=True):
    poll = running is not None or "mon_polling" in st.session_state
    st.fragment(job_panel, run_every="2s" if poll else None)()

try:
    snap = monitor_queries.snapshot(symbol, window)
except CoreError as exc:
    stop_with(exc)

if snap.ledger.empty:
    st.info("Nothing in the prediction ledger yet: forecasts are logged when the Forecast page, "
            "the CLI or the scheduled job issues them, and scored when actual prices arrive. "
            f"For a year of history in minutes run `python -m core replay --symbol {symbol} "
            "--start 2016-11-01 --end 2017-11-10`, or press Load demo on the Overview.",
            icon=":material/history:")
    st.stop()

s = snap.scores
m = st.columns(6)
m[0].metric("Scored forecasts", f"{s.n:,}")
m[1].metric("RMSE", f"{s.rmse:.3g}" if s.n else "–",
            f"threshold {limits.rmse_abs:g}", delta_color="off", delta_arrow="off")
m[2].metric("MAE ratio to naive", f"{s.mae_ratio:.2f}" if s.n else "–",
            "worse than naive" if s.n and s.mae_ratio > 1
            else "better than naive" if s.n else None,
            delta_color="inverse" if s.n and s.mae_ratio > 1 else "normal",
            help="Model MAE / MAE of the naive forecast logged beside it, on the same "
                 "targets; below 1 beats 'tomorrow = today'. (Not a MASE: that needs the "
                 "training window, see the backtest on Model fitting.)")
m[3].metric("MAPE", f"{s.mape:.2f}%" if s.n else "–")
m[4].metric("Direction hit rate", f"{s.hit_rate:.0%}" if s.n else "–")
open_alerts = snap.alerts[snap.alerts["status"] == "open"] if not snap.alerts.empty else snap.alerts
m[5].metric("Open alerts", f"{len(open_alerts)}")

pending = int(snap.ledger["actual"].isna().sum())
if snap.ledger["actual"].notna().sum() == 0:
    st.info(f"{pending:,} logged forecasts are waiting for their actual prices; they are scored "
            "when new bars are ingested.", icon=":material/hourglass_top:")
    st.stop()
figs = monitor_queries.figures(symbol, window, limits.rmse_abs,
                              (limits.coverage80_min, limits.coverage80_max,
                               limits.coverage95_min, limits.coverage95_max))
pva = figs["pva"]
st.plotly_chart(pva, key="mon_pva")

c1, c2 = st.columns([2, 1])
with c1:
    if "rolling" in figs:
        st.plotly_chart(figs["rolling"], key="mon_rolling")
    else:
        st.caption("No scored forecasts yet for the rolling error.")
with c2:
    for name in ("cov80", "cov95"):
        if name in figs:
            st.plotly_chart(figs[name], key=f"mon_{name}")

tab_steps, tab_alerts, tab_drift, tab_models, tab_ledger = st.tabs(
    ["Per horizon", "Alerts", "Drift", "Model versions", "Ledger"])
with tab_steps:
    widgets.table(snap.by_step.reset_index())
with tab_alerts:
    if snap.alerts.empty:
        st.success("No alerts so far.")
    else:
        widgets.table(snap.alerts)
    st.caption(
        f"Rules: RMSE above {limits.rmse_abs:g} or above {limits.rmse_pct_of_price:g}% of the "
        f"price; MAE ratio to naive above 1 for {limits.mae_ratio_above_one_days} days; "
        f"coverage outside {limits.coverage80_min:.0%}-{limits.coverage80_max:.0%} (80% band) "
        f"or {limits.coverage95_min:.0%}-{limits.coverage95_max:.0%} (95% band), too narrow "
        f"or too wide beyond chance (binomial test at 5%); no new bar "
        f"for {limits.stale_trading_days} trading days; a failed scheduled job. "
        f"Cool-down {limits.cooldown_days} days."
    )
with tab_drift:
    if snap.drift.empty:
        st.success("No drift detected in the forecast errors.")
    else:
        widgets.table(snap.drift)
    st.caption("Detectors watch each one-step error standardised by the forecast's own "
               "sigma (from its stored 95% band): Page-Hinkley over z² (|z| capped at 4) = "
               "**volatility**, ADWIN over z = **bias**, KSWIN over z = **shape**.")
    if st.toggle("Show the detectors' calibration on the bundled series (~15 s)",
                 key=keys.MON_CALIBRATION):
        st.dataframe(monitor_queries.drift_calibration(), hide_index=True)
        st.caption("Replayed with a random walk whose band sigma is the training window's "
                   "(today's bands): calm stretches 2004-06, 2012-13, 2016-17; crisis 2008. "
                   "Same table: `python -m core calibrate-drift`.")
    st.caption(f"Drift policy: **{ctx.settings.drift_policy}** (auto queues a retrain; manual "
               "marks the champion stale and asks).")
with tab_models:
    if "timeline" in figs:
        st.plotly_chart(figs["timeline"], key="mon_timeline")
    widgets.table(model_queries.versions_table(symbol))
with tab_ledger:
    widgets.table(snap.ledger.sort_values(["target_date", "step"], ascending=False), height=320)
    st.download_button("Download ledger CSV", widgets.csv_bytes(snap.ledger),
                       file_name=f"{symbol}_ledger.csv", mime="text/csv",
                       icon=":material/download:", key="mon_download")
    widgets.png_export(pva, file_name=f"{symbol}_predicted_vs_actual.png", key="mon_png")

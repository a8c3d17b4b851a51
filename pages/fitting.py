"""Model fitting: choose a model, fit it, see how it would have done against naive,
save it as a challenger, and manage the champion."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import CoreError
from core.forecast import lifecycle
from core.forecast.diagnostics import residual_diagnostics
from core.forecast.service import FitRequest, FittedModel, fit_model, save_model
from dashboard import charts, keys, model_queries, queries, widgets
from dashboard.guard import run, stop_with
from dashboard.resources import app_context
from dashboard.selection import current_symbol

ctx = app_context()
actor = widgets.actor()
symbol = widgets.need_symbol(current_symbol())
RESULT = "fit_result"

MODELS = {
    "auto_arima": "Auto-ARIMA (order search)",
    "arima": "ARIMA(p,d,q), manual order",
    "arimax": "ARIMAX with exogenous inputs",
    "drift": "Drift (random walk + trend)",
    "naive": "Naive (tomorrow = today)",
    "ensemble": "Ensemble (weights from backtest)",
}
ENGINES = {"statsforecast": "statsforecast (fast, default)", "pmdarima": "pmdarima (reference)"}
POLICIES = {"lagged": "Lagged by the horizon (known at forecast time)",
            "forecast": "Forecast each input with its own model"}
OUTLIERS = {"use": "Use as is", "winsorize": "Winsorise", "exclude": "Exclude (fill forward)"}

widgets.page_header("Model fitting", symbol, "Fit a model, compare it honestly with the naive "
                    "forecast on rolling origins, and save it as a challenger.")

summary = next((s for s in run(queries.symbol_summaries) if s.symbol == symbol), None)
if summary is None:
    st.warning(f"{symbol} is no longer stored.")
    st.stop()

left, right = st.columns([1, 1], gap="large")
with left:
    kind = st.selectbox("Model", list(MODELS), format_func=MODELS.__getitem__, key=keys.FIT_KIND)
    options: dict[str, object] = {}
    if kind == "auto_arima":
        options["engine"] = st.radio("Engine", list(ENGINES), format_func=ENGINES.__getitem__,
                                     key=keys.FIT_ENGINE, horizontal=True)
        options["information_criterion"] = st.radio(
            "Information criterion", ["aic", "aicc", "bic"], key=keys.FIT_IC, horizontal=True
        )
    if kind in ("arima", "arimax"):
        c1, c2, c3, c4 = st.columns(4)
        p = c1.number_input("p", 0, 5, 1, key=keys.FIT_P)
        d = c2.number_input("d", 0, 2, 1, key=keys.FIT_D)
        q = c3.number_input("q", 0, 5, 0, key=keys.FIT_Q)
        options["order"] = [int(p), int(d), int(q)]
        options["with_constant"] = c4.checkbox("Drift/constant", key=keys.FIT_CONSTANT,
                                               disabled=int(d) > 1)
    if kind == "arimax":
        options["exog"] = st.multiselect("Exogenous inputs", ["open", "high", "low", "volume"],
                                         default=["volume"], key=keys.FIT_EXOG)
        options["exog_policy"] = st.radio(
            "Future inputs", list(POLICIES), format_func=POLICIES.__getitem__,
            key=keys.FIT_EXOG_POLICY,
            help="Future prices and volume are unknown when forecasting; same-day Open/High/Low "
                 "would leak the answer, so inputs are lagged or forecast, never same-day.",
        )
    if kind == "ensemble":
        members = st.multiselect("Members", ["auto_arima", "drift", "naive", "arima"],
                                 default=["auto_arima", "drift", "naive"], key=keys.FIT_MEMBERS)
        options["members"] = [{"kind": m} for m in members]
    if kind != "ensemble":
        options["log"] = st.toggle("Model log prices", value=True, key=keys.FIT_LOG,
                                   help="Recommended: errors scale with the price level.")
with right:
    start, end = widgets.date_range(keys.FIT_WINDOW, summary.first_date, summary.last_date,
                                    default_years=4)
    outliers = st.radio("Flagged moves", list(OUTLIERS), format_func=OUTLIERS.__getitem__,
                        key=keys.FIT_OUTLIERS, horizontal=True)
    c1, c2 = st.columns(2)
    folds = c1.number_input("Backtest folds", 1, 30, 5, key=keys.FIT_FOLDS)
    horizon = c2.number_input("Backtest horizon (trading days)", 1, 60, 5, key=keys.FIT_HORIZON)
    if kind == "arimax":
        options["horizon"] = int(horizon)

request = FitRequest(symbol=symbol, kind=kind, options=options, start=start, end=end,
                     outlier_policy=outliers, folds=int(folds), horizon=int(horizon))

if st.button("Fit and backtest", key=keys.FIT_GO, type="primary", icon=":material/play_arrow:"):
    st.session_state.pop(RESULT, None)
    with st.status(f"Fitting {MODELS[kind]} on {symbol}…", expanded=True) as status:
        bar = st.progress(0.0)
        try:
            fitted = fit_model(ctx.db, ctx.settings, request,
                               progress=lambda f, text: bar.progress(min(max(f, 0.0), 1.0), text))
        except CoreError as exc:
            status.update(label="Fit failed", state="error")
            st.error(str(exc))
        else:
            st.session_state[RESULT] = fitted
            status.update(label=f"Fitted {fitted.forecaster.label} in {fitted.fit_seconds:.2f} s",
                          state="complete", expanded=False)

fitted: FittedModel | None = st.session_state.get(RESULT)
if fitted is not None and fitted.request.symbol == symbol:
    info = fitted.summary
    st.subheader(info.get("label", fitted.request.kind))
    m = st.columns(5)
    m[0].metric("Training days", f"{len(fitted.data.y):,}")
    m[1].metric("AIC", f"{info['aic']:.1f}" if info.get("aic") is not None else "–")
    m[2].metric("BIC", f"{info['bic']:.1f}" if info.get("bic") is not None else "–")
    m[3].metric("Fit time", f"{fitted.fit_seconds:.2f} s")
    if fitted.backtest is not None:
        bt = fitted.backtest
        m[4].metric("Beats naive", f"{bt.folds_won} of {bt.folds} folds")
        if bt.folds_won * 2 <= bt.folds:
            st.warning(
                f"This model did not beat the naive forecast (tomorrow = today) on most folds "
                f"({bt.beats_naive_text}). Stock prices are close to a random walk; prefer the "
                "simpler model unless the difference is material.", icon=":material/balance:")
    if info.get("fallback_reason"):
        st.info(f"Fit note: {info['fallback_reason']}")
    if info.get("weights"):
        st.markdown("**Ensemble weights** (inverse backtest MSE)")
        st.dataframe(pd.DataFrame([info["weights"]]), hide_index=True)

    tab_bt, tab_coef, tab_diag = st.tabs(["Backtest vs naive", "Coefficients", "Residuals"])
    with tab_bt:
        if fitted.backtest is None:
            st.caption("No backtest requested.")
        else:
            folds_frame = fitted.backtest.folds_frame().reset_index()
            st.plotly_chart(charts.fold_errors(folds_frame, metric="rmse",
                                               title="RMSE per fold: model vs naive"),
                            key="fit_folds_chart")
            st.dataframe(folds_frame, hide_index=True)
            st.markdown("**By horizon step**")
            st.dataframe(fitted.backtest.steps_frame().reset_index(), hide_index=True)
    with tab_coef:
        coefs = info.get("coefficients") or {}
        if coefs:
            table = pd.DataFrame(
                [{"parameter": k, "estimate": v["coef"], "std. error": v["se"]}
                 for k, v in coefs.items()]
            )
            st.dataframe(table, hide_index=True)
        else:
            st.caption("This model has no estimated coefficients.")
    with tab_diag:
        try:
            diag = residual_diagnostics(fitted.forecaster.residuals())
        except (CoreError, ValueError) as exc:
            st.caption(f"No residual diagnostics: {exc}")
        else:
            st.plotly_chart(
                charts.residual_diagnostics(diag.residuals, diag.acf, diag.pacf,
                                            (diag.qq_theoretical, diag.qq_sample)),
                key="fit_diag_chart",
            )
            verdict = ("no autocorrelation left (white noise at 5%)" if diag.white_noise
                       else "autocorrelation left in the residuals")
            st.markdown(f"**Ljung-Box:** {verdict}")
            st.dataframe(diag.ljung_box, hide_index=True)

    if actor.is_analyst and st.button(
        "Save as challenger", key=keys.FIT_SAVE, icon=":material/save:"
    ):
        try:
            version = save_model(ctx.db, ctx.settings, fitted, actor)
        except CoreError as exc:
            st.error(str(exc))
        else:
            model_queries.clear()
            st.session_state.pop(RESULT, None)
            role = "champion (first model)" if version.role == "champion" else "challenger"
            st.success(f"Saved model {version.id} as {role}.")

st.divider()
st.subheader("Saved models")
try:
    table = model_queries.versions_table(symbol)
except CoreError as exc:
    stop_with(exc)
if table.empty:
    st.caption(f"No saved models for {symbol} yet.")
    st.stop()
st.dataframe(table, hide_index=True)

challengers = table[table["role"] == "challenger"]["id"].tolist()
if actor.is_analyst:
    c1, c2 = st.columns([2, 1], gap="large")
    with c1, st.container(border=True):
        st.markdown("**Promote a challenger** — gated: it must not be worse than the champion "
                    "on the same backtest folds.")
        if challengers:
            chosen = st.selectbox("Challenger", challengers, key="fit_challenger")
            reason = st.text_input("Override reason (only if the gate refuses)",
                                   key=keys.FIT_OVERRIDE)
            if st.button("Promote", key=keys.FIT_PROMOTE, icon=":material/military_tech:"):
                with st.spinner("Comparing challenger and champion on the same folds…"):
                    try:
                        outcome = lifecycle.promote(ctx.db, ctx.settings, int(chosen), actor,
                                                    override_reason=reason or None)
                    except CoreError as exc:
                        st.error(str(exc))
                    else:
                        model_queries.clear()
                        st.success(f"Model {outcome.version.id} is now the champion."
                                   + (f" {outcome.gate.text}." if outcome.gate else ""))
        else:
            st.caption("No challengers: fit and save a model, or press Retrain on Monitoring.")
    with c2, st.container(border=True):
        st.markdown("**Roll back** to the previous champion.")
        if st.button("Roll back", key=keys.FIT_ROLLBACK, icon=":material/undo:"):
            try:
                back = lifecycle.rollback(ctx.db, symbol, actor)
            except CoreError as exc:
                st.error(str(exc))
            else:
                model_queries.clear()
                st.success(f"Model {back.id} is the champion again.")

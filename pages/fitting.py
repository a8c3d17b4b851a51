"""Model fitting: choose a model, fit it in a background job (the page polls it), see how
it would have done against naive, save it as a challenger, and manage the champion."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import jobs
from core.errors import CoreError
from core.forecast import drafts, lifecycle
from core.forecast.service import FitRequest
from dashboard import charts, fit_queries, keys, model_queries, queries, widgets
from dashboard.guard import run, stop_with
from dashboard.resources import app_context
from dashboard.selection import current_symbol

ctx = app_context()
actor = widgets.actor()
symbol = widgets.need_symbol(current_symbol())
POLLING = "fit_polling"  # the fit job this session waits for
SAVED = "fit_saved"  # the "Saved model N as ..." message, shown after the rerun

MODELS = {
    "auto_arima": "Auto-ARIMA (order search)",
    "arima": "ARIMA(p,d,q), manual order",
    "arimax": "ARIMAX with exogenous inputs",
    "drift": "Drift (random walk + trend)",
    "naive": "Naive (tomorrow = today)",
    "lstm": "LSTM (Keras 3 on JAX, log returns)",
    "ensemble": "Ensemble (weights from backtest)",
}
WEIGHTINGS = {"inverse_mse": "Inverse backtest MSE",
              "backtest": "Tuned on the backtest (the best convex combination)"}
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

condition = fit_queries.lstm_condition(symbol)
if condition is not None and condition.met:
    st.info(f"{condition.text}. The requirements' condition for trying an LSTM is met: "
            "choose LSTM, or an ensemble of auto_arima, lstm and naive.",
            icon=":material/neurology:")
elif condition is not None:
    st.caption(condition.text)

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
        members = st.multiselect("Members", ["auto_arima", "lstm", "drift", "naive", "arima"],
                                 default=["auto_arima", "drift", "naive"], key=keys.FIT_MEMBERS)
        options["weighting"] = st.radio("Weights", list(WEIGHTINGS),
                                        format_func=WEIGHTINGS.__getitem__,
                                        key=keys.FIT_WEIGHTING)
        lstm = widgets.lstm_settings(keys.FIT_LSTM) if "lstm" in members else {}
        options["members"] = [{"kind": m, **(lstm if m == "lstm" else {})} for m in members]
    if kind == "lstm":
        options.update(widgets.lstm_settings(keys.FIT_LSTM))
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

if not actor.is_analyst:
    st.caption(":material/lock: Fitting runs as a background job and needs an analyst sign-in.")
elif st.button("Fit and backtest", key=keys.FIT_GO, type="primary", icon=":material/play_arrow:",
               help="Runs in the background: you may leave the page and come back."):
    try:
        job = jobs.submit(ctx.db, kind="fit", symbol=symbol,
                          params=drafts.request_to_params(request), actor=actor)
    except CoreError as exc:
        st.error(str(exc))
    else:
        jobs.launch(job.id)
        st.session_state[POLLING] = job.id
        st.rerun()


def job_panel() -> None:
    """The latest fit job of this symbol; polls while it is queued or running."""
    job = fit_queries.latest_job(symbol)
    if job is None:
        return
    label = f"Fit job #{job.id} · {job.status} · {(job.params or {}).get('kind', '')}"
    if job.status in jobs.ACTIVE:
        st.session_state[POLLING] = job.id
        c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
        c1.progress(min(max(job.progress, 0.0), 1.0), text=f"{label} — {job.message or ''}")
        if actor.is_analyst and c2.button("Cancel", key=keys.FIT_CANCEL, icon=":material/stop:"):
            try:
                jobs.cancel(ctx.db, job.id, actor)
            except CoreError as exc:
                st.error(str(exc))
        return
    if st.session_state.pop(POLLING, None) == job.id:
        st.rerun()  # the job just finished: refresh the whole page once


job = fit_queries.latest_job(symbol)
polling = (job is not None and job.status in jobs.ACTIVE) or POLLING in st.session_state
st.fragment(job_panel, run_every="1s" if polling else None)()

if job is not None and job.status == "failed":
    st.error(f"Fit job #{job.id} failed: {job.error}", icon=":material/error:")
elif job is not None and job.status == "cancelled":
    st.warning(f"Fit job #{job.id} was cancelled ({job.message}); nothing was saved.",
               icon=":material/stop_circle:")

done = job if job is not None and job.status == "succeeded" else None
version_id = int((done.result or {}).get("version_id") or 0) if done is not None else 0
role = fit_queries.current_role(version_id) if version_id else None
if done is not None and version_id and role is None:
    st.caption(f"The model of fit job #{done.id} was replaced by a newer fit.")
if done is not None and version_id and role is not None:
    fitted = run(lambda: fit_queries.fit_view(version_id))
    info = fitted.summary
    st.subheader(fit_queries.md_escape(str(info.get("label", fitted.label))))
    when = f", finished {done.finished_at:%Y-%m-%d %H:%M} UTC" if done.finished_at else ""
    state = ("not saved yet" if role == drafts.DRAFT
             else f"saved as model {fitted.version_id} ({role})")
    st.caption(f"Fit job #{done.id} by {done.created_by}{when} · {state}")
    for warning in fitted.warnings:
        st.warning(warning, icon=":material/warning:")
    m = st.columns(5)
    m[0].metric("Training days", f"{fitted.n_obs:,}")
    m[1].metric("AIC", f"{fitted.aic:.1f}" if fitted.aic is not None else "–")
    m[2].metric("BIC", f"{fitted.bic:.1f}" if fitted.bic is not None else "–")
    m[3].metric("Fit time", f"{fitted.fit_seconds:.2f} s")
    if fitted.folds_won is not None:
        won, total = fitted.folds_won
        m[4].metric("Beats naive", f"{won} of {total} folds")
        if won * 2 <= total:
            st.warning(
                f"This model did not beat the naive forecast (tomorrow = today) on most folds "
                f"(beats naive on {won} of {total} folds). Stock prices are close to a random "
                "walk; prefer the simpler model unless the difference is material.",
                icon=":material/balance:")
    if info.get("fallback_reason"):
        st.info(f"Fit note: {info['fallback_reason']}")
    if fitted.band_method:
        st.caption(f"Published bands: **{fitted.band_method}** (the model's band layer; "
                   "'+aci': corrected every day by the adaptive conformal layer that the "
                   "reconciled ledger drives)")
    if info.get("band_warning"):
        st.warning(f"Bands: {info['band_warning']}", icon=":material/warning:")
    ensemble = fit_queries.ensemble_view(info)
    if ensemble is not None:
        how = WEIGHTINGS.get(ensemble.weighting, ensemble.weighting)
        st.markdown(f"**Ensemble weights** ({how.lower()})")
        st.dataframe(ensemble.weights, hide_index=True)
        st.markdown("**Members' RMSE on the folds that set the weights**")
        st.dataframe(ensemble.fold_rmse, hide_index=True)
    if info.get("training"):
        training = info["training"]
        st.caption(f"Trained {training.get('epochs_run')} epochs on {training.get('device')}, "
                   f"best validation loss at epoch {training.get('best_epoch')}; "
                   f"{info.get('parameters', 0):,} weights.")

    tab_bt, tab_coef, tab_diag = st.tabs(["Backtest vs naive", "Coefficients", "Residuals"])
    with tab_bt:
        if fitted.folds is None or fitted.steps is None:
            st.caption("No backtest requested.")
        else:
            st.plotly_chart(charts.fold_errors(fitted.folds, metric="rmse",
                                               title="RMSE per fold: model vs naive"),
                            key="fit_folds_chart")
            widgets.table(fitted.folds)
            st.markdown("**By horizon step**")
            widgets.table(fitted.steps)
            if fitted.band_scores is not None:
                st.markdown("**Band methods on the same folds** (interval score in % of "
                            "price, lower is better; the lowest mean of 80% and 95% is "
                            "served)")
                widgets.table(fitted.band_scores)
    with tab_coef:
        coefs = info.get("coefficients") or {}
        if coefs:
            table = pd.DataFrame(
                [{"parameter": k, "estimate": v["coef"], "std. error": v["se"]}
                 for k, v in coefs.items()]
            )
            widgets.table(table)
            widgets.arma_overfit_warning(coefs)
        else:
            st.caption("This model has no estimated coefficients.")
    with tab_diag:
        diag = fitted.diagnostics
        if diag is None:
            st.caption(f"No residual diagnostics: {fitted.diagnostics_note}")
        else:
            st.plotly_chart(
                charts.residual_diagnostics(diag.residuals, diag.acf, diag.pacf,
                                            (diag.qq_theoretical, diag.qq_sample)),
                key="fit_diag_chart",
            )
            verdict = ("no autocorrelation left (white noise at 5%)" if diag.white_noise
                       else "autocorrelation left in the residuals")
            st.markdown(f"**Ljung-Box:** {verdict}")
            widgets.table(diag.ljung_box)

    if role == drafts.DRAFT and actor.is_analyst and st.button(
        "Save as challenger", key=keys.FIT_SAVE, icon=":material/save:"
    ):
        try:
            version = drafts.keep_draft(ctx.db, version_id, actor)
        except CoreError as exc:
            st.error(str(exc))
        else:
            model_queries.clear()
            label = "champion (first model)" if version.role == "champion" else "challenger"
            st.session_state[SAVED] = f"Saved model {version.id} as {label}."
            st.rerun()  # the caption, the saved models and the promote list change
if SAVED in st.session_state:
    st.success(st.session_state.pop(SAVED), icon=":material/check_circle:")

st.divider()
st.subheader("Saved models")
try:
    table = model_queries.versions_table(symbol)
except CoreError as exc:
    stop_with(exc)
if table.empty:
    st.caption(f"No saved models for {symbol} yet.")
    st.stop()
if keys.FIT_NOTICE in st.session_state:
    st.success(st.session_state.pop(keys.FIT_NOTICE), icon=":material/check_circle:")
widgets.table(table)

challengers = table[table["role"] == "challenger"]["id"].tolist()
champion_now = model_queries.champion_id(symbol)


def show_verdict(verdict: lifecycle.GateResult | None, what: str) -> None:
    """The gate's verdict with each side's error on every fold."""
    if verdict is None:
        st.info(f"{symbol} has no champion to compare with: {what} needs no gate.")
        return
    show = st.success if verdict.passed else st.warning
    show(f"Gate: {verdict.text}.", icon=":material/rule:")
    st.dataframe(pd.DataFrame(verdict.fold_table()), hide_index=True)


def verdict_step(
    version_id: int, label: str, button_key: str, store_key: str, *, icon: str, spinner: str
) -> tuple[bool, lifecycle.GateResult | None]:
    """The first step of promote and roll back: a button asks the gate for its verdict on
    ``version_id`` against today's champion and keeps it across reruns. Returns whether a
    verdict for this choice and this champion is at hand, and the verdict (None: no champion
    to compare with)."""
    if st.button(label, key=button_key, icon=icon,
                 help="Shows the gate's verdict first; nothing changes until you confirm."):
        with st.spinner(spinner):
            try:
                found = lifecycle.gate_for(ctx.db, ctx.settings, version_id)
            except CoreError as exc:
                st.error(str(exc))
            else:
                st.session_state[store_key] = (version_id, champion_now, found)
    seen = st.session_state.get(store_key)
    if seen is None or seen[:2] != (version_id, champion_now):
        return False, None
    return True, seen[2]


def write_done(message: str) -> None:
    """After a promote or rollback: drop what the write made stale, rerun to show it."""
    model_queries.clear()
    for key in (keys.FIT_PROMOTE_VERDICT, keys.FIT_ROLLBACK_VERDICT, keys.FIT_OVERRIDE_FOR):
        st.session_state.pop(key, None)
    st.session_state[keys.FIT_CLEAR_OVERRIDE] = True  # an override is used once
    st.session_state[keys.FIT_NOTICE] = message
    st.rerun()


if actor.is_analyst:
    c1, c2 = st.columns([1, 1], gap="large")
    with c1, st.container(border=True):
        st.markdown("**Promote a challenger** — gated: it must not be worse than the champion "
                    "on the same backtest folds. Check the verdict, then confirm.")
        if challengers:
            chosen = int(st.selectbox("Challenger", challengers, key=keys.FIT_CHALLENGER,
                                      format_func=model_queries.version_labels(symbol).__getitem__))
            # The reason box belongs to one version's verdict: another choice, or a used
            # override, starts it empty.
            if (st.session_state.pop(keys.FIT_CLEAR_OVERRIDE, False)
                    or st.session_state.get(keys.FIT_OVERRIDE_FOR) != chosen):
                st.session_state.pop(keys.FIT_OVERRIDE, None)
            asked, verdict = verdict_step(
                chosen, "Promote…", keys.FIT_PROMOTE, keys.FIT_PROMOTE_VERDICT,
                icon=":material/military_tech:",
                spinner="Comparing challenger and champion on the same folds…",
            )
            if asked:
                show_verdict(verdict, "promoting it")
                failed = verdict is not None and not verdict.passed
                reason = ""
                if failed:
                    st.session_state[keys.FIT_OVERRIDE_FOR] = chosen
                    reason = st.text_input(f"Override reason for model {chosen} (required to "
                                           "promote it despite the gate)", key=keys.FIT_OVERRIDE)
                label = "Override the gate and promote" if failed else "Confirm promotion"
                if st.button(f"{label} model {chosen}", key=keys.FIT_PROMOTE_CONFIRM,
                             type="primary", icon=":material/check:"):
                    try:
                        outcome = lifecycle.promote(
                            ctx.db, ctx.settings, chosen, actor, verdict=verdict,
                            override_reason=reason or None,
                            override_for=chosen if reason else None,
                        )
                    except CoreError as exc:
                        st.error(str(exc))
                    else:
                        write_done(f"Model {outcome.version.id} is now the champion"
                                   + (" (gate overridden)." if outcome.overridden else "."))
        else:
            st.caption("No challengers: fit and save a model, or press Retrain on Monitoring.")
    with c2, st.container(border=True):
        st.markdown("**Roll back** to an earlier champion: choose it, see how it compares "
                    "with the current champion, confirm.")
        earlier = model_queries.rollback_choices(symbol)
        if not earlier:
            st.caption("No earlier champion to roll back to.")
        else:
            target = int(st.selectbox("Restore", list(earlier), format_func=earlier.__getitem__,
                                      key=keys.FIT_ROLLBACK_TO))
            asked, verdict = verdict_step(
                target, "Roll back…", keys.FIT_ROLLBACK, keys.FIT_ROLLBACK_VERDICT,
                icon=":material/undo:", spinner="Comparing it with the current champion…",
            )
            if asked:
                show_verdict(verdict, "restoring it")
                if st.button(f"Confirm: restore model {target} as champion",
                             key=keys.FIT_ROLLBACK_CONFIRM, type="primary",
                             icon=":material/check:"):
                    try:
                        back = lifecycle.rollback(ctx.db, symbol, actor, to_version_id=target,
                                                  expected_champion_id=champion_now)
                    except CoreError as exc:
                        st.error(str(exc))
                    else:
                        write_done(f"Model {back.id} is the champion again.")

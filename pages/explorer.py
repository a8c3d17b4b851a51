"""Data explorer: candlestick with volume, quality flags, validation report, data table,
and the two ways in: fetch from Yahoo Finance, or import a CSV."""

from __future__ import annotations

import streamlit as st

from core import jobs
from core.errors import CoreError
from core.market import ingest
from core.market.dates import DATE_FORMATS
from core.symbols import check_symbols
from dashboard import charts, keys, queries, studies, tables, widgets
from dashboard.guard import run, stop_with
from dashboard.resources import app_context
from dashboard.selection import current_symbol

ctx = app_context()
actor = widgets.actor()
symbol = current_symbol()
ADJUST_LABELS = {"split": "Split-adjusted", "split_dividend": "Split + dividend", "raw": "Raw"}
PERIOD_LABELS = {"day": "Day", "week": "Week", "month": "Month"}
PERIOD_TITLES = {"day": "daily bars", "week": "weekly bars", "month": "monthly bars"}


def fetch_inline(symbols: list[str]) -> None:
    """One symbol: fetch in this run, with a progress bar. The outcome is kept in this
    session (not in every later one) and shown beside the button until the next fetch."""
    bar = st.progress(0.0, text="Fetching from Yahoo Finance…")
    try:
        summary = ingest.ingest_yahoo(
            ctx.db, ctx.settings, symbols, actor=actor,
            progress=lambda f, text: bar.progress(min(max(f, 0.0), 1.0), text),
        )
    except CoreError as exc:
        outcome = [(False, f"Fetch failed: {exc} Stored data is unaffected.")]
    else:
        queries.clear()
        outcome = [(r.ok, f"{r.symbol}: {r.status} - {r.message}"
                    + ("" if r.ok else " Stored data is unaffected."))
                   for r in summary.results]
    bar.empty()
    st.session_state[keys.EX_FETCH_OUTCOME] = outcome
    st.session_state.pop(keys.EX_INGEST_JOB, None)


def fetch_outcome() -> None:
    """This session's last single-symbol fetch: why it failed, in plain sight."""
    for ok, text in st.session_state.get(keys.EX_FETCH_OUTCOME, []):
        (st.success if ok else st.error)(text, icon=":material/check_circle:" if ok
                                         else ":material/error:")


def start_ingest_job(symbols: list[str]) -> None:
    """Several symbols: a background job, so the page stays responsive."""
    try:
        job = jobs.submit(ctx.db, kind="ingest", symbol=None, params={"symbols": symbols},
                          actor=actor)
    except CoreError as exc:
        st.error(str(exc))
        return
    jobs.launch(job.id)
    st.session_state["ex_ingest_polling"] = job.id
    st.session_state[keys.EX_INGEST_JOB] = job.id
    st.session_state.pop(keys.EX_FETCH_OUTCOME, None)
    st.rerun()


def ingest_job_panel() -> None:
    """Multi-symbol fetches: any running one's progress; the per-symbol outcome only of
    the job this session started (another session's old failures are not news here: the
    ingest history keeps them)."""
    latest = next((j for j in jobs.recent(ctx.db, limit=20) if j.kind == "ingest"), None)
    if latest is not None and latest.status in jobs.ACTIVE:
        st.progress(latest.progress, text=f"Fetch job #{latest.id}: {latest.message or ''}")
        return
    mine = st.session_state.get(keys.EX_INGEST_JOB)
    if mine is None:
        return
    latest = jobs.get(ctx.db, int(mine))
    if latest.status in jobs.ACTIVE:
        st.progress(latest.progress, text=f"Fetch job #{latest.id}: {latest.message or ''}")
        return
    if st.session_state.pop("ex_ingest_polling", None) == latest.id:
        queries.clear()
        st.rerun()  # finished: refresh the symbol list and charts once
    if latest.status == "failed":
        st.error(f"Fetch job #{latest.id} failed: {latest.error}. Stored data is unaffected.")
        return
    for result in (latest.result or {}).get("results", []):
        ok = result.get("status") != "failed"
        text = f"{result['symbol']}: {result['status']} - {result['message']}"
        (st.success if ok else st.error)(text)


def import_panel() -> None:
    """Fetch latest from Yahoo, or upload a CSV (analysts only)."""
    if not actor.is_analyst:
        st.caption(":material/lock: Importing data needs an analyst sign-in.")
        return
    fetch_col, upload_col = st.columns(2, gap="large")
    with fetch_col, st.container(border=True):
        st.markdown("**Fetch latest from Yahoo Finance**")
        symbols = st.text_input(
            "Symbols (comma-separated)", value=symbol or "MSFT", key=keys.EX_FETCH_SYMBOLS,
            help="Incremental: only days after the last stored one, plus a few to catch revisions.",
        )
        if st.button("Fetch latest", key=keys.EX_FETCH, icon=":material/cloud_download:"):
            try:
                wanted = check_symbols(symbols)
            except CoreError as exc:
                st.error(str(exc))
            else:
                if len(wanted) == 1:
                    fetch_inline(wanted)
                else:
                    start_ingest_job(wanted)
        fetch_outcome()
        polling = "ex_ingest_polling" in st.session_state
        st.fragment(ingest_job_panel, run_every="2s" if polling else None)()
    with upload_col, st.container(border=True):
        st.markdown("**Import a CSV**")
        st.caption(
            "Columns Date, Open, High, Low, Close, Volume (header case and spacing are "
            f"forgiven; comma or semicolon). Up to {ctx.settings.upload_max_mb:g} MB. "
            "With Adj Close too, splits and dividends are inferred from it."
        )
        upload_symbol = st.text_input("Symbol for this file", value="", key=keys.EX_UPLOAD_SYMBOL,
                                      placeholder="e.g. AAPL or VOD.L")
        fmt_col, exch_col = st.columns(2)
        formats = ["auto", *DATE_FORMATS]
        date_format = fmt_col.selectbox(
            "Date format", formats, key=keys.EX_UPLOAD_DATE_FORMAT,
            format_func=lambda f: "Decide from the file" if f == "auto" else DATE_FORMATS[f],
            help="Needed only when every date could be day first or month first.")
        upload_exchange = exch_col.text_input(
            "Exchange", value="", key=keys.EX_UPLOAD_EXCHANGE, placeholder="from the suffix",
            help="An exchange_calendars code (XNYS, XLON, XTKS, ...); empty: from the symbol's "
                 f"Yahoo suffix (.L = XLON), else {ctx.settings.exchange}.")
        upload = st.file_uploader("CSV file", type=["csv", "txt"], key=keys.EX_UPLOAD)
        if st.button("Import CSV", key=keys.EX_UPLOAD_GO, icon=":material/upload_file:",
                     disabled=upload is None):
            assert upload is not None
            with st.spinner("Validating and storing…"):
                try:
                    summary = ingest.ingest_csv(
                        ctx.db, ctx.settings, upload_symbol, upload.getvalue(),
                        actor=actor,
                        date_format=None if date_format == "auto" else date_format,
                        exchange=upload_exchange.strip() or None,
                    )
                except CoreError as exc:
                    st.error(f"{exc} Nothing was stored.")
                else:
                    queries.clear()
                    for result in summary.results:
                        (st.success if result.ok else st.error)(
                            f"{result.symbol}: {result.message}"
                        )


if symbol is None:
    widgets.page_header("Data explorer", None, "Daily market data, its quality, and its sources.")
    st.info("No market data stored yet: fetch from Yahoo Finance or import a CSV below.",
            icon=":material/inbox:")
    import_panel()
    st.stop()

widgets.page_header("Data explorer", symbol, "Daily bars on the exchange's trading days; "
                    "filled days and suspicious moves are marked, never deleted.")

summary = next((s for s in run(queries.symbol_summaries) if s.symbol == symbol), None)
if summary is None:
    st.warning(f"{symbol} is no longer stored.")
    st.stop()

c1, c2 = st.columns([3, 2])
with c1:
    start, end = widgets.date_range(keys.EX_RANGE, summary.first_date, summary.last_date)
with c2:
    adjust = st.segmented_control(
        "Prices", list(ADJUST_LABELS), format_func=ADJUST_LABELS.__getitem__,
        default="split", key=keys.EX_ADJUST,
        help="Adjusted prices are computed on read from raw prices and stored splits/dividends.",
    ) or "split"
s0, s1, s2, s3 = st.columns([2.6, 2.8, 2.8, 1.2], vertical_alignment="bottom")
period = s0.segmented_control(
    "Bars", list(PERIOD_LABELS), format_func=PERIOD_LABELS.__getitem__, default="day",
    key=keys.EX_PERIOD, help="Weekly bars start on Monday; monthly on the 1st.",
) or "day"
chosen = s1.multiselect("Studies", list(studies.CHOICES), format_func=studies.CHOICES.__getitem__,
                        key=keys.EX_STUDIES, placeholder="Moving averages, Bollinger bands")
compare = s2.multiselect(
    "Compare with (rebased to 100)", [s for s in run(queries.stored_symbols) if s != symbol],
    key=keys.EX_COMPARE, placeholder="Other stored symbols")
log_y = s3.toggle("Log scale", key=keys.EX_LOG)

try:
    bars = queries.prepared_bars(symbol, adjust, "use", start, end)
except CoreError as exc:
    stop_with(exc)
frame = bars.frame

m = st.columns(5)
m[0].metric("Trading days", f"{len(frame):,}")
m[1].metric("Last close", tables.price(frame["close"].iloc[-1]),
            f"{(frame['close'].iloc[-1] / frame['close'].iloc[-2] - 1):+.2%}"
            if len(frame) > 1 else None)
m[2].metric("Last bar", f"{bars.last_date:%Y-%m-%d}")
m[3].metric("Filled days", f"{bars.n_imputed:,}", help="Missing trading days, forward-filled.")
m[4].metric("Flagged moves", f"{bars.n_outliers:,}",
            help="Robust z-score of log returns (median/MAD) above threshold; kept, not deleted.")

try:
    shown_bars = queries.period_bars(symbol, adjust, start, end, period)
except CoreError as exc:
    stop_with(exc)
drawn = studies.studies(shown_bars, chosen)
closed = queries.closed_days(symbol, start, end) if period == "day" else None
candles = charts.candlestick(
    shown_bars, title=f"{symbol} · {ADJUST_LABELS[adjust]} · {PERIOD_TITLES[period]}",
    closed=closed, log_y=log_y, lines=drawn.lines, band=drawn.band, band_name=drawn.band_name,
    daily=period == "day",
)
st.plotly_chart(candles, key="ex_chart", config={"displaylogo": False})
if compare:
    try:
        rebased = queries.rebased_closes((symbol, *compare), adjust, start, end)
    except CoreError as exc:
        st.warning(f"Cannot compare: {exc}", icon=":material/warning:")
    else:
        st.plotly_chart(charts.rebased_lines(
            rebased, title=f"Rebased to 100 on {rebased.index[0]:%Y-%m-%d}",
            closed=queries.closed_days(symbol, start, end), log_y=log_y,
        ), key="ex_rebased", config={"displaylogo": False})

report = run(lambda: queries.validation_report(symbol))
label = (f"Validation report — {len(report.errors)} errors, {len(report.warnings)} warnings "
         f"over {report.rows:,} stored rows")
with st.expander(label, expanded=bool(report.errors), icon=":material/fact_check:"):
    if not report.issues:
        st.success("No issues found.")
    for issue in report.issues:
        (st.error if issue.level == "error" else st.warning)(issue.message)
    flagged = frame[frame["outlier"]]
    if not flagged.empty:
        st.markdown("**Flagged moves** (the modelling page chooses whether to use, winsorise "
                    "or exclude them)")
        st.dataframe(tables.styled(
            flagged[["date", "close", "volume", "outlier_score", "outlier_reason"]]),
            hide_index=True)

with st.expander("Data table", icon=":material/table:"):
    shown = frame[["date", "open", "high", "low", "close", "volume", "dividend", "split_ratio",
                   "imputed", "outlier"]]
    st.dataframe(tables.styled(shown), hide_index=True, height=320)
    st.download_button("Download CSV", widgets.csv_bytes(shown), file_name=f"{symbol}_{adjust}.csv",
                       mime="text/csv", icon=":material/download:", key="ex_download")
    widgets.png_export(candles, file_name=f"{symbol}_{adjust}.png", key="ex_png")

with st.expander("Import data", icon=":material/add_circle:", expanded=False):
    import_panel()

with st.expander("Ingest history", icon=":material/history:"):
    st.dataframe(tables.styled(run(lambda: queries.ingest_history(symbol))), hide_index=True)

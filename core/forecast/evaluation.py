"""Band evaluation you can rerun: replay a crisis year and a calm year of a series in memory
(weekly refit, daily ``update``, a forecast every day, reconciled as the actuals arrive) and
score every band method side by side on the same forecasts.

Nothing is written anywhere: the loop is the product's daily cycle (see
``core.monitor.replay``) without the database, so it can run against production data safely.
One mean model per day serves every band method (the bands differ, the point forecast is
shared), beside the naive forecast:

* ``gaussian`` - today's bands (the ARIMA's own variance, Normal quantiles);
* ``garch`` / ``gjr`` - the GARCH(1,1)-t / GJR-GARCH(1,1)-t layer (``core.forecast.garch``);
* ``+aci`` - adaptive conformal inference on top (``core.forecast.conformal``), its levels
  moved by every reconciled actual since the start of the warm-up (:func:`calibrate`
  applies both calibration layers after the replay, in the order they would have run live:
  they never feed back into the model, so this is the same as applying them in the loop);
* ``+conformal`` - split conformal: the scale is the conformal quantile of the last
  :data:`CONFORMAL_WINDOW` normalised errors at that step.

The warm-up (default 120 trading days before the period) lets the calibration layers see
reconciled actuals before the scored period starts, as they would in production; forecasts
are scored only when their target falls inside the period.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import DataUnavailable, NotEnoughHistory, ValidationFailed
from core.forecast import conformal, garch
from core.forecast.arima import AutoARIMA
from core.forecast.baselines import Naive
from core.forecast.checks import check_horizon
from core.forecast.result import ForecastResult
from core.forecast.sarimax import SarimaxForecaster

BASE_METHODS = ("gaussian", "garch", "gjr")
DEFAULT_BASES = ("gaussian", "garch")
CONFORMAL_WINDOW = 250
CONFORMAL_MIN = 30
MIN_TRAIN = 500

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Period:
    name: str  # "crisis" | "calm"
    start: str
    end: str


@dataclass(frozen=True)
class Case:
    """One series and the periods to replay on it."""

    series: str
    y: pd.Series
    periods: tuple[Period, ...]


CRISIS = Period("crisis", "2008-01-01", "2008-12-31")
CALM_PERIODS = {"sample:MSFT": Period("calm", "2016-11-14", "2017-11-10")}
CALM_DEFAULT = Period("calm", "2012-03-01", "2013-02-28")


def bundled_cases() -> list[Case]:
    """The bundled MSFT history (pmdarima) and, when ``bokeh_sampledata`` is installed, its
    AAPL/GOOG/IBM/MSFT 2000-2013 adjusted closes (``adj_close``)."""
    from core.market.sample import load_sample_bars

    bars = load_sample_bars()
    sample = pd.Series(bars["close"].to_numpy(dtype=np.float64),
                       index=pd.DatetimeIndex(bars["date"]), name="MSFT")
    cases = [Case("sample:MSFT", sample, (CRISIS, CALM_PERIODS["sample:MSFT"]))]
    try:
        from bokeh_sampledata import stocks
    except ImportError:
        return cases
    for name in ("AAPL", "GOOG", "IBM", "MSFT"):
        raw = getattr(stocks, name)
        y = pd.Series(np.asarray(raw["adj_close"], dtype=np.float64),
                      index=pd.DatetimeIndex(pd.to_datetime(raw["date"])), name=name)
        cases.append(Case(f"bokeh:{name}", y.sort_index(), (CRISIS, CALM_DEFAULT)))
    return cases


def _layer_result(model: SarimaxForecaster, layer: garch.GarchLayer | None,
                  gauss: ForecastResult, h: int) -> ForecastResult:
    if layer is None:
        return gauss
    half80, half95 = model.halfwidths_for(layer, h)
    m = np.log(gauss.mean) if model.log else gauss.mean
    return model._result_halfwidths(gauss.dates, m, half80, half95)


def replay_bands(y: pd.Series, period: Period, *, horizon: int = 5, train_days: int = 1000,
                 warmup: int = 120, base_methods: tuple[str, ...] = BASE_METHODS,
                 model_factory: Callable[[], SarimaxForecaster] | None = None) -> pd.DataFrame:
    """Replay ``period`` of ``y`` in memory (plus ``warmup`` days before it).

    One row per (forecast, step, base method or naive) whose target is on or before the
    period's end, with columns origin, target, step, method, actual, price (at the origin),
    mean, lo80, hi80, lo95, hi95, naive (the naive point forecast), scored (target inside
    the period). The calibration layers are applied afterwards by :func:`calibrate`."""
    horizon = check_horizon(horizon)
    y = y.dropna().sort_index()
    dates = pd.DatetimeIndex(y.index)
    values = y.to_numpy(dtype=np.float64)
    s = int(dates.searchsorted(pd.Timestamp(period.start)))
    e = int(dates.searchsorted(pd.Timestamp(period.end), side="right")) - 1
    if s >= len(dates) or e <= s:
        raise DataUnavailable(f"{y.name}: no data in {period.start}..{period.end}")
    first = s - 1 - warmup
    train = min(train_days, first + 1)
    if train < MIN_TRAIN:
        raise NotEnoughHistory(
            f"{y.name}: needs {MIN_TRAIN + warmup + 1} trading days before {period.start} "
            f"(training window {MIN_TRAIN} + warm-up {warmup}), has {s}")
    make = model_factory or (lambda: AutoARIMA(bands="garch"))
    rows: list[dict[str, Any]] = []
    model: SarimaxForecaster | None = None
    naive: Naive | None = None
    gjr: garch.GarchLayer | None = None
    for i in range(first, e):
        # the model: weekly refit (first trading day of a week), daily update
        week = dates[i].isocalendar()[:2]
        if model is None or naive is None or week != dates[i - 1].isocalendar()[:2]:
            window = y.iloc[i - train + 1 : i + 1]
            model = make().fit(window)
            naive = Naive(log=model.log, exchange=model.exchange).fit(window)
            if "gjr" in base_methods:
                gjr, _ = garch.fit_garch(model.band_residuals(), "gjr")
        else:
            model.update(y.iloc[i : i + 1])
            naive.update(y.iloc[i : i + 1])
            if gjr is not None:
                gjr.filter(model.last_residuals(1))
        gauss = model.predict_gaussian(horizon)
        results = {"gaussian": gauss, "naive": naive.predict(horizon)}
        if "garch" in base_methods:
            results["garch"] = _layer_result(model, model.band_layer_, gauss, horizon)
        if "gjr" in base_methods:
            results["gjr"] = _layer_result(model, gjr, gauss, horizon)
        for k in range(min(horizon, e - i)):
            t = i + k + 1
            common = {"origin": dates[i], "target": dates[t], "step": k + 1,
                      "actual": values[t], "price": values[i], "scored": t >= s,
                      "naive": float(results["naive"].mean[k])}
            for method, res in results.items():
                rows.append({**common, "method": method, "mean": float(res.mean[k]),
                             "lo80": float(res.lo80[k]), "hi80": float(res.hi80[k]),
                             "lo95": float(res.lo95[k]), "hi95": float(res.hi95[k])})
    out = pd.DataFrame(rows)
    out["log"] = bool(model.log) if model is not None else True
    return out


def calibrate(rows: pd.DataFrame, gamma: float = conformal.ACI_GAMMA,
              window: int = CONFORMAL_WINDOW) -> pd.DataFrame:
    """Add ``<base>+aci`` and ``<base>+conformal`` rows for every base method of one replay,
    as they would have been issued live: the scales of a forecast made on day D use only
    the forecasts reconciled on or before D (their targets), in time order.

    ACI updates each step's level with every reconciled actual (the band *issued*, with its
    own scale, hit or missed); split conformal takes the conformal quantile of the last
    ``window`` normalised errors at that step (scale 1 until :data:`CONFORMAL_MIN`)."""
    log = bool(rows["log"].iloc[0])
    bases = [m for m in rows["method"].unique() if m != "naive"]
    out = [rows]
    for base in bases:
        r = rows[rows["method"] == base].sort_values(["origin", "step"]).reset_index(drop=True)
        w = np.log if log else (lambda x: x)
        m = w(r["mean"].to_numpy())
        a = w(r["actual"].to_numpy())
        up = a >= m
        half = {lv: np.where(up, w(r["hi" + lv].to_numpy()) - m, m - w(r["lo" + lv].to_numpy()))
                for lv in ("80", "95")}
        err = np.abs(a - m)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = {lv: np.where(half[lv] > 0, err / half[lv], np.where(err == 0, 0.0, np.inf))
                 for lv in ("80", "95")}
        steps = r["step"].to_numpy()
        horizon = int(steps.max())
        aci = conformal.AdaptiveConformal(horizon, gamma)
        hist: list[deque[tuple[float, float]]] = [deque(maxlen=window) for _ in range(horizon)]
        scale = {("aci", lv): np.ones(len(r)) for lv in ("80", "95")}
        scale |= {("conformal", lv): np.ones(len(r)) for lv in ("80", "95")}
        by_origin = r.groupby("origin", sort=True).indices
        by_target = r.groupby("target", sort=True).indices
        days = sorted(set(by_origin) | set(by_target))
        for day in days:
            for j in by_target.get(day, []):  # reconcile first: the actual of ``day`` is in
                k = int(steps[j])
                aci.observe(k, u["80"][j], u["95"][j], scale[("aci", "80")][j],
                            scale[("aci", "95")][j])
                hist[k - 1].append((u["80"][j], u["95"][j]))
            for j in by_origin.get(day, []):
                k = int(steps[j])
                scale[("aci", "80")][j], scale[("aci", "95")][j] = aci.scales(k)
                if len(hist[k - 1]) >= CONFORMAL_MIN:
                    h = np.array(hist[k - 1])
                    scale[("conformal", "80")][j] = min(
                        conformal.split_conformal_scale(h[:, 0], 0.80), 1e3)
                    scale[("conformal", "95")][j] = min(
                        conformal.split_conformal_scale(h[:, 1], 0.95), 1e3)
        for layer in ("aci", "conformal"):
            c = r.copy()
            c["method"] = f"{base}+{layer}"
            for lv in ("80", "95"):
                factor = scale[(layer, lv)]
                for side in ("lo", "hi"):
                    c[side + lv] = m + factor * (w(r[side + lv].to_numpy()) - m)
                    if log:
                        c[side + lv] = np.exp(c[side + lv])
            c["lo95"] = np.minimum(c["lo95"], c["lo80"])
            c["hi95"] = np.maximum(c["hi95"], c["hi80"])
            out.append(c)
    return pd.concat(out, ignore_index=True)


def score_rows(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Coverage 80/95, mean width (% of the origin price), interval score (% of price; the
    mean of the 80% and 95% scores in ``is``) and MAE ratio to naive, grouped by ``by``."""
    r = rows[rows["scored"]] if "scored" in rows else rows
    if r.empty:
        raise ValidationFailed("no reconciled forecasts to score")
    pct = 100.0 / r["price"]
    a = r["actual"]
    out = pd.DataFrame({k: r[k] for k in by})
    out["cov80"] = ((a >= r["lo80"]) & (a <= r["hi80"])).astype(float)
    out["cov95"] = ((a >= r["lo95"]) & (a <= r["hi95"])).astype(float)
    out["width80"] = (r["hi80"] - r["lo80"]) * pct
    out["width95"] = (r["hi95"] - r["lo95"]) * pct
    for level, alpha in (("80", 0.2), ("95", 0.05)):
        lo, hi = r["lo" + level], r["hi" + level]
        out["is" + level] = ((hi - lo) + (2 / alpha) * ((lo - a).clip(lower=0)
                                                        + (a - hi).clip(lower=0))) * pct
    out["ae"] = (a - r["mean"]).abs() * pct
    out["naive_ae"] = (a - r["naive"]).abs() * pct
    g = out.groupby(by, sort=False).mean()
    g["is"] = (g["is80"] + g["is95"]) / 2
    g["mae_ratio"] = g["ae"] / g["naive_ae"]
    g["n"] = out.groupby(by, sort=False).size()
    return g.drop(columns=["ae", "naive_ae"])


LEHMAN = pd.Timestamp("2008-09-15")


def drift_rows(rows: pd.DataFrame, by: list[str],
               streams: pd.DataFrame | None = None) -> pd.DataFrame:
    """When the drift detectors (``core.monitor.drift``, calibrated defaults) fired on each
    method's standardised errors, per ``by`` (which must hold series, method and step).

    Each (period, series, method, step) stream is the z of that step's forecasts, one per
    target date in target order (z from the 95% band, as the product reads its ledger),
    over the whole replay (warm-up included, as a live detector would have run); only
    events with a target inside the scored period count. Columns: ``drift`` (events of any
    kind), ``vol_first`` (date of the first volatility event), ``vol_delay`` (crisis: trading
    days from 2008-09-15 to the first volatility event on or after it, else NaN), then
    aggregated over the groups of ``by`` (events summed, first date the earliest, delay the
    worst series'; a series without an event after 2008-09-15 gives an infinite delay).
    ``streams`` is :func:`drift_streams` of ``rows`` when already computed."""
    frame = drift_streams(rows) if streams is None else streams
    return frame.groupby(by, sort=False).agg(drift=("drift", "sum"),
                                             vol_first=("vol_first", "min"),
                                             vol_delay=("vol_delay", "max"))


def drift_streams(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (period, series, method, step) stream: its drift events (see
    :func:`drift_rows`)."""
    from core.monitor import drift

    keys = ["period", "series", "method", "step"]
    have = [k for k in keys if k in rows.columns]
    out = []
    for key, g in rows.sort_values("target").groupby(have, sort=False):
        g = g.drop_duplicates("target")
        z = drift.standardised_errors(*(g[c].to_numpy(dtype=np.float64)
                                        for c in ("actual", "mean", "lo95", "hi95")))
        days = list(g["target"])
        scored = g["scored"].to_numpy() if "scored" in g else np.ones(len(g), dtype=bool)
        n_events = 0
        vol: list[int] = []
        for kind in drift.KINDS:
            points = [p for p in drift.detect_kind(z, days, kind) if scored[p.index]]
            n_events += len(points)
            if kind == "volatility":
                vol = [p.index for p in points]
        delay = np.nan
        target = pd.DatetimeIndex(g["target"])
        if target[0] <= LEHMAN <= target[-1]:
            start = int(target.searchsorted(LEHMAN))
            after = [i - start for i in vol if i >= start]
            delay = float(after[0]) if after else np.inf
        out.append({**dict(zip(have, key, strict=True)), "drift": n_events,
                    "vol_first": pd.Timestamp(days[vol[0]]) if vol else pd.NaT,
                    "vol_delay": delay})
    return pd.DataFrame(out)


@dataclass
class Evaluation:
    rows: pd.DataFrame
    seconds: dict[str, float]
    _streams: pd.DataFrame | None = None  # drift_streams(rows), computed on first use

    def _with_drift(self, by: list[str], one_step: bool = True) -> pd.DataFrame:
        if self._streams is None:
            self._streams = drift_streams(self.rows)
        streams = self._streams[self._streams["step"] == 1] if one_step else self._streams
        return score_rows(self.rows, by).join(drift_rows(self.rows, by, streams))

    def pooled(self) -> pd.DataFrame:
        """Scores per (period, method) and the drift events on the one-step errors (the
        stream the product's detectors watch)."""
        return self._with_drift(["period", "method"])

    def per_step(self) -> pd.DataFrame:
        """Scores per (period, method, step) and the drift events on that step's errors."""
        return self._with_drift(["period", "method", "step"], one_step=False)

    def per_series(self) -> pd.DataFrame:
        return self._with_drift(["period", "series", "method"])


def evaluate(cases: list[Case] | None = None, *, horizon: int = 5, train_days: int = 1000,
             warmup: int = 120, gamma: float = conformal.ACI_GAMMA,
             periods: tuple[str, ...] = ("crisis", "calm"),
             base_methods: tuple[str, ...] = DEFAULT_BASES,
             progress: Progress | None = None) -> Evaluation:
    """Replay every case's periods (default: the bundled series, 2008 and a calm year)."""
    cases = bundled_cases() if cases is None else cases
    jobs = [(c, p) for c in cases for p in c.periods if p.name in periods]
    frames, seconds = [], {}
    for n, (case, period) in enumerate(jobs):
        if progress:
            progress(n / len(jobs), f"{case.series} {period.name} {period.start}..{period.end}")
        started = time.perf_counter()
        try:
            base = replay_bands(case.y, period, horizon=horizon, train_days=train_days,
                                warmup=warmup, base_methods=base_methods)
        except (DataUnavailable, NotEnoughHistory) as exc:
            if progress:
                progress(n / len(jobs), f"skipped: {exc}")
            continue
        seconds[f"{case.series} {period.name}"] = time.perf_counter() - started
        rows = calibrate(base, gamma)
        rows.insert(0, "period", period.name)
        rows.insert(1, "series", case.series)
        frames.append(rows)
    if not frames:
        raise DataUnavailable("no series covers the evaluation periods")
    return Evaluation(pd.concat(frames, ignore_index=True), seconds)


REPORT_METHODS = ("naive", "gaussian", "garch", "garch+aci", "garch+conformal",
                  "gaussian+aci", "gaussian+conformal", "gjr", "gjr+aci", "gjr+conformal")
COLUMNS = ("cov80", "cov95", "width80", "width95", "is80", "is95", "is", "mae_ratio", "n",
           "drift", "vol_first", "vol_delay")


def _fmt_table(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    head = " ".join(f"{k:<18}" for k in keys) + "".join(
        f"{c:>11}" if c == "vol_first" else f"{c:>10}" for c in COLUMNS)
    lines = [head, "-" * len(head)]
    for idx, row in frame.iterrows():
        parts = idx if isinstance(idx, tuple) else (idx,)
        text = " ".join(f"{p!s:<18}" for p in parts)
        for c in COLUMNS:
            v = row.get(c, np.nan)
            if c in ("n", "drift"):
                text += f"{int(v):>10d}" if pd.notna(v) else f"{'':>10}"
            elif c == "vol_first":
                text += f"{v:%Y-%m-%d}".rjust(11) if pd.notna(v) else f"{'-':>11}"
            elif c == "vol_delay":
                text += (f"{'-':>10}" if pd.isna(v) else f"{'missed':>10}" if np.isinf(v)
                         else f"{int(v):>10d}")
            else:
                text += f"{v:>10.3f}"
        lines.append(text)
    return lines


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    methods = [m for m in REPORT_METHODS if m in frame.index.get_level_values("method")]
    keep = frame[frame.index.get_level_values("method").isin(methods)]
    rank = {m: i for i, m in enumerate(methods)}
    names = [str(n) for n in keep.index.names]
    flat = keep.reset_index()
    flat["_rank"] = flat["method"].map(rank)
    sort = [n for n in names if n != "method"][:1] + ["_rank"] + [n for n in names
                                                                   if n not in ("period",
                                                                                "method")]
    return flat.sort_values(sort, kind="stable").drop(columns="_rank").set_index(names)


def format_report(evaluation: Evaluation, per_step: bool = True,
                  per_series: bool = False) -> str:
    """The evaluation as text tables: pooled by period and method, then by step (and by
    series). Width and interval score are in % of the price at the forecast origin; ``is``
    is the mean of the 80% and 95% interval scores; ``mae_ratio`` is the point forecast's
    MAE over the naive forecast's MAE on the same days (not MASE); ``drift`` counts the
    detectors' events (all kinds) on the scored days, ``vol_first`` is the first
    volatility event and ``vol_delay`` (crisis) the trading days from 2008-09-15 to it
    (worst series when pooled); pooled and per-series on the one-step errors, per step on
    that step's."""
    out = ["Pooled over series (coverage share, width and interval score in % of price)"]
    out += _fmt_table(_order(evaluation.pooled()), ["period", "method"])
    pooled = evaluation.pooled()
    for period in pooled.index.get_level_values("period").unique():
        try:
            ref = pooled.loc[(period, "gaussian"), "is"]
        except KeyError:
            continue
        gains = [f"{m} {100 * (1 - pooled.loc[(period, m), 'is'] / ref):+.1f}%"
                 for m in REPORT_METHODS if (period, m) in pooled.index and m != "gaussian"]
        out.append(f"{period}: interval score vs today's gaussian bands (+ = better): "
                   + ", ".join(gains))
    if per_step:
        out += ["", "Per forecast step"]
        out += _fmt_table(_order(evaluation.per_step()), ["period", "method", "step"])
    if per_series:
        out += ["", "Per series"]
        out += _fmt_table(_order(evaluation.per_series()), ["period", "series", "method"])
    if evaluation.seconds:
        out += ["", "Replay time per series and period: " + ", ".join(
            f"{k} {v:.1f} s" for k, v in evaluation.seconds.items())]
    return "\n".join(out)

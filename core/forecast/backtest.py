"""Rolling-origin evaluation ("time-series cross-validation") of any forecaster, always
next to the naive baseline measured on the same folds.

Fold i (0-based, of ``folds``) trains on everything before origin_i and forecasts the next
``horizon`` trading days; the last fold ends at the last observation and origins are
``step`` days apart. ``refit`` decides how the model follows the origin: ``"every"`` fits
afresh at each fold, an integer k refits every k folds and updates in between, ``"update"``
fits once and then only updates (same order and params).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import NotEnoughHistory, ValidationFailed
from core.forecast import checks
from core.forecast import metrics as mx
from core.forecast.base import Forecaster
from core.forecast.baselines import Naive
from core.forecast.result import ForecastResult

Progress = Callable[[float, str], None]
METRICS = ("rmse", "mae", "mape", "smape", "mase", "coverage80", "coverage95", "direction")


@dataclass(frozen=True)
class FoldScore:
    """One fold's scores. ``mase`` divides the MAE by the training window's in-sample
    one-step naive MAE (``metrics.naive_scale``): over a horizon of h days it exceeds 1
    even for a model that beats naive, since h-day errors are set against one-day moves.
    ``mae_ratio`` is the MAE ratio to the naive forecast on the same fold: below 1 beats it.
    """

    fold: int
    origin: str  # last training date
    n_train: int
    rmse: float
    mae: float
    mae_ratio: float  # MAE / naive's MAE on this fold (1.0 for the naive itself)
    mape: float
    smape: float
    mase: float
    coverage80: float
    coverage95: float
    direction: float


@dataclass(frozen=True)
class BacktestReport:
    """Scores of a model and of the naive baseline on the same folds.

    ``summary``/``naive_summary`` average the fold scores; ``per_step``/``naive_per_step``
    give each metric by forecast step (1..horizon) across folds; ``folds_won`` counts the
    folds where the model's MAE ratio to naive is below 1 (its MAE below the naive's on
    the same targets; the same verdict as comparing their MASEs, which share a scale)."""

    model: str
    kind: str
    folds: int
    horizon: int
    step: int
    refit: str
    fold_scores: list[FoldScore]
    naive_scores: list[FoldScore]
    per_step: dict[str, list[float]]
    naive_per_step: dict[str, list[float]]
    summary: dict[str, float] = field(default_factory=dict)
    naive_summary: dict[str, float] = field(default_factory=dict)
    folds_won: int = 0
    # Band methods scored on the same folds (``band_scores``: method -> is80, is95, is,
    # coverage80, coverage95; naive beside them) and the one with the lowest mean interval
    # score at 80% and 95% (``band_method``; see ``choose_bands``).
    band_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    band_method: str | None = None

    @property
    def beats_naive_text(self) -> str:
        return f"beats naive on {self.folds_won} of {self.folds} folds"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (plain floats, ints, strings, lists): stored in the model registry.
        ``beats_naive`` is ``{"folds_won": N, "folds": M, "text": ...}``."""
        out = asdict(self)
        out["beats_naive"] = {"folds_won": self.folds_won, "folds": self.folds,
                              "text": self.beats_naive_text}
        return out

    def folds_frame(self) -> pd.DataFrame:
        """One row per fold: the model's scores and the naive's (``naive_`` prefix)."""
        model = pd.DataFrame([asdict(s) for s in self.fold_scores]).set_index("fold")
        naive = pd.DataFrame([asdict(s) for s in self.naive_scores]).set_index("fold")
        naive = naive[list(METRICS)].add_prefix("naive_")
        return model.join(naive)

    def steps_frame(self) -> pd.DataFrame:
        """One row per forecast step (1..horizon)."""
        idx = pd.RangeIndex(1, self.horizon + 1, name="step")
        model = pd.DataFrame(self.per_step, index=idx)
        naive = pd.DataFrame(self.naive_per_step, index=idx).add_prefix("naive_")
        return model.join(naive)


def _clone(f: Forecaster) -> Forecaster:
    return type(f)(**f.get_params())


def _origins(n: int, folds: int, horizon: int, step: int, need: int) -> list[int]:
    first = n - horizon - (folds - 1) * step
    if first < need:
        raise NotEnoughHistory(
            f"needs at least {need + horizon + (folds - 1) * step:,} trading days for "
            f"{folds} folds of {horizon} days {step} apart, {n:,} given"
        )
    return [first + i * step for i in range(folds)]


def _refit_plan(refit: str | int, folds: int) -> list[bool]:
    if refit == "every":
        return [True] * folds
    if refit == "update":
        return [i == 0 for i in range(folds)]
    if isinstance(refit, int) and not isinstance(refit, bool) and refit >= 1:
        return [i % refit == 0 for i in range(folds)]
    raise ValidationFailed(f"refit must be 'every', 'update' or a positive integer, got {refit!r}")


def _score(fold: int, y: pd.Series, origin: int, fc: ForecastResult,
           naive: ForecastResult) -> FoldScore:
    actual = y.to_numpy()[origin : origin + fc.horizon]
    train = y.to_numpy()[:origin]
    return FoldScore(
        fold=fold, origin=str(y.index[origin - 1].date()), n_train=origin,
        rmse=mx.rmse(actual, fc.mean), mae=mx.mae(actual, fc.mean),
        mae_ratio=mx.mae_ratio(actual, fc.mean, naive.mean),
        mape=mx.mape(actual, fc.mean), smape=mx.smape(actual, fc.mean),
        mase=mx.mase(actual, fc.mean, mx.naive_scale(train)),
        coverage80=mx.coverage(actual, fc.lo80, fc.hi80),
        coverage95=mx.coverage(actual, fc.lo95, fc.hi95),
        direction=mx.directional_accuracy(actual, fc.mean, float(train[-1])),
    )


def _per_step(y: pd.Series, origins: list[int], fcs: list[ForecastResult],
              naive: list[ForecastResult]) -> dict[str, list[float]]:
    """Each metric at each forecast step, computed across folds.

    Step k's MASE is the mean over folds of each fold's ``metrics.mase`` of its step-k
    error (each fold has its own training window, hence its own scale)."""
    v = y.to_numpy()
    h = fcs[0].horizon
    act = np.array([v[o : o + h] for o in origins])
    mean = np.array([f.mean for f in fcs])
    nmean = np.array([f.mean for f in naive])
    last = np.array([v[o - 1] for o in origins])[:, None]
    scales = [mx.naive_scale(v[:o]) for o in origins]
    err = np.abs(act - mean)
    mase = [float(np.mean([mx.mase(act[i, k:k + 1], mean[i, k:k + 1], scales[i])
                           for i in range(len(origins))])) for k in range(h)]
    den = np.abs(act) + np.abs(mean)
    sm = np.divide(2 * err, den, out=np.zeros_like(den), where=den > 0)
    lo80, hi80 = np.array([f.lo80 for f in fcs]), np.array([f.hi80 for f in fcs])
    lo95, hi95 = np.array([f.lo95 for f in fcs]), np.array([f.hi95 for f in fcs])
    out = {
        "rmse": np.sqrt(np.mean(err**2, axis=0)),
        "mae": err.mean(axis=0),
        "mape": 100 * (err / np.abs(act)).mean(axis=0),
        "smape": 100 * sm.mean(axis=0),
        "mae_ratio": [mx.mae_ratio(act[:, k], mean[:, k], nmean[:, k]) for k in range(h)],
        "mase": mase,
        "coverage80": ((act >= lo80) & (act <= hi80)).mean(axis=0),
        "coverage95": ((act >= lo95) & (act <= hi95)).mean(axis=0),
        "direction": (mx.move_sign(mean, last) == mx.move_sign(act, last)).mean(axis=0),
    }
    return {k: [float(x) for x in val] for k, val in out.items()}


def _mean_scores(scores: list[FoldScore]) -> dict[str, float]:
    out = {m: float(np.mean([getattr(s, m) for s in scores])) for m in METRICS}
    out["mae_ratio"] = float(np.mean([s.mae_ratio for s in scores]))
    return out


def _fit_predict(f: Forecaster, y: pd.Series, X: pd.DataFrame | None, origin: int,
                 horizon: int) -> ForecastResult:
    xs = None if X is None else X.iloc[:origin]
    return _clone(f).fit(y.iloc[:origin], xs).predict(horizon)


def _fit_candidates(f: Forecaster, y: pd.Series, X: pd.DataFrame | None, origin: int,
                    horizon: int) -> dict[str, ForecastResult]:
    xs = None if X is None else X.iloc[:origin]
    return band_candidates(_clone(f).fit(y.iloc[:origin], xs), horizon)


def band_candidates(model: Forecaster, horizon: int) -> dict[str, ForecastResult]:
    """The forecasts of every band method a fitted model can serve, on its one mean: its
    own layer (``band_base``, first) and, for a model with a GARCH layer, the Gaussian
    bands of the mean model's variance."""
    out = {model.band_base: model.predict(horizon)}
    if model.band_base != "gaussian" and getattr(model, "band_layer_", None) is not None:
        out["gaussian"] = model.predict_gaussian(horizon)
    return out


def band_score(actual: np.ndarray, fcs: list[ForecastResult]) -> dict[str, float]:
    """Interval score (Gneiting & Raftery, ``metrics.interval_score``) at 80% and 95%, their
    mean ``is`` and coverage, over folds; each fold's score in % of its first actual, so
    folds at different price levels weigh alike."""
    is80, is95, c80, c95 = [], [], [], []
    for a, f in zip(actual, fcs, strict=True):
        scale = 100.0 / float(a[0])
        is80.append(scale * mx.interval_score(a, f.lo80, f.hi80, 0.2))
        is95.append(scale * mx.interval_score(a, f.lo95, f.hi95, 0.05))
        c80.append(mx.coverage(a, f.lo80, f.hi80))
        c95.append(mx.coverage(a, f.lo95, f.hi95))
    out = {"is80": float(np.mean(is80)), "is95": float(np.mean(is95)),
           "coverage80": float(np.mean(c80)), "coverage95": float(np.mean(c95))}
    out["is"] = (out["is80"] + out["is95"]) / 2
    return out


def choose_bands(scores: dict[str, dict[str, float]]) -> str | None:
    """The band method with the lowest mean interval score at 80% and 95% (naive is a
    reference, not a candidate); None without candidates.

    >>> choose_bands({"garch": {"is": 3.0}, "gaussian": {"is": 3.5}, "naive": {"is": 1.0}})
    'garch'
    """
    candidates = {m: v["is"] for m, v in scores.items() if m != "naive"}
    return min(candidates, key=lambda m: candidates[m]) if candidates else None


# What a fresh worker process costs before its first fold: importing pandas, statsmodels
# and statsforecast and unpickling the task (measured 2.5-4 s here; the larger is used, so
# that the choice errs towards serial).
WORKER_START_SECONDS = 4.0
# Parallel must be predicted this much faster than serial to be chosen.
PARALLEL_MARGIN = 0.8


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def idle_cpus(cpus: int, load: float) -> int:
    """CPUs not busy with other work: ``cpus`` less the 1-minute load beyond this process
    (on a shared machine every core may already be taken, and workers then only queue)."""
    return max(1, math.floor(cpus - max(0.0, load - 1.0) + 1e-9))


def choose_workers(n_jobs: int, remaining: int, fold_seconds: float, cpus: int | None = None,
                   start_seconds: float = WORKER_START_SECONDS,
                   load: float | None = None) -> int:
    """Worker processes for ``remaining`` independent folds of ``fold_seconds`` each: 1
    (serial, in this process) unless the parallel estimate, a worker's start-up plus the
    folds shared among the workers, beats the serial one by ``PARALLEL_MARGIN``. Only idle
    CPUs count (``idle_cpus``: the usable CPUs less the machine's load).

    >>> choose_workers(2, 9, 0.5, cpus=2, load=1.0)   # 10 ARIMA folds: workers do not pay
    1
    >>> choose_workers(2, 9, 8.0, cpus=2, load=1.0)   # 10 LSTM folds: they do
    2
    >>> choose_workers(2, 9, 8.0, cpus=2, load=6.0)   # but not on a busy machine
    1
    """
    cpus = usable_cpus() if cpus is None else cpus
    load = os.getloadavg()[0] if load is None else load
    free = idle_cpus(cpus, load)
    workers = min(free if n_jobs < 0 else n_jobs, free, remaining)
    if workers < 2:
        return 1
    serial = remaining * fold_seconds
    parallel = start_seconds + math.ceil(remaining / workers) * fold_seconds
    return workers if parallel < PARALLEL_MARGIN * serial else 1


def rolling_forecasts(forecaster: Forecaster, y: pd.Series, X: pd.DataFrame | None,
                      origins: list[int], horizon: int, refit: str | int = "every",
                      progress: Progress | None = None, n_jobs: int = 1,
                      candidates: dict[str, list[ForecastResult]] | None = None,
                      ) -> list[ForecastResult]:
    """The forecast made at each origin under the refit policy (the model is cloned).

    ``candidates``, when given, is filled with every band method's forecast per fold
    (:func:`band_candidates`). With ``n_jobs`` != 1 and a refit at every fold, the first
    fold runs here and is timed; the rest run in worker processes only if
    :func:`choose_workers` predicts that pays (same forecasts either way: each fold is the
    same independent fit)."""
    plan = _refit_plan(refit, len(origins))
    if all(plan) and n_jobs != 1 and len(origins) > 1:
        if progress:
            progress(0.0, f"fold 1 of {len(origins)}")
        fit_one: Callable[..., Any] = _fit_predict if candidates is None else _fit_candidates
        started = time.perf_counter()
        per_fold: list[Any] = [fit_one(forecaster, y, X, origins[0], horizon)]
        workers = choose_workers(n_jobs, len(origins) - 1, time.perf_counter() - started)
        if workers > 1:
            from joblib import Parallel, delayed

            if progress:
                progress(1 / len(origins),
                         f"fitting {len(origins) - 1} folds in {workers} processes")
            per_fold += Parallel(n_jobs=workers)(
                delayed(fit_one)(forecaster, y, X, o, horizon) for o in origins[1:])
        else:
            for i, origin in enumerate(origins[1:], start=1):
                if progress:
                    progress(i / len(origins), f"fold {i + 1} of {len(origins)}")
                per_fold.append(fit_one(forecaster, y, X, origin, horizon))
        if candidates is None:
            return per_fold
        for per_method in per_fold:
            for method, fc in per_method.items():
                candidates.setdefault(method, []).append(fc)
        return [next(iter(per_method.values())) for per_method in per_fold]
    fcs: list[ForecastResult] = []
    model: Forecaster | None = None
    prev = 0
    for i, (origin, fresh) in enumerate(zip(origins, plan, strict=True)):
        if progress:
            progress(i / len(origins), f"fold {i + 1} of {len(origins)}")
        xs = None if X is None else X.iloc[:origin]
        if fresh or model is None:
            model = _clone(forecaster).fit(y.iloc[:origin], xs)
        else:
            new_x = None if X is None else X.iloc[prev:origin]
            model.update(y.iloc[prev:origin], new_x)
        prev = origin
        if candidates is None:
            fcs.append(model.predict(horizon))
            continue
        per_method = band_candidates(model, horizon)
        fcs.append(per_method[model.band_base])
        for method, fc in per_method.items():
            candidates.setdefault(method, []).append(fc)
    return fcs


def backtest(forecaster: Forecaster | Callable[[], Forecaster], y: pd.Series,
             X: pd.DataFrame | None = None,
             folds: int = 10, horizon: int = 30, step: int | None = None,
             refit: str | int = "every", progress: Progress | None = None,
             n_jobs: int = 1) -> BacktestReport:
    """Rolling-origin backtest of ``forecaster`` (left untouched: folds use clones; a
    zero-argument factory returning an unfitted forecaster is accepted too).

    ``n_jobs`` > 1 (or -1) allows fitting independent folds in parallel processes when
    ``refit="every"``; they are used only when they pay (:func:`choose_workers`).
    ``progress(fraction, text)`` is called as folds complete."""
    if not isinstance(forecaster, Forecaster):
        forecaster = forecaster()
    checks.check_series(y)
    horizon = checks.check_horizon(horizon)
    step = horizon if step is None else int(step)
    if folds < 1 or step < 1:
        raise ValidationFailed(f"folds and step must be >= 1, got folds={folds}, step={step}")
    origins = _origins(len(y), folds, horizon, step, forecaster.min_obs())
    candidates: dict[str, list[ForecastResult]] = {}
    fcs = rolling_forecasts(forecaster, y, X, origins, horizon, refit, progress, n_jobs,
                            candidates=candidates)
    naive = Naive(log=forecaster.log, exchange=forecaster.exchange)
    nfcs = rolling_forecasts(naive, y, None, origins, horizon, "every")
    values = y.to_numpy(dtype=np.float64)
    actual = np.array([values[o : o + horizon] for o in origins])
    # a method some fold could not serve (a GARCH fit that fell back) is not comparable
    band_scores = {m: band_score(actual, f) for m, f in candidates.items()
                   if len(f) == len(origins)}
    band_scores["naive"] = band_score(actual, nfcs)
    scores = [_score(i, y, o, f, n)
              for i, (o, f, n) in enumerate(zip(origins, fcs, nfcs, strict=True))]
    nscores = [_score(i, y, o, n, n)
               for i, (o, n) in enumerate(zip(origins, nfcs, strict=True))]
    if progress:
        progress(1.0, "done")
    return BacktestReport(
        model=forecaster.label,
        kind=forecaster.kind, folds=folds, horizon=horizon, step=step, refit=str(refit),
        fold_scores=scores, naive_scores=nscores,
        per_step=_per_step(y, origins, fcs, nfcs),
        naive_per_step=_per_step(y, origins, nfcs, nfcs),
        summary=_mean_scores(scores), naive_summary=_mean_scores(nscores),
        folds_won=sum(s.mae_ratio < 1.0 for s in scores),
        band_scores=band_scores, band_method=choose_bands(band_scores),
    )

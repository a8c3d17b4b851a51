"""Fit one model kind on many series in parallel: a process pool on this machine, or a
Dask cluster (``dask.distributed``).

Why: the weekly retrain of hundreds of symbols must not be one process fitting one series
after another. Each series is an independent, CPU-bound fit (order search + statsmodels
MLE), so the work is spread over worker processes, one series per task.

What travels: compact inputs (float64 prices, ``datetime64[D]`` dates, optional exogenous
matrix) go to the workers, and compact outputs come back: the forecaster's ``to_state``
dict (~40 KB), its order, AIC/BIC and label, or the error message. No fitted statsmodels
object is pickled in either direction. ``BatchResult.forecaster(symbol)`` rebuilds the
fitted model from its state (one Kalman filter at the fitted params, milliseconds).

Guarantees: results come back in input order whatever order the workers finish in; one
failing series (too short, constant, a fit that fails the sanity checks, even an
unexpected exception) is reported with its message and does not stop the others; fits are
deterministic (single-threaded BLAS inside every fit, the same code path as
``Forecaster.fit``), so a batch gives the same orders and parameters as sequential fits.

Backends:

* ``"local"``: joblib's loky process pool (spawn-safe, reused across calls) with one worker
  per core by default; ``n_workers=1`` fits in this process.
* ``"dask"``: ``distributed.Client(address)`` when an address is given (an existing
  scheduler, e.g. ``tcp://scheduler:8786``; its workers need this project and its
  requirements installed), otherwise a ``LocalCluster`` of ``n_workers`` single-threaded
  worker processes that lives for this call only.

Defaults come from the environment: ``BATCH_BACKEND`` (local|dask) and ``DASK_ADDRESS``.

Measured (an A/B run of 30 series x 1,000 days, warm pool, 2 cores):
statsforecast's own multi-series ``StatsForecast(...).fit`` for the order search followed
by a pooled statsmodels refit took 37.1 s and 36.8 s against 36.6 s and 35.2 s for one task
per series doing search + refit, with identical orders: the search is the same C++/scipy
code per series either way. The one-task-per-series plan is kept (one stage, the same on
Dask); ``search_many``/``refit_many`` keep the two-stage plan available for measurement.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.errors import CoreError, ValidationFailed
from core.forecast.checks import finite_or_none
from core.forecast.factory import KINDS, forecaster_from_state, make_forecaster

if TYPE_CHECKING:  # the CLI's parser imports this module for BACKENDS: keep it light
    from core.forecast.base import Forecaster

Progress = Callable[[float, str], None]
BACKENDS = ("local", "dask")
CONNECT_TIMEOUT = "10s"  # how long to wait for an existing Dask scheduler


def default_backend(env: Mapping[str, str] | None = None) -> str:
    """``BATCH_BACKEND`` from the environment (``local`` when unset)."""
    env = os.environ if env is None else env
    backend = (env.get("BATCH_BACKEND") or "local").strip().lower()
    if backend not in BACKENDS:
        raise ValidationFailed(f"BATCH_BACKEND must be one of {', '.join(BACKENDS)}, "
                               f"got {backend!r}")
    return backend


def default_address(env: Mapping[str, str] | None = None) -> str | None:
    """``DASK_ADDRESS`` from the environment (None: start a LocalCluster)."""
    env = os.environ if env is None else env
    return (env.get("DASK_ADDRESS") or "").strip() or None


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class SeriesInput:
    """One series as shipped to a worker: plain arrays, no pandas objects."""

    symbol: str
    values: np.ndarray  # float64 prices
    dates: np.ndarray  # datetime64[D]
    exog: np.ndarray | None = None  # float64 (n, k)
    exog_columns: tuple[str, ...] = ()

    @classmethod
    def of(cls, symbol: str, y: pd.Series, X: pd.DataFrame | None = None) -> SeriesInput:
        if not isinstance(y, pd.Series):
            raise ValidationFailed(f"{symbol}: expected a pandas Series of prices")
        try:
            dates = pd.DatetimeIndex(y.index).to_numpy().astype("datetime64[D]")
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(f"{symbol}: the series needs a date index ({exc})") from exc
        return cls(
            symbol=symbol,
            values=np.asarray(y.to_numpy(dtype=np.float64)),
            dates=dates,
            exog=None if X is None else np.asarray(X.to_numpy(dtype=np.float64)),
            exog_columns=() if X is None else tuple(str(c) for c in X.columns),
        )

    def series(self) -> tuple[pd.Series, pd.DataFrame | None]:
        index = pd.DatetimeIndex(self.dates.astype("datetime64[ns]"))
        y = pd.Series(self.values, index=index, name="close")
        X = None
        if self.exog is not None:
            X = pd.DataFrame(self.exog, index=index, columns=list(self.exog_columns))
        return y, X


@dataclass(frozen=True)
class SeriesResult:
    """The outcome of one series: its fitted state, or why it failed."""

    symbol: str
    ok: bool
    state: dict[str, Any] | None = None
    order: tuple[int, int, int] | None = None
    label: str | None = None
    aic: float | None = None
    bic: float | None = None
    fit_seconds: float = 0.0
    error: str | None = None

    def forecaster(self) -> Forecaster:
        """The fitted forecaster rebuilt from its state (raises if this series failed)."""
        if not self.ok or self.state is None:
            raise ValidationFailed(f"{self.symbol} has no fitted model: {self.error}")
        return forecaster_from_state(self.state)


@dataclass
class BatchResult:
    """Per-series results in input order, with how the batch ran."""

    results: list[SeriesResult]
    backend: str
    workers: int
    seconds: float
    address: str | None = None
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Any:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, symbol: str) -> SeriesResult:
        for r in self.results:
            if r.symbol == symbol:
                return r
        raise KeyError(symbol)

    @property
    def succeeded(self) -> list[SeriesResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[SeriesResult]:
        return [r for r in self.results if not r.ok]

    @property
    def series_per_second(self) -> float:
        return len(self.results) / self.seconds if self.seconds > 0 else float("nan")


def fit_one(item: SeriesInput, kind: str, options: dict[str, Any],
            preselected: Any = None) -> SeriesResult:
    """Fit one series (runs in a worker). Never raises: a failure becomes the result.

    ``preselected`` (auto_arima only) is an order search already done elsewhere
    (``search_many``); the statsmodels refit and its sanity checks still run here."""
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y, X = item.series()
            model = make_forecaster(kind, **options)
            if preselected is not None:
                model = _Preselected.wrap(model, preselected)
            model.fit(y, X)
            state = model.to_state()
            summary = model.summary()
    except CoreError as exc:
        return SeriesResult(item.symbol, False, fit_seconds=time.perf_counter() - started,
                            error=str(exc))
    except Exception as exc:  # one bad series must not stop the batch
        return SeriesResult(item.symbol, False, fit_seconds=time.perf_counter() - started,
                            error=f"{type(exc).__name__}: {exc}")
    order = summary.get("order")
    return SeriesResult(
        symbol=item.symbol, ok=True, state=state,
        order=tuple(int(x) for x in order) if order else None,  # type: ignore[arg-type]
        label=model.label, aic=finite_or_none(summary.get("aic")),
        bic=finite_or_none(summary.get("bic")),
        fit_seconds=time.perf_counter() - started,
    )


def _fit_chunk(items: Sequence[SeriesInput], kind: str, options: dict[str, Any],
               preselected: Sequence[Any] | None = None,
               parent: int | None = None) -> list[SeriesResult]:
    if parent is not None:
        die_with_parent(parent)
    pre = preselected if preselected is not None else [None] * len(items)
    return [fit_one(it, kind, options, p) for it, p in zip(items, pre, strict=True)]


class _Preselected:
    """Give an AutoARIMA an order search result computed elsewhere (the refit, its
    fallback and sanity checks are AutoARIMA's own code)."""

    @staticmethod
    def wrap(model: Forecaster, selection: Any) -> Forecaster:
        from core.forecast.arima import AutoARIMA

        if not isinstance(model, AutoARIMA):
            raise ValidationFailed("a preselected order applies to auto_arima only")

        def select(z: np.ndarray) -> Any:
            return selection

        model._select_statsforecast = select  # type: ignore[method-assign]
        model._select_pmdarima = select  # type: ignore[method-assign]
        return model


def _inputs(series: Mapping[str, pd.Series],
            exog: Mapping[str, pd.DataFrame | None] | None) -> list[SeriesInput | SeriesResult]:
    out: list[SeriesInput | SeriesResult] = []
    for symbol, y in series.items():
        try:
            out.append(SeriesInput.of(str(symbol), y, (exog or {}).get(symbol)))
        except CoreError as exc:
            out.append(SeriesResult(str(symbol), False, error=str(exc)))
    return out


def fit_many(
    series: Mapping[str, pd.Series],
    kind: str,
    options: Mapping[str, Any] | None = None,
    *,
    backend: str | None = None,
    address: str | None = None,
    n_workers: int | None = None,
    progress: Progress | None = None,
    exog: Mapping[str, pd.DataFrame | None] | None = None,
) -> BatchResult:
    """Fit ``kind`` with ``options`` on every series of ``series`` (symbol -> prices).

    ``backend`` is "local" (process pool on this machine) or "dask"; None reads
    ``BATCH_BACKEND``. For "dask", ``address`` (None reads ``DASK_ADDRESS``) names an
    existing scheduler; without one a LocalCluster of ``n_workers`` processes is started
    and closed again. ``n_workers`` defaults to the cores available. ``exog`` gives ARIMAX
    its regressors per symbol. ``progress(fraction, text)`` is called as series finish.
    """
    backend = default_backend() if backend is None else backend
    if backend not in BACKENDS:
        raise ValidationFailed(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if kind not in KINDS:
        raise ValidationFailed(f"unknown model {kind!r}; valid: {', '.join(KINDS)}")
    opts = dict(options or {})
    make_forecaster(kind, **opts)  # bad options fail here once, not once per series
    if n_workers is not None and n_workers < 1:
        raise ValidationFailed(f"n_workers must be >= 1, got {n_workers}")
    started = time.perf_counter()
    prepared = _inputs(series, exog)
    todo = [(i, p) for i, p in enumerate(prepared) if isinstance(p, SeriesInput)]
    results: list[SeriesResult | None] = [p if isinstance(p, SeriesResult) else None
                                          for p in prepared]
    total = max(len(prepared), 1)
    done = [len(prepared) - len(todo)]

    def record(index: int, result: SeriesResult) -> None:
        results[index] = result
        done[0] += 1
        if progress:
            what = result.label if result.ok else f"failed: {result.error}"
            progress(done[0] / total, f"{result.symbol}: {what} ({done[0]}/{total})")

    if backend == "dask":
        address = default_address() if address is None else address
        workers = _run_dask(todo, kind, opts, address, n_workers, record)
    else:
        workers = n_workers or cpu_count()
        _run_local(todo, kind, opts, workers, record)
    final = [r for r in results if r is not None]
    assert len(final) == len(prepared)
    return BatchResult(final, backend, workers, time.perf_counter() - started,
                       address=address if backend == "dask" else None)


Record = Callable[[int, SeriesResult], None]


def _run_local(todo: list[tuple[int, SeriesInput]], kind: str, options: dict[str, Any],
               workers: int, record: Record) -> None:
    if not todo:
        return
    workers = min(workers, len(todo))
    if workers == 1:
        for index, item in todo:
            record(index, fit_one(item, kind, options))
        return
    from joblib import Parallel, delayed

    # joblib's loky backend: spawn-safe worker processes, reused by later batches and by
    # parallel backtests (the same executor), results streamed as each series finishes.
    pending = dict(todo)
    try:
        stream = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")(
            delayed(_indexed_fit)(index, item, kind, options, os.getpid())
            for index, item in todo)
        for index, result in stream:
            pending.pop(index, None)
            record(index, result)
    except Exception as exc:  # a worker died: the series not finished are reported failed
        for index, item in pending.items():
            record(index, SeriesResult(item.symbol, False, error=f"worker failed: "
                                       f"{type(exc).__name__}: {exc}"))


_WATCHED: set[int] = set()


def die_with_parent(parent: int, *, every: float = 0.5) -> None:
    """In a pool worker: exit as soon as the process that started the batch is gone.

    loky keeps its workers for reuse and finishes a running fit even when the parent was
    killed with kill -9 (two ~290 MB workers stayed for over 9 minutes). A daemon thread
    checks every ``every`` seconds that ``parent`` (passed from the parent, so a parent
    that died before the first task is caught too) is still this worker's parent, and ends
    the worker otherwise. Once per worker process. (Not ``PR_SET_PDEATHSIG``: it fires when
    the parent *thread* that spawned the worker exits, and loky may spawn from a scheduler's
    or a page's short-lived thread, killing a reused worker whose parent is alive.)"""
    if parent in _WATCHED or os.getpid() == parent:
        return
    _WATCHED.add(parent)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                os._exit(1)  # orphaned: nobody will read this result

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _indexed_fit(index: int, item: SeriesInput, kind: str,
                 options: dict[str, Any], parent: int | None = None) -> tuple[int, SeriesResult]:
    if parent is not None:
        die_with_parent(parent)
    return index, fit_one(item, kind, options)


def _result_of(future: Any, item: SeriesInput) -> SeriesResult:
    """A finished future's result; a lost worker or a transport error is that series'
    failure, not the batch's."""
    try:
        result = future.result()
    except Exception as exc:
        return SeriesResult(item.symbol, False, error=f"worker failed: {type(exc).__name__}: "
                                                      f"{exc}")
    assert isinstance(result, SeriesResult)
    return result


def _run_dask(todo: list[tuple[int, SeriesInput]], kind: str, options: dict[str, Any],
              address: str | None, n_workers: int | None, record: Record) -> int:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - distributed is a runtime dependency
        raise ValidationFailed(f"the dask backend needs dask.distributed: {exc}") from exc
    cluster = None
    try:
        if address:
            client = Client(address, timeout=CONNECT_TIMEOUT)
        else:
            cluster = LocalCluster(n_workers=n_workers or min(cpu_count(), max(len(todo), 1)),
                                   threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise ValidationFailed(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        if not todo:
            return workers
        # One task per series; pure=False so identical inputs under two symbols still
        # get two tasks.
        futures = [client.submit(fit_one, item, kind, options, pure=False)
                   for _, item in todo]
        where = {f.key: entry for f, entry in zip(futures, todo, strict=True)}
        for future in as_completed(futures):
            index, item = where[future.key]
            record(index, _result_of(future, item))
        return workers
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ------------------------------------------------------------------- measured alternative
def search_many(series: Mapping[str, pd.Series], options: Mapping[str, Any] | None = None,
                *, n_jobs: int = 1) -> dict[str, Any]:
    """statsforecast's multi-series order search (``StatsForecast(models=[AutoARIMA])``)
    over every series at once: symbol -> (order, seasonal_order, trend, start) in the
    form AutoARIMA's refit takes. Measured in bench/batch.py against ``fit_many``."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA as SFAutoARIMA

    from core.forecast.arima import AutoARIMA, parse_statsforecast

    proto = AutoARIMA(**dict(options or {}))
    groups: dict[bool, list[str]] = {}
    for symbol, y in series.items():
        groups.setdefault(proto._approx(len(y)), []).append(symbol)
    out: dict[str, Any] = {}
    for approx, symbols in groups.items():
        frame = pd.concat([
            pd.DataFrame({"unique_id": s, "ds": np.arange(len(series[s])),
                          "y": proto._to_work(series[s].to_numpy(dtype=np.float64))})
            for s in symbols
        ])
        model = SFAutoARIMA(max_p=proto.max_p, max_q=proto.max_q, max_d=proto.max_d,
                            seasonal=proto.seasonal, season_length=proto.season_length,
                            ic=proto.information_criterion, approximation=approx)
        engine = StatsForecast(models=[model], freq=1, n_jobs=n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            engine.fit(frame)
        for uid, fitted in zip(engine.uids, engine.fitted_[:, 0], strict=True):
            out[str(uid)] = parse_statsforecast(fitted.model_)
    return out


def refit_many(series: Mapping[str, pd.Series], selections: Mapping[str, Any],
               options: Mapping[str, Any] | None = None, *,
               n_workers: int | None = None) -> list[SeriesResult]:
    """The statsmodels refit (with AutoARIMA's fallback and sanity checks) of orders
    found by ``search_many``, in a local process pool; input order."""
    opts = dict(options or {})
    items = [SeriesInput.of(s, y) for s, y in series.items()]
    workers = min(n_workers or cpu_count(), max(len(items), 1))
    chunks = [items[i::workers] for i in range(workers)]
    if workers == 1:
        return _fit_chunk(items, "auto_arima", opts, [selections[i.symbol] for i in items])
    from joblib import Parallel, delayed

    out = Parallel(n_jobs=workers, backend="loky")(
        delayed(_fit_chunk)(c, "auto_arima", opts, [selections[i.symbol] for i in c],
                            os.getpid())
        for c in chunks)
    by_symbol = {r.symbol: r for chunk in out for r in chunk}
    return [by_symbol[i.symbol] for i in items]

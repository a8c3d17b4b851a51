"""Use case: the weekly retrain of many symbols at once, fitted in parallel.

Why: ``lifecycle.retrain`` handles one symbol end to end (fit, 5-fold backtest, gate
against the champion). For hundreds of watched symbols that is hours of one process; here
the fits run in parallel through ``batch.fit_many`` (a local process pool or a Dask
cluster) and each result is saved as a challenger.

What it does per symbol, like ``lifecycle.retrain``: the champion's stored spec (kind,
options, adjustment, outlier policy) and window length, ending at the newest stored day;
a symbol without a champion gets the default auto-ARIMA, which becomes its first champion.
No backtest runs here (the saved row has ``backtest`` None): the promotion gate
(``lifecycle.gate``) backtests challenger and champion on the same folds when someone
promotes, so the batch pays only for fits. One symbol's failure (no data, too short, a
failed fit, a failed save) is reported in its outcome and does not stop the others.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from core.auth import Actor, require_analyst
from core.db.engine import Database
from core.db.models import ModelVersion
from core.errors import CoreError
from core.forecast import registry
from core.forecast.batch import fit_many
from core.forecast.factory import forecaster_from_state
from core.forecast.lifecycle import DEFAULT_RETRAIN, request_from, unchanged_message
from core.forecast.service import (
    FitRequest,
    FittedModel,
    Progress,
    TrainingData,
    _noop,
    exog_columns,
    save_model,
    training_data,
)
from core.settings import Settings
from core.symbols import check_symbols


def _request_for(db: Database, symbol: str) -> tuple[FitRequest, ModelVersion | None]:
    """What to fit for ``symbol`` and its champion (None: no champion)."""
    with db.read() as session:
        current = registry.champion(session, symbol)
    if current is None:
        request = FitRequest(symbol=symbol, kind=DEFAULT_RETRAIN.kind,
                             options=dict(DEFAULT_RETRAIN.options), folds=0)
        return request, None
    return replace(request_from(current, start=None, end=None), folds=0), current


def _window(data: TrainingData, n_obs: int | None) -> TrainingData:
    if n_obs is None or len(data.y) <= n_obs:
        return data
    X = data.X.iloc[-n_obs:] if data.X is not None else None
    return TrainingData(bars=data.bars, y=data.y.iloc[-n_obs:], X=X)


def retrain_many(
    db: Database,
    settings: Settings,
    symbols: list[str] | str,
    actor: Actor,
    *,
    backend: str | None = None,
    address: str | None = None,
    n_workers: int | None = None,
    progress: Progress = _noop,
    force: bool = False,
) -> dict[str, Any]:
    """Refit every symbol's model on its latest data in parallel and save challengers.

    Returns ``{"backend", "workers", "seconds", "saved", "failed", "symbols": {symbol:
    outcome}}`` with symbols in the order given; an outcome is ``{"status": "saved",
    "version_id", "role", "model", "order", "aic", "fit_seconds"}`` or ``{"status":
    "failed", "error"}``. ``backend``/``address`` as in ``batch.fit_many`` (None reads
    ``BATCH_BACKEND``/``DASK_ADDRESS``). A symbol with no bar newer than its champion's
    training end is not refitted (``{"status": "unchanged", "message"}``) unless ``force``.
    """
    require_analyst(actor, "retrain models")
    names = check_symbols(symbols)
    outcomes: dict[str, dict[str, Any]] = {s: {} for s in names}
    prepared: dict[str, tuple[FitRequest, TrainingData]] = {}
    progress(0.0, f"Loading {len(names)} symbol(s)")
    for symbol in names:
        try:
            request, current = _request_for(db, symbol)
            data = training_data(
                db, settings, symbol, start=None, end=None, adjust=request.adjust,
                outlier_policy=request.outlier_policy, columns=exog_columns(request.options),
            )
            if (current is not None and not force
                    and data.y.index[-1].date() <= current.train_end):
                outcomes[symbol] = {"status": "unchanged", "message": unchanged_message(current)}
                continue
            prepared[symbol] = (request, _window(data, current.n_obs if current else None))
        except CoreError as exc:
            outcomes[symbol] = {"status": "failed", "error": str(exc)}

    # fit_many fits one kind with one set of options: group symbols that share them.
    groups: dict[str, list[str]] = {}
    for symbol, (request, _) in prepared.items():
        key = json.dumps([request.kind, request.options], sort_keys=True, default=str)
        groups.setdefault(key, []).append(symbol)
    done = 0
    total = max(len(prepared), 1)
    workers = 0
    seconds = 0.0
    used_backend = backend
    for members in groups.values():
        request0 = prepared[members[0]][0]

        def on_fit(fraction: float, message: str, _n: int = len(members),
                   _done: int = done) -> None:
            progress(0.05 + 0.8 * (_done + fraction * _n) / total, message)

        batch = fit_many(
            {s: prepared[s][1].y for s in members}, request0.kind,
            {**request0.options, "exchange": settings.exchange},
            backend=backend, address=address, n_workers=n_workers, progress=on_fit,
            exog={s: prepared[s][1].X for s in members},
        )
        done += len(members)
        workers = max(workers, batch.workers)
        seconds += batch.seconds
        used_backend = batch.backend
        for result in batch:
            request, data = prepared[result.symbol]
            if not result.ok or result.state is None:
                outcomes[result.symbol] = {"status": "failed", "error": result.error}
                continue
            try:
                fitted = FittedModel(request, forecaster_from_state(result.state), data,
                                     result.fit_seconds, None)
                version = save_model(db, settings, fitted, actor)
            except CoreError as exc:
                outcomes[result.symbol] = {"status": "failed", "error": f"save: {exc}"}
                continue
            outcomes[result.symbol] = {
                "status": "saved", "version_id": version.id, "role": version.role,
                "model": result.label, "order": list(result.order or ()),
                "aic": result.aic, "fit_seconds": round(result.fit_seconds, 3),
            }
    saved = sum(o.get("status") == "saved" for o in outcomes.values())
    unchanged = sum(o.get("status") == "unchanged" for o in outcomes.values())
    progress(1.0, f"Retrained {saved} of {len(names)} symbol(s)")
    return {
        "backend": used_backend or "local",
        "workers": workers,
        "seconds": round(seconds, 3),
        "saved": saved,
        "unchanged": unchanged,
        "failed": len(names) - saved - unchanged,
        "symbols": outcomes,
    }

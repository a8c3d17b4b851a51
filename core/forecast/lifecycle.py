"""Champion/challenger lifecycle: retrain, the promotion gate, promote, roll back.

Promotion is gated by default: a challenger must not be worse than the champion on the
same backtest folds (same forecast origins and horizon). An analyst may override the
gate; the override and its reason are recorded with the promotion. An override is one
decision for one version: it names the version it was given for, and a reason given for
another version is refused.

Every change of champion (promote, rollback) runs in a transaction that holds the symbol's
registry lock (``Database.locked``) and checks that the champion is still the one the
decision was made against; a concurrent writer that got there first makes the later one
fail with ``Conflict`` (and the database's one-champion index backs this up).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from core.auth import Actor, require_analyst
from core.db.engine import Database
from core.db.models import ModelVersion
from core.errors import Conflict, ModelNotFound, ValidationFailed
from core.forecast import registry
from core.forecast.backtest import backtest
from core.forecast.factory import forecaster_from_state, make_forecaster
from core.forecast.service import (
    FitRequest,
    Progress,
    _noop,
    exog_columns,
    fit_model,
    save_model,
    training_data,
)
from core.settings import Settings
from core.symbols import check_symbol

GATE_METRIC = "rmse"
DEFAULT_RETRAIN = FitRequest(symbol="", kind="auto_arima",
                             options={"engine": "statsforecast", "log": True})


@dataclass(frozen=True)
class GateResult:
    passed: bool
    metric: str
    challenger: float
    champion: float
    folds: int
    horizon: int
    origins: list[str]
    challenger_id: int | None = None
    champion_id: int | None = None
    # The metric on each fold (same origins, same order), so a verdict can be checked.
    challenger_folds: list[float] = field(default_factory=list)
    champion_folds: list[float] = field(default_factory=list)
    # Same data and same model: the comparison cannot tell them apart.
    identical: bool = False

    @property
    def text(self) -> str:
        verdict = "not worse than" if self.passed else "worse than"
        text = (
            f"challenger {self.metric.upper()} {self.challenger:.4g} vs champion "
            f"{self.champion:.4g} on the same {self.folds} folds (h={self.horizon}): {verdict} "
            "the champion"
        )
        if self.identical:
            text += " (the challenger is the same model on the same data as the champion)"
        return text

    def fold_table(self) -> list[dict[str, Any]]:
        """One row per fold: origin, each side's metric and the difference."""
        return [
            {"fold": i + 1, "origin": origin, f"challenger {self.metric}": ch,
             f"champion {self.metric}": cp, "difference": ch - cp}
            for i, (origin, ch, cp) in enumerate(
                zip(self.origins, self.challenger_folds, self.champion_folds, strict=False))
        ]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text}


def request_from(version: ModelVersion, **overrides: Any) -> FitRequest:
    """The request that would fit ``version``'s model again (its stored spec)."""
    spec = version.spec or {}
    values: dict[str, Any] = {
        "symbol": version.symbol,
        "kind": version.kind,
        "options": dict(spec.get("options", {})),
        "start": version.train_start,
        "end": version.train_end,
        "adjust": spec.get("adjust", "split"),
        "outlier_policy": spec.get("outlier_policy", "use"),
        "folds": int(spec.get("folds", 5) or 5),
        "horizon": int(spec.get("horizon", 5) or 5),
        "step": spec.get("step"),
    }
    values.update(overrides)
    return FitRequest(**values)


def _origins(report: dict[str, Any] | None) -> list[str]:
    return [str(f["origin"]) for f in (report or {}).get("fold_scores", [])]


def _fold_values(report: dict[str, Any]) -> list[float]:
    return [float(f[GATE_METRIC]) for f in report.get("fold_scores", [])]


def _same_model(challenger: ModelVersion, champion: ModelVersion) -> bool:
    """Same data, same kind and options, same chosen order: one model saved twice."""
    a, b = challenger.spec or {}, champion.spec or {}
    return (
        challenger.data_fingerprint == champion.data_fingerprint
        and challenger.kind == champion.kind
        and a.get("options") == b.get("options")
        and a.get("order") == b.get("order")
    )


def _as_fitted(champion: ModelVersion, request: FitRequest) -> FitRequest:
    """The champion as the model it is, not the recipe that found it.

    Re-running an auto-ARIMA champion's *recipe* on the challenger's window searches the
    order again on the same data as the challenger's own backtest: a retrained auto-ARIMA
    challenger and its champion were then the same procedure on the same folds, and the
    gate reported the same RMSE for both to every decimal. The champion is compared with
    the order (and constant) it actually chose, refitted on each fold.
    """
    if champion.kind != "auto_arima":
        return request
    try:
        fitted = forecaster_from_state(registry.load_state(champion).state)
    except Exception:  # an unreadable artifact: fall back to the recipe
        return request
    order = getattr(fitted, "order_", None)
    seasonal = getattr(fitted, "seasonal_order_", None)
    if order is None or (seasonal is not None and any(seasonal[:3])):
        return request
    trend = str(getattr(fitted, "trend_", "n"))
    options = {"order": [int(x) for x in order], "log": bool(request.options.get("log", True)),
               "with_constant": trend in ("c", "t") and int(order[1]) <= 1}
    return replace(request, kind="arima", options=options)


def _backtest_on(
    db: Database, settings: Settings, request: FitRequest, progress: Progress
) -> dict[str, Any]:
    data = training_data(
        db, settings, request.symbol, start=request.start, end=request.end,
        adjust=request.adjust, outlier_policy=request.outlier_policy,
        columns=exog_columns(request.options),
    )
    report = backtest(
        lambda: make_forecaster(request.kind, exchange=settings.exchange, **request.options),
        data.y, data.X, folds=request.folds, horizon=request.horizon, step=request.step,
        refit="every", progress=progress,
    )
    return report.to_dict()


def gate(
    db: Database,
    settings: Settings,
    challenger: ModelVersion,
    champion: ModelVersion,
    *,
    progress: Progress = _noop,
) -> GateResult:
    """Compare both models on identical folds: reuse stored backtests when their origins
    and horizon match, otherwise backtest both again on the challenger's window (the
    champion with the order it chose, see ``_as_fitted``)."""
    ch = challenger.backtest
    cp = champion.backtest
    same = (
        ch is not None and cp is not None and _origins(ch) == _origins(cp)
        and ch.get("horizon") == cp.get("horizon") and _origins(ch)
        and ch.get("step") == cp.get("step")
    )
    if not same:
        window = {"start": challenger.train_start, "end": challenger.train_end}
        base = request_from(challenger, **window)
        progress(0.1, "Backtesting the challenger on the comparison folds")
        ch = ch if ch is not None and _origins(ch) else _backtest_on(db, settings, base, progress)
        progress(0.5, "Backtesting the champion on the same folds")
        champion_request = _as_fitted(champion, request_from(
            champion, **window, folds=base.folds, horizon=base.horizon, step=base.step
        ))
        cp = _backtest_on(db, settings, champion_request, progress)
        if _origins(ch) != _origins(cp):
            ch = _backtest_on(db, settings, base, progress)
    assert ch is not None and cp is not None
    ch_value = float(ch["summary"][GATE_METRIC])
    cp_value = float(cp["summary"][GATE_METRIC])
    return GateResult(
        passed=ch_value <= cp_value * (1 + 1e-9),
        metric=GATE_METRIC,
        challenger=ch_value,
        champion=cp_value,
        folds=int(ch["folds"]),
        horizon=int(ch["horizon"]),
        origins=_origins(ch),
        challenger_id=challenger.id,
        champion_id=champion.id,
        challenger_folds=_fold_values(ch),
        champion_folds=_fold_values(cp),
        identical=_same_model(challenger, champion),
    )


def gate_for(
    db: Database, settings: Settings, version_id: int, *, progress: Progress = _noop
) -> GateResult | None:
    """The gate's verdict for promoting ``version_id`` now (None: the symbol has no
    champion, so nothing to compare with). Pages show this before asking to confirm."""
    with db.read() as session:
        version = registry.get_version(session, version_id)
        current = registry.champion(session, version.symbol)
    if current is None or current.id == version.id:
        return None
    return gate(db, settings, version, current, progress=progress)


@dataclass
class PromoteOutcome:
    version: ModelVersion
    previous: ModelVersion | None
    gate: GateResult | None
    overridden: bool


def _crown(
    db: Database,
    symbol: str,
    version_id: int,
    *,
    expected_champion: int | None,
    action: str,
    actor: Actor,
    gate_passed: bool | None,
    note: str,
    result: GateResult | None = None,
) -> tuple[ModelVersion, ModelVersion | None]:
    """Make ``version_id`` the champion under the symbol's registry lock, if the champion
    is still ``expected_champion`` (the one the decision was made against)."""
    with db.locked(registry.lock_scope(symbol)) as session:
        now = registry.champion(session, symbol)
        now_id = now.id if now is not None else None
        if now_id != expected_champion:
            was = f"model {expected_champion}" if expected_champion else "no champion"
            became = f"model {now_id}" if now_id else "none"
            raise Conflict(
                f"the champion of {symbol} changed while this {action} was being decided "
                f"(it was {was}, it is now {became}, changed by another user or job); "
                "nothing was changed: review the new state and decide again"
            )
        fresh = registry.get_version(session, version_id)
        previous = registry.set_champion(
            session, fresh, action=action, created_by=actor.name,
            gate_passed=gate_passed, note=note,
        )
        if result is not None:
            fresh.backtest = {**(fresh.backtest or {}), "gate": result.to_dict()}
        return fresh, previous


def promote(
    db: Database,
    settings: Settings,
    version_id: int,
    actor: Actor,
    *,
    override_reason: str | None = None,
    override_for: int | None = None,
    verdict: GateResult | None = None,
    progress: Progress = _noop,
) -> PromoteOutcome:
    """Make a saved version the champion, if it passes the gate (or with a recorded override).

    ``override_reason`` overrides a failed gate for one version only: ``override_for``
    must name ``version_id`` (the version whose verdict the analyst saw), so a reason given
    for one challenger can never promote another. ``verdict`` is the gate result the
    analyst confirmed (``gate_for``); it is reused when it is for this version against the
    current champion, otherwise the gate runs again. Raises ``Conflict`` when the champion
    changed while the decision was made.
    """
    require_analyst(actor, "promote a model")
    reason = (override_reason or "").strip()
    if reason and override_for != version_id:
        given = f"model {override_for}" if override_for is not None else "no model"
        raise ValidationFailed(
            f"this override reason was given for {given}, not model {version_id}; an override "
            f"is one decision for one version: review model {version_id}'s gate verdict and "
            "give a reason for it"
        )
    with db.read() as session:
        version = registry.get_version(session, version_id)
        current = registry.champion(session, version.symbol)
    if current is not None and current.id == version.id:
        raise ValidationFailed(f"model {version.id} is already the champion of {version.symbol}")
    if version.role == "draft":
        raise ValidationFailed(
            f"model {version.id} is an unsaved draft; save it as a challenger before promoting it"
        )
    result: GateResult | None = None
    if current is not None:
        reusable = (verdict is not None and verdict.challenger_id == version.id
                    and verdict.champion_id == current.id)
        result = verdict if reusable else gate(db, settings, version, current, progress=progress)
    overridden = False
    note = "no champion before"
    if result is not None:
        note = result.text
        if not result.passed:
            if not reason:
                raise ValidationFailed(
                    f"promotion refused: {result.text}. An analyst can override the gate by "
                    "giving a reason"
                )
            overridden = True
            note = f"{result.text}; overridden by {actor.name}: {reason}"
    fresh, previous = _crown(
        db, version.symbol, version_id, expected_champion=current.id if current else None,
        action="promote", actor=actor, gate_passed=None if result is None else result.passed,
        note=note, result=result,
    )
    return PromoteOutcome(fresh, previous, result, overridden)


def rollback_candidates(db: Database, symbol: str) -> list[ModelVersion]:
    """Earlier champions that can be restored, most recently crowned first."""
    symbol = check_symbol(symbol)
    with db.read() as session:
        return registry.champion_history(session, symbol)


def rollback(
    db: Database,
    symbol: str,
    actor: Actor,
    *,
    to_version_id: int | None = None,
    reason: str | None = None,
    expected_champion_id: int | None = None,
) -> ModelVersion:
    """Bring back an earlier champion (``to_version_id``; by default the one before the
    current champion); history keeps both.

    Only a version that was champion before can be restored. ``expected_champion_id`` is
    the champion the analyst saw when choosing (a page passes it): if another change came
    first, ``Conflict``. Rolling back is not a toggle: pressing it again does not bring back
    the model that was just replaced unless it is chosen from the history.
    """
    require_analyst(actor, "roll back a model")
    symbol = check_symbol(symbol)
    with db.read() as session:
        current = registry.champion(session, symbol)
        if current is None:
            raise ModelNotFound(f"{symbol} has no champion model to roll back from")
        history = registry.champion_history(session, symbol)
        if to_version_id is None:
            target = registry.previous_champion(session, symbol)
        else:
            target = registry.get_version(session, to_version_id)
    if expected_champion_id is not None and expected_champion_id != current.id:
        raise Conflict(
            f"the champion of {symbol} is now model {current.id}, not model "
            f"{expected_champion_id}; nothing was changed: review and choose again"
        )
    if target.symbol != symbol:
        raise ValidationFailed(f"model {target.id} belongs to {target.symbol}, not {symbol}")
    if target.id == current.id:
        raise ValidationFailed(f"model {target.id} is already the champion of {symbol}")
    if all(v.id != target.id for v in history):
        valid = ", ".join(str(v.id) for v in history) or "none"
        raise ValidationFailed(
            f"model {target.id} was never champion of {symbol}; roll back to an earlier "
            f"champion ({valid}) or promote it through the gate"
        )
    note = reason or f"rolled back from model {current.id} to model {target.id}"
    fresh, _ = _crown(db, symbol, target.id, expected_champion=current.id, action="rollback",
                      actor=actor, gate_passed=None, note=note)
    return fresh


def unchanged_message(champion: ModelVersion) -> str:
    return (
        f"no new data since the champion's training end ({champion.train_end}): a retrain "
        f"would fit model {champion.id} again; nothing was saved (force it to retrain anyway)"
    )


def retrain(
    db: Database,
    settings: Settings,
    symbol: str,
    actor: Actor,
    *,
    progress: Progress = _noop,
    auto_promote: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Fit the champion's model again on the latest data (full order search for auto-ARIMA),
    save it as a challenger and compare it with the champion on the same folds.

    With ``auto_promote`` (the scheduled weekly retrain) a challenger that passes the gate
    becomes champion; otherwise the analyst decides. When no bar is newer than the
    champion's training end the refit would be the champion again: nothing is saved and the
    outcome says so (``"unchanged": True``), unless ``force``.
    """
    require_analyst(actor, "retrain a model")
    symbol = check_symbol(symbol)
    with db.read() as session:
        current = registry.champion(session, symbol)
    if current is not None:
        # Same window length as the champion's, ending at the newest stored day.
        request = request_from(current, start=None, end=None)
    else:
        request = FitRequest(symbol=symbol, kind=DEFAULT_RETRAIN.kind,
                             options=dict(DEFAULT_RETRAIN.options))

    def fit_progress(fraction: float, message: str) -> None:
        progress(0.05 + 0.6 * fraction, message)

    if current is not None:
        data = training_data(
            db, settings, symbol, start=None, end=None, adjust=request.adjust,
            outlier_policy=request.outlier_policy, columns=[],
        )
        last = data.y.index[-1].date()
        if last <= current.train_end and not force:
            message = unchanged_message(current)
            progress(1.0, message)
            return {"unchanged": True, "message": message, "champion_id": current.id,
                    "challenger_id": None, "promoted": False}
        start_index = max(0, len(data.y) - current.n_obs)
        start = data.y.index[start_index].date()
        request = replace(request, start=start)
    fitted = fit_model(db, settings, request, progress=fit_progress)
    progress(0.7, "Saving the challenger")
    challenger = save_model(db, settings, fitted, actor)
    outcome: dict[str, Any] = {
        "challenger_id": challenger.id,
        "challenger": (challenger.spec or {}).get("label", challenger.kind),
        "champion_id": current.id if current else challenger.id,
        "promoted": current is None,
    }
    if current is not None:
        def gate_progress(fraction: float, message: str) -> None:
            progress(0.75 + 0.2 * fraction, message)

        result = gate(db, settings, challenger, current, progress=gate_progress)
        with db.begin() as session:
            row = registry.get_version(session, challenger.id)
            row.backtest = {**(row.backtest or {}), "gate": result.to_dict()}
        outcome["gate"] = result.to_dict()
        if auto_promote and result.passed:
            promote(db, settings, challenger.id, actor)
            outcome["promoted"] = True
    progress(1.0, "Retrain finished")
    return outcome

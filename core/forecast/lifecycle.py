"""Champion/challenger lifecycle: retrain, the promotion gate, promote, roll back.

Promotion is gated by default: a challenger must not be worse than the champion on the
same backtest folds (same forecast origins and horizon). An analyst may override the
gate; the override and its reason are recorded with the promotion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from core.auth import Actor, require_analyst
from core.db.engine import Database
from core.db.models import ModelVersion
from core.errors import ValidationFailed
from core.forecast import registry
from core.forecast.backtest import backtest
from core.forecast.factory import make_forecaster
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

    @property
    def text(self) -> str:
        verdict = "not worse than" if self.passed else "worse than"
        return (
            f"challenger {self.metric.upper()} {self.challenger:.4g} vs champion "
            f"{self.champion:.4g} on the same {self.folds} folds (h={self.horizon}): {verdict} "
            "the champion"
        )

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
    and horizon match, otherwise backtest both again on the challenger's window."""
    ch = challenger.backtest
    cp = champion.backtest
    same = (
        ch is not None and cp is not None and _origins(ch) == _origins(cp)
        and ch.get("horizon") == cp.get("horizon") and _origins(ch)
    )
    if not same:
        window = {"start": challenger.train_start, "end": challenger.train_end}
        base = request_from(challenger, **window)
        progress(0.1, "Backtesting the challenger on the comparison folds")
        ch = ch if ch is not None and _origins(ch) else _backtest_on(db, settings, base, progress)
        progress(0.5, "Backtesting the champion on the same folds")
        champion_request = request_from(
            champion, **window, folds=base.folds, horizon=base.horizon, step=base.step
        )
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
    )


@dataclass
class PromoteOutcome:
    version: ModelVersion
    previous: ModelVersion | None
    gate: GateResult | None
    overridden: bool


def promote(
    db: Database,
    settings: Settings,
    version_id: int,
    actor: Actor,
    *,
    override_reason: str | None = None,
    progress: Progress = _noop,
) -> PromoteOutcome:
    """Make a saved version the champion, if it passes the gate (or with a recorded override)."""
    require_analyst(actor, "promote a model")
    with db.read() as session:
        version = registry.get_version(session, version_id)
        current = registry.champion(session, version.symbol)
    if current is not None and current.id == version.id:
        raise ValidationFailed(f"model {version.id} is already the champion of {version.symbol}")
    if version.role == "draft":
        raise ValidationFailed(
            f"model {version.id} is an unsaved draft; save it as a challenger before promoting it"
        )
    result = gate(db, settings, version, current, progress=progress) if current else None
    overridden = False
    note = "no champion before"
    if result is not None:
        note = result.text
        if not result.passed:
            reason = (override_reason or "").strip()
            if not reason:
                raise ValidationFailed(
                    f"promotion refused: {result.text}. An analyst can override the gate by "
                    "giving a reason"
                )
            overridden = True
            note = f"{result.text}; overridden by {actor.name}: {reason}"
    with db.begin() as session:
        fresh = registry.get_version(session, version_id)
        previous = registry.set_champion(
            session, fresh, action="promote", created_by=actor.name,
            gate_passed=None if result is None else result.passed, note=note,
        )
        if result is not None:
            fresh.backtest = {**(fresh.backtest or {}), "gate": result.to_dict()}
    return PromoteOutcome(fresh, previous, result, overridden)


def rollback(db: Database, symbol: str, actor: Actor, *, reason: str | None = None) -> ModelVersion:
    """Bring back the champion before the current one; history keeps both."""
    require_analyst(actor, "roll back a model")
    symbol = check_symbol(symbol)
    with db.begin() as session:
        target = registry.previous_champion(session, symbol)
        registry.set_champion(
            session, target, action="rollback", created_by=actor.name, gate_passed=None,
            note=reason or "rolled back to the previous champion",
        )
        return target


def retrain(
    db: Database,
    settings: Settings,
    symbol: str,
    actor: Actor,
    *,
    progress: Progress = _noop,
    auto_promote: bool = False,
) -> dict[str, Any]:
    """Fit the champion's model again on the latest data (full order search for auto-ARIMA),
    save it as a challenger and compare it with the champion on the same folds.

    With ``auto_promote`` (the scheduled weekly retrain) a challenger that passes the gate
    becomes champion; otherwise the analyst decides.
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

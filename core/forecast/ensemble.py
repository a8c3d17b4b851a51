"""Ensemble: a weighted average of member forecasters, weights tuned by backtesting.

Weights come from each member's errors on rolling-origin folds of the training data
(``weights_``, summing to one). ``weighting="inverse_mse"`` uses inverse mean squared
errors; ``weighting="backtest"`` searches convex weights on a grid of step 1/20 for the
smallest mean squared error of the *combined* forecast on those folds, which is the
requirements' ``combined = w * lstm + (1 - w) * arima`` tuned by backtesting (with more
members, the same on the simplex). Each member's per-fold RMSE is kept (``fold_rmse_``).
The combined interval bounds are the same weighted average of the members' bounds: an
approximation (a mixture's quantiles are not the average of its members' quantiles),
reasonable when members roughly agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.errors import ValidationFailed
from core.forecast import checks
from core.forecast.base import Forecaster
from core.forecast.result import ForecastResult
from core.market.calendar import trading_calendar

DEFAULT_MEMBERS: tuple[dict[str, Any], ...] = (
    {"kind": "auto_arima"}, {"kind": "naive"}, {"kind": "drift"})
# The requirements' ensemble (section 3): ARIMA + LSTM, with naive as the fallback member.
ARIMA_LSTM_MEMBERS: tuple[dict[str, Any], ...] = (
    {"kind": "auto_arima"}, {"kind": "lstm"}, {"kind": "naive"})
WEIGHTINGS = ("inverse_mse", "backtest")
GRID = 20  # weight grid step 1/GRID for weighting="backtest"


def simplex_grid(members: int, steps: int = GRID) -> np.ndarray:
    """Every weight vector of ``members`` non-negative multiples of 1/steps summing to 1.

    >>> simplex_grid(2, 4).tolist()
    [[0.0, 1.0], [0.25, 0.75], [0.5, 0.5], [0.75, 0.25], [1.0, 0.0]]
    """

    def counts(m: int, total: int) -> list[list[int]]:
        if m == 1:
            return [[total]]
        return [[i, *rest] for i in range(total + 1) for rest in counts(m - 1, total - i)]

    return np.asarray(counts(members, steps), dtype=np.float64) / steps


def tune_weights(errors: np.ndarray, weighting: str) -> np.ndarray:
    """Member weights from backtest errors ``errors`` (members, points)."""
    mse = np.mean(np.square(errors), axis=1)
    if weighting == "inverse_mse":
        inv = 1.0 / np.maximum(mse, 1e-12)
        return np.asarray(inv / inv.sum())
    grid = simplex_grid(len(errors))
    combined = np.mean(np.square(grid @ errors), axis=1)
    return np.asarray(grid[int(np.argmin(combined))])


class Ensemble(Forecaster):
    """Weighted average of ``members`` (each ``{"kind": ..., **options}``).

    ``folds``/``horizon``/``refit`` configure the backtest that sets the weights."""

    kind = "ensemble"

    def __init__(self, members: list[dict[str, Any]] | tuple[dict[str, Any], ...] = DEFAULT_MEMBERS,
                 folds: int = 3, horizon: int = 30, refit: str | int = "update",
                 weighting: str = "inverse_mse", log: bool = True,
                 exchange: str = "XNYS") -> None:
        super().__init__(log=log, exchange=exchange)
        self.members = [dict(m) for m in members]
        if not self.members or any(m.get("kind") in (None, "ensemble") for m in self.members):
            raise ValidationFailed("ensemble members must be a non-empty list of "
                                   "{'kind': ..., **options} with kinds other than 'ensemble'")
        self.folds = folds
        self.horizon = checks.check_horizon(horizon)
        self.refit = refit
        if weighting not in WEIGHTINGS:
            raise ValidationFailed(f"ensemble weighting must be one of {', '.join(WEIGHTINGS)}, "
                                   f"got {weighting!r}")
        self.weighting = weighting
        self.exog_columns = tuple(dict.fromkeys(
            c for m in self._make_members() for c in m.exog_columns))

    def _make_members(self) -> list[Forecaster]:
        from core.forecast.factory import make_forecaster

        out = []
        for spec in self.members:
            opts = {k: v for k, v in spec.items() if k != "kind"}
            opts.setdefault("log", self.log)
            opts.setdefault("exchange", self.exchange)
            out.append(make_forecaster(spec["kind"], **opts))
        return out

    def min_obs(self) -> int:
        need = max(m.min_obs() for m in self._make_members())
        return need + self.horizon * self.folds

    def _frame(self, X: np.ndarray | None) -> pd.DataFrame | None:
        if X is None:
            return None
        return pd.DataFrame(X, index=self.dates_, columns=list(self.exog_columns))

    def _fit(self) -> None:
        from core.forecast.backtest import _origins, rolling_forecasts

        y = pd.Series(self.values_, index=self.dates_)
        X = self._frame(self.exog_)
        members = self._make_members()
        origins = _origins(len(y), self.folds, self.horizon, self.horizon,
                           max(m.min_obs() for m in members))
        v = y.to_numpy()
        errors = []
        for m in members:
            fcs = rolling_forecasts(m, y, X, origins, self.horizon, self.refit)
            errors.append([v[o : o + self.horizon] - f.mean
                           for o, f in zip(origins, fcs, strict=True)])
        err = np.asarray(errors, dtype=np.float64)  # (members, folds, horizon)
        self.mse_ = [float(x) for x in np.mean(np.square(err), axis=(1, 2))]
        self.fold_rmse_ = [[float(x) for x in row]
                           for row in np.sqrt(np.mean(np.square(err), axis=2))]
        self.weights_ = tune_weights(err.reshape(len(members), -1), self.weighting)
        self.members_ = [m.fit(y, X) for m in members]

    def _update(self, n_new: int) -> None:
        y = pd.Series(self.values_[-n_new:], index=self.dates_[-n_new:])
        X = self._frame(self.exog_)
        for m in self.members_:
            m.update(y, None if X is None else X.iloc[-n_new:])

    @property
    def band_base(self) -> str:
        return "ensemble"  # the weighted average of the members' bounds

    def predict(self, h: int, X_future: pd.DataFrame | None = None) -> ForecastResult:
        """Weighted average of the members' forecasts (mean and each bound)."""
        h = checks.check_horizon(h)
        self._require_fitted()
        dates = trading_calendar(self.exchange).next_sessions(self.dates_[-1], h)
        fcs = [m.predict(h, X_future) for m in self.members_]
        w = self.weights_

        def avg(name: str) -> np.ndarray:
            return np.asarray(sum(wi * getattr(f, name) for wi, f in zip(w, fcs, strict=True)))

        return ForecastResult(dates, avg("mean"), avg("lo80"), avg("hi80"), avg("lo95"),
                              avg("hi95"), self.label)

    @property
    def label(self) -> str:
        if not hasattr(self, "members_"):
            return self.kind
        parts = [f"{w:.2f}*{m.label}" for w, m in zip(self.weights_, self.members_, strict=True)]
        return "ensemble(" + " + ".join(parts) + ")"

    def _residuals(self) -> np.ndarray:
        res = [m.residuals() for m in self.members_]
        n = min(len(r) for r in res)
        parts = [w * r.to_numpy()[-n:] for w, r in zip(self.weights_, res, strict=True)]
        return np.asarray(sum(parts))

    def _summary(self) -> dict[str, Any]:
        labels = [m.label for m in self.members_]
        return {"weights": [float(w) for w in self.weights_], "backtest_mse": self.mse_,
                "weighting": self.weighting,
                "member_fold_rmse": {lab: rmse for lab, rmse
                                     in zip(labels, self.fold_rmse_, strict=True)},
                "members": [m.summary() for m in self.members_]}

    def _learned_state(self) -> dict[str, Any]:
        return {"weights": [float(w) for w in self.weights_], "mse": self.mse_,
                "fold_rmse": self.fold_rmse_,
                "members": [m._learned_state() for m in self.members_]}

    def _restore(self, learned: dict[str, Any]) -> None:
        self.weights_ = np.asarray(learned["weights"], dtype=np.float64)
        self.mse_ = list(learned["mse"])
        self.fold_rmse_ = [list(r) for r in learned.get("fold_rmse") or [[] for _ in self.mse_]]
        self.members_ = self._make_members()
        for m, sub in zip(self.members_, learned["members"], strict=True):
            m.values_, m.dates_ = self.values_, self.dates_
            m.exog_ = self._member_exog(m)
            m._restore(sub)

    def _member_exog(self, m: Forecaster) -> np.ndarray | None:
        if not m.exog_columns or self.exog_ is None:
            return None
        idx = [list(self.exog_columns).index(c) for c in m.exog_columns]
        return np.asarray(self.exog_)[:, idx]

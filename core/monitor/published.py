"""Published bands: the adaptive conformal (ACI) layer, driven by the prediction ledger.

Every front door that publishes a forecast (the daily job, the API's /predict, ``python -m
core predict``, the Forecast page) and the replay call :func:`publish_bands` on the model's
own forecast before it is shown or logged: one implementation, so a band means the same
thing wherever it is read.

ACI (Gibbs & Candes 2021, ``core.forecast.conformal``) keeps a miscoverage level per
horizon step and band level, moved by every reconciled actual of the *published* band:
``alpha_{t+1} = alpha_t + gamma (alpha - miss_t)``. The level at any moment is therefore a
pure function of the ledger's hit/miss history of that step (``conformal.aci_alpha``), so
nothing is stored beside the ledger and a replay, the API and the page all read the same
state. The history of a forecast made on data date D is every reconciled row of the
symbol at that step with a target on or before D (a replay that re-issues day D never sees
later actuals), one per (data date, step): when several versions logged the same day (a
challenger viewed and logged beside the champion), the first one logged counts.

The level becomes a scale on the model's own half-widths (work space), ``z(1 - alpha_t/2)
/ z(1 - alpha/2)``: a GARCH band keeps its shape and only its width is corrected. A step
with no reconciled history yet (beyond the 5 steps the daily job logs) takes the scale of
the nearest shorter step that has one, so the band keeps widening with the horizon; with
no history at all the scale is 1 (the model's bands as they are).

``calibration`` of a model version (stored in its spec, ``"aci"`` unless the version says
``"none"``) switches the layer on or off; :func:`band_method` names the published method
(``"garch+aci"``, ``"gaussian"``, ...) for the pages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from core.db.models import Prediction
from core.errors import ValidationFailed
from core.forecast import conformal
from core.forecast.result import ForecastResult

CALIBRATIONS = ("aci", "none")
DEFAULT_CALIBRATION = "aci"


def check_calibration(calibration: str) -> str:
    if calibration not in CALIBRATIONS:
        raise ValidationFailed(
            f"band calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
    return calibration


def calibration_of(spec: dict[str, Any] | None) -> str:
    """A version's calibration layer: its spec's ``calibration``, else the default (ACI)."""
    value = (spec or {}).get("calibration") or DEFAULT_CALIBRATION
    return check_calibration(str(value))


def band_method(base: str, calibration: str) -> str:
    """The published band method, e.g. ``"garch+aci"`` or ``"gaussian"``, from the model's
    own band layer (``Forecaster.band_base``) and the calibration on top.

    >>> band_method("garch", "aci"), band_method("gaussian", "none")
    ('garch+aci', 'gaussian')
    """
    return base if check_calibration(calibration) == "none" else f"{base}+{calibration}"


@dataclass(frozen=True)
class AciState:
    """Per step (row 0 = step 1): miscoverage levels at 80% and 95% and the number of
    reconciled forecasts behind them."""

    alpha: np.ndarray  # (horizon, 2)
    n: np.ndarray  # (horizon,)
    gamma: float

    @property
    def horizon(self) -> int:
        return len(self.n)

    def scales(self) -> tuple[np.ndarray, np.ndarray]:
        """Half-width multipliers (80%, 95%) per step; a step without history takes the
        scale of the nearest shorter step that has one (:func:`carry_forward`)."""
        s80 = np.array([conformal.aci_scale(a, conformal.LEVELS[0]) for a in self.alpha[:, 0]])
        s95 = np.array([conformal.aci_scale(a, conformal.LEVELS[1]) for a in self.alpha[:, 1]])
        return carry_forward(s80, self.n), carry_forward(s95, self.n)


def carry_forward(scale: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``scale`` with each step that has no reconciled history (``n == 0``) set to the
    scale of the nearest shorter step that has some; 1.0 where no shorter step has any.
    The daily job logs 5 steps, so a 20-day forecast's steps 6-20 have no history: left at
    1.0 its band would narrow after step 5 whenever the market made the layer widen it.

    >>> carry_forward(np.array([1.4, 1.3, 1.0, 1.0]), np.array([40, 39, 0, 0])).tolist()
    [1.4, 1.3, 1.3, 1.3]
    >>> carry_forward(np.array([1.0, 1.0]), np.array([0, 0])).tolist()
    [1.0, 1.0]
    """
    out = np.array(scale, dtype=np.float64, copy=True)
    known: float | None = None
    for k, count in enumerate(np.asarray(n)):
        if count > 0:
            known = float(out[k])
        elif known is not None:
            out[k] = known
    return out


def aci_from_misses(steps: np.ndarray, miss80: np.ndarray, miss95: np.ndarray, horizon: int,
                    gamma: float = conformal.ACI_GAMMA) -> AciState:
    """The ACI state after a hit/miss history (``steps`` 1-based; misses 0/1)."""
    steps = np.asarray(steps, dtype=np.int64)
    at = [steps == k for k in range(1, horizon + 1)]
    return aci_from_counts(np.array([a.sum() for a in at]),
                           np.array([np.asarray(miss80)[a].sum() for a in at]),
                           np.array([np.asarray(miss95)[a].sum() for a in at]), gamma)


def aci_from_counts(n: np.ndarray, misses80: np.ndarray, misses95: np.ndarray,
                    gamma: float = conformal.ACI_GAMMA) -> AciState:
    """The ACI state from per-step counts (the recursion is a sum, so the number of
    reconciled forecasts and of misses per step is all it needs)."""
    n = np.asarray(n, dtype=np.int64)
    alpha = np.empty((len(n), 2))
    for j, (level, misses) in enumerate(zip(conformal.LEVELS, (misses80, misses95),
                                            strict=True)):
        a = 1.0 - level
        alpha[:, j] = a + gamma * (n * a - np.asarray(misses, dtype=np.float64))
    return AciState(alpha, n, gamma)


def ledger_counts(session: Session, symbol: str, horizon: int,
                  as_of: dt.date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per step 1..``horizon``: reconciled published forecasts of ``symbol`` with targets on
    or before ``as_of`` (one per data date and step, the first logged), and how many of
    them fell outside their 80% and 95% bands. One aggregate query."""
    mine = (Prediction.symbol == symbol, Prediction.actual.is_not(None),
            Prediction.step <= horizon, Prediction.target_date <= as_of)
    first = select(func.min(Prediction.id)).where(*mine).group_by(Prediction.data_date,
                                                                  Prediction.step)
    out80 = or_(Prediction.actual < Prediction.lo80, Prediction.actual > Prediction.hi80)
    out95 = or_(Prediction.actual < Prediction.lo95, Prediction.actual > Prediction.hi95)
    stmt = (
        select(Prediction.step, func.count(), func.sum(case((out80, 1), else_=0)),
               func.sum(case((out95, 1), else_=0)))
        .where(Prediction.id.in_(first))
        .group_by(Prediction.step)
    )
    n, m80, m95 = np.zeros(horizon), np.zeros(horizon), np.zeros(horizon)
    for step, count, miss80, miss95 in session.execute(stmt):
        n[int(step) - 1], m80[int(step) - 1], m95[int(step) - 1] = count, miss80, miss95
    return n.astype(np.int64), m80, m95


def aci_state(session: Session, symbol: str, horizon: int, as_of: dt.date,
              gamma: float = conformal.ACI_GAMMA) -> AciState:
    """The ACI state of ``symbol``'s published bands for a forecast made on ``as_of``."""
    return aci_from_counts(*ledger_counts(session, symbol, horizon, as_of), gamma=gamma)


@dataclass(frozen=True)
class PublishedBands:
    """A forecast as published: its bands after the calibration layer, the method's name,
    and the scales applied per step (1.0 without a layer)."""

    result: ForecastResult
    method: str
    scale80: np.ndarray
    scale95: np.ndarray
    reconciled: np.ndarray  # per step: reconciled forecasts behind the ACI level


def publish_bands(session: Session, symbol: str, result: ForecastResult, *, log: bool,
                  base: str, calibration: str, as_of: dt.date,
                  gamma: float = conformal.ACI_GAMMA) -> PublishedBands:
    """The model's forecast with the calibration layer applied (see the module docstring).

    ``base`` is the forecaster's own band layer (``band_base``), ``log`` whether it works
    on log prices (the scales act in work space)."""
    method = band_method(base, calibration)
    h = result.horizon
    if calibration == "none":
        ones = np.ones(h)
        return PublishedBands(result, method, ones, ones, np.zeros(h, dtype=np.int64))
    state = aci_state(session, symbol, h, as_of, gamma)
    s80, s95 = state.scales()
    return PublishedBands(conformal.rescale(result, s80, s95, log), method, s80, s95, state.n)

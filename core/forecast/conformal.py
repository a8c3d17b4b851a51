"""Calibration layers on top of a model's bands, per horizon step and band level.

Both act as a *scale factor* on the model's own band half-widths around the point forecast,
in work space (log prices for log models), so a volatility-aware band keeps its shape and
only its width is corrected:

* **Split conformal** (the idea of statsforecast's ``ConformalIntervals``, normalised by the
  model's band): from the rolling-origin errors at step h, ``u = |actual - mean| / half``
  (the error in units of the model's half-width at that level), the scale is the
  ``ceil((n+1) level) / n`` empirical quantile of ``u``. :func:`split_conformal_scale`.
* **Adaptive conformal inference** (Gibbs & Candes 2021): the miscoverage level of each
  (step, level) moves with every reconciled actual, ``alpha_{t+1} = alpha_t + gamma
  (alpha - miss_t)``, where ``miss_t`` is 1 when the band actually *issued* missed. The
  level is turned into a scale with the Normal quantile ratio
  ``z(1 - alpha_t/2) / z(1 - alpha/2)``. Long-run miscoverage converges to ``alpha`` whatever
  the market does. Because the recursion is a sum, ``alpha_t`` is a pure function of the
  ledger's hit/miss history (:func:`aci_alpha`): nothing needs to be stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from core.errors import ValidationFailed
from core.forecast.result import ForecastResult

LEVELS = (0.80, 0.95)
ACI_GAMMA = 0.005
# alpha_t is clipped to this range when turned into a band (alpha_t <= 0 would be an
# infinite band, >= 1 an empty one); the recursion itself is not clipped.
ALPHA_CLIP = (1e-9, 0.9)


def check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValidationFailed(f"band level must be in (0, 1), got {level!r}")
    return float(level)


def aci_alpha(misses: Sequence[float] | np.ndarray, level: float,
              gamma: float = ACI_GAMMA) -> float:
    """alpha_T after the hit/miss history ``misses`` (0/1, oldest first), from alpha_0 =
    1 - level: ``alpha_0 + gamma * sum(alpha - miss_t)``.

    >>> round(aci_alpha([0, 0, 1], 0.8, gamma=0.1), 3)
    0.16
    """
    alpha = 1.0 - check_level(level)
    m = np.asarray(misses, dtype=np.float64)
    return float(alpha + gamma * np.sum(alpha - m))


def aci_scale(alpha_t: float, level: float) -> float:
    """Half-width multiplier of a band issued at miscoverage ``alpha_t`` (nominal ``level``)."""
    alpha = 1.0 - check_level(level)
    a = float(np.clip(alpha_t, *ALPHA_CLIP))
    z = NormalDist().inv_cdf  # the standard library's: scipy.stats costs ~0.4 s to import
    return z(1.0 - a / 2.0) / z(1.0 - alpha / 2.0)


@dataclass
class AdaptiveConformal:
    """ACI state for ``horizon`` steps at the levels in :data:`LEVELS`.

    ``scales(step)`` gives the (80%, 95%) multipliers for a forecast's step (1-based);
    ``observe(step, u80, u95)`` records whether the band issued with those multipliers held
    (``u`` is the error in units of the model's *unscaled* half-width)."""

    horizon: int
    gamma: float = ACI_GAMMA
    alpha_t: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.alpha_t = np.array([[1.0 - lv for lv in LEVELS]] * self.horizon, dtype=np.float64)

    def scales(self, step: int) -> tuple[float, float]:
        a = self.alpha_t[step - 1]
        return aci_scale(a[0], LEVELS[0]), aci_scale(a[1], LEVELS[1])

    def observe(self, step: int, u80: float, u95: float, s80: float, s95: float) -> None:
        """Update with one reconciled actual at ``step`` whose band was issued with
        multipliers ``s80``/``s95``."""
        for j, (u, s) in enumerate(((u80, s80), (u95, s95))):
            miss = 1.0 if u > s else 0.0
            self.alpha_t[step - 1, j] += self.gamma * ((1.0 - LEVELS[j]) - miss)


def split_conformal_scale(u: np.ndarray, level: float) -> float:
    """The conformal quantile of normalised errors ``u`` (>= 0) at ``level``: the
    ``ceil((n+1) level)``-th smallest, or +inf when there are too few to reach it."""
    check_level(level)
    v = np.sort(np.asarray(u, dtype=np.float64)[np.isfinite(u)])
    n = len(v)
    k = int(np.ceil((n + 1) * level))
    if n == 0 or k > n:
        return float("inf")
    return float(v[k - 1])


def _work(x: np.ndarray, log: bool) -> np.ndarray:
    return np.log(x) if log else np.asarray(x, dtype=np.float64)


def normalised_errors(result: ForecastResult, actual: np.ndarray,
                      log: bool) -> tuple[np.ndarray, np.ndarray]:
    """``|actual - mean| / half`` per step at 80% and 95%, in work space (the half-width on
    the side the actual fell; a zero-width band gives inf unless the error is zero too)."""
    a, m = _work(np.asarray(actual, dtype=np.float64), log), _work(result.mean, log)
    out = []
    for lo, hi in ((result.lo80, result.hi80), (result.lo95, result.hi95)):
        half = np.where(a >= m, _work(hi, log) - m, m - _work(lo, log))
        err = np.abs(a - m)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(np.where(half > 0, err / half, np.where(err == 0, 0.0, np.inf)))
    return out[0], out[1]


def rescale(result: ForecastResult, s80: np.ndarray | Sequence[float],
            s95: np.ndarray | Sequence[float], log: bool,
            label: str | None = None) -> ForecastResult:
    """The same forecast with each step's half-widths (work space) multiplied by the
    scales (one per step; a scalar broadcasts). The 95% band is kept at least as wide as
    the 80% one so the bounds stay ordered."""
    h = result.horizon
    k80 = np.broadcast_to(np.asarray(s80, dtype=np.float64), (h,))
    k95 = np.broadcast_to(np.asarray(s95, dtype=np.float64), (h,))
    if not (np.all(np.isfinite(k80)) and np.all(np.isfinite(k95))
            and np.all(k80 >= 0) and np.all(k95 >= 0)):
        raise ValidationFailed("band scales must be finite and non-negative")
    m = _work(result.mean, log)
    parts = {}
    for name, k in (("lo80", k80), ("hi80", k80), ("lo95", k95), ("hi95", k95)):
        parts[name] = m + k * (_work(getattr(result, name), log) - m)
    parts["lo95"] = np.minimum(parts["lo95"], parts["lo80"])
    parts["hi95"] = np.maximum(parts["hi95"], parts["hi80"])
    if log:
        parts = {k: np.exp(v) for k, v in parts.items()}
    return ForecastResult(result.dates, result.mean, parts["lo80"], parts["hi80"],
                          parts["lo95"], parts["hi95"], label or result.model)

"""Is this ARMA over-fitted? Near-cancelling AR and MA roots, or coefficients whose
standard errors dwarf any plausible value.

An ARMA(p, q) whose AR and MA polynomials share a root is, to the data, the ARMA(p-1, q-1)
without it: the pair cancels, the likelihood is flat along it, and the two coefficients
come out large, opposite and with huge standard errors (Box & Jenkins' "parameter
redundancy"; Hyndman & Athanasopoulos, *FPP3* 9.7, warn about the same). Forecasts are
those of the smaller model, but the coefficient table reads as if it meant something.

>>> check = arma_overfit({"ar.L1": {"coef": 0.80, "se": 1.9}, "ma.L1": {"coef": -0.78, "se": 2.0},
...                       "sigma2": {"coef": 1.0, "se": 0.1}})
>>> check.overfitted, check.imprecise
(True, ('ar.L1', 'ma.L1'))
>>> arma_overfit({"ar.L1": {"coef": 0.5, "se": 0.05}}).overfitted
False
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

_LAG = re.compile(r"^(ar|ma)\.L(\d+)$")  # statsmodels' names; seasonal ones are ar.S.L12
ROOT_TOLERANCE = 0.1  # distance between inverse roots (inside the unit circle) that cancel
# Inverse roots this close to zero are factors (1 - a z) of almost nothing: two of them are
# a near-white-noise fit, not a cancelling pair, and flagging every such fit would be noise.
ROOT_MINIMUM = 0.2
SE_LIMIT = 0.5  # an ARMA coefficient lives in about (-1, 1): a standard error above this is huge


@dataclass(frozen=True)
class ArmaOverfit:
    """What the check found: pairs of (AR, MA) inverse roots that nearly cancel, and the
    ARMA coefficients with huge standard errors."""

    cancelling: tuple[tuple[complex, complex], ...]
    imprecise: tuple[str, ...]

    @property
    def overfitted(self) -> bool:
        return bool(self.cancelling or self.imprecise)

    @property
    def message(self) -> str:
        """A plain warning for the coefficient table ("" when nothing was found)."""
        if not self.overfitted:
            return ""
        parts = []
        if self.cancelling:
            pairs = ", ".join(f"AR {_fmt(a)} with MA {_fmt(m)}" for a, m in self.cancelling)
            parts.append(f"its AR and MA parts nearly cancel ({pairs} inverse roots)")
        if self.imprecise:
            one = len(self.imprecise) == 1
            has = "has a standard error" if one else "have standard errors"
            parts.append(f"{', '.join(self.imprecise)} {has} above {SE_LIMIT:g}, so the data "
                         f"barely pin {'it' if one else 'them'} down")
        return ("This ARMA looks over-fitted: " + "; ".join(parts) + ". A smaller order "
                "forecasts the same with fewer parameters: lower p and q by one, or let "
                "auto-ARIMA choose; don't read meaning into these coefficients.")


def _fmt(z: complex) -> str:
    if abs(z.imag) < 1e-9:
        return f"{z.real:.2f}"
    return f"{z.real:.2f}{z.imag:+.2f}i"


def _polynomial(coefs: Mapping[int, float], sign: float) -> np.ndarray:
    """Coefficients of 1 + sign*(c1 z + c2 z^2 + ...), highest power first (numpy.roots)."""
    order = max(coefs) if coefs else 0
    poly = [1.0] + [sign * coefs.get(lag, 0.0) for lag in range(1, order + 1)]
    return np.array(poly[::-1], dtype="float64")


def _inverse_roots(coefs: Mapping[int, float], sign: float) -> list[complex]:
    if not coefs or all(c == 0 for c in coefs.values()):
        return []
    roots = np.roots(_polynomial(coefs, sign))
    return [complex(1 / r) for r in roots if abs(r) > 1e-12]


def arma_overfit(
    coefficients: Mapping[str, Mapping[str, float | None]],
    *,
    root_tolerance: float = ROOT_TOLERANCE,
    se_limit: float = SE_LIMIT,
) -> ArmaOverfit:
    """Check a fitted model's coefficients (``summary()["coefficients"]``: name ->
    ``{"coef", "se"}``, statsmodels' names ``ar.L1``, ``ma.L2``) for over-fitting.

    AR polynomial 1 - phi1 z - ...; MA polynomial 1 + theta1 z + ... (statsmodels' signs).
    A model without both parts can have no cancelling pair; a missing standard error is
    not counted as huge.
    """
    ar: dict[int, float] = {}
    ma: dict[int, float] = {}
    imprecise = []
    for name, value in coefficients.items():
        match = _LAG.match(str(name))
        if not match:
            continue
        coef = float(value.get("coef") or 0.0)
        (ar if match.group(1) == "ar" else ma)[int(match.group(2))] = coef
        se = value.get("se")
        if se is not None and np.isfinite(float(se)) and float(se) > se_limit:
            imprecise.append(str(name))
    ar_roots = _inverse_roots(ar, -1.0)
    ma_roots = _inverse_roots(ma, 1.0)
    cancelling = []
    used: set[int] = set()
    for a in ar_roots:
        for j, m in enumerate(ma_roots):
            if (j not in used and abs(a - m) < root_tolerance
                    and min(abs(a), abs(m)) >= ROOT_MINIMUM):
                cancelling.append((a, m))
                used.add(j)
                break
    return ArmaOverfit(cancelling=tuple(cancelling), imprecise=tuple(imprecise))

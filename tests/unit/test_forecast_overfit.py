"""The over-fitted ARMA rule: near-cancelling AR and MA roots, or huge standard errors."""

from __future__ import annotations

import pytest

from core.forecast.overfit import arma_overfit


def _coefs(**pairs: tuple[float, float | None]) -> dict[str, dict[str, float | None]]:
    return {name.replace("_", "."): {"coef": c, "se": s} for name, (c, s) in pairs.items()}


# Coefficients and standard errors of statsmodels ARIMA(1,1,1) fits on seeded random walks
# (500 steps, numpy default_rng(seed)): a random walk has no ARMA part, so the pair cancels.
@pytest.mark.parametrize(("coefs", "cancelling", "imprecise"), [
    pytest.param(_coefs(ar_L1=(-0.854, 0.252), ma_L1=(0.827, 0.276), sigma2=(1.03, 0.06)),
                 1, (), id="seed0-cancelling-roots-precise-estimates"),
    pytest.param(_coefs(ar_L1=(-0.457, 1.838), ma_L1=(0.439, 1.862), sigma2=(1.0, 0.06)),
                 1, ("ar.L1", "ma.L1"), id="seed3-cancelling-and-huge-errors"),
    pytest.param(_coefs(ar_L1=(0.237, 0.334), ma_L1=(-0.351, 0.324), sigma2=(0.83, 0.05)),
                 0, (), id="seed1-distinct-roots"),
    pytest.param(_coefs(ar_L1=(0.05, 0.3), ma_L1=(-0.03, 0.3)), 0, (),
                 id="near-zero-roots-are-not-a-pair"),
    pytest.param(_coefs(ar_L1=(0.5, 0.04), ar_L2=(0.2, 0.04)), 0, (), id="pure-ar"),
    pytest.param(_coefs(ma_L1=(0.4, None)), 0, (), id="missing-se-is-not-huge"),
    pytest.param(_coefs(ar_S_L12=(0.5, 3.0), sigma2=(1.0, 9.0)), 0, (),
                 id="seasonal-and-variance-terms-ignored"),
    # AR (1 - 0.7z)(1 - 0.4z), MA (1 - 0.68z)(1 + 0.3z): the 0.7 and 0.68 factors cancel
    pytest.param(_coefs(ar_L1=(1.1, 0.1), ar_L2=(-0.28, 0.1), ma_L1=(-0.38, 0.1),
                        ma_L2=(-0.204, 0.1)), 1, (), id="arma22-one-shared-root"),
])
def test_arma_overfit(coefs, cancelling: int, imprecise: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    check = arma_overfit(coefs)
    assert len(check.cancelling) == cancelling
    assert check.imprecise == imprecise
    assert check.overfitted == bool(cancelling or imprecise)
    assert bool(check.message) == check.overfitted


def test_the_message_names_the_symptoms_and_a_way_out() -> None:
    check = arma_overfit(_coefs(ar_L1=(-0.457, 1.838), ma_L1=(0.439, 1.862)))
    text = check.message
    assert text.startswith("This ARMA looks over-fitted")
    assert "nearly cancel" in text and "ar.L1, ma.L1 have standard errors above 0.5" in text
    assert "lower p and q by one" in text

"""Parallel fits (core.forecast.batch): the local pool and a Dask LocalCluster give the same
orders and parameters as one-at-a-time fits, in input order; a failing series is reported
and the others still succeed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationFailed
from core.forecast import batch as batch_module
from core.forecast import make_forecaster
from core.forecast.base import Forecaster
from core.forecast.batch import (
    BatchResult,
    default_address,
    default_backend,
    fit_many,
    refit_many,
    search_many,
)
from core.market.sample import load_sample_bars

N_DAYS = 300


def _msft() -> pd.Series:
    bars = load_sample_bars()
    return pd.Series(bars["close"].to_numpy(dtype=float), index=pd.DatetimeIndex(bars["date"]))


@pytest.fixture(scope="module")
def windows() -> dict[str, pd.Series]:
    """Six 300-day windows of the bundled MSFT closes, under made-up symbols."""
    y = _msft()
    return {f"W{i}": y.iloc[i * 1200 : i * 1200 + N_DAYS] for i in range(6)}


@pytest.fixture(scope="module")
def sequential(windows: dict[str, pd.Series]) -> dict[str, Forecaster]:
    return {s: make_forecaster("auto_arima").fit(y) for s, y in windows.items()}


def _with_failures(windows: dict[str, pd.Series]) -> dict[str, pd.Series]:
    """The windows with a constant and a too-short series in the middle."""
    items = list(windows.items())
    const = pd.Series(5.0, index=items[0][1].index)
    return dict([*items[:2], ("CONST", const), ("SHORT", items[0][1].iloc[:10]), *items[2:]])


def _assert_same_as_sequential(batch: BatchResult, windows: dict[str, pd.Series],
                               sequential: dict[str, Forecaster]) -> None:
    assert [r.symbol for r in batch] == list(_with_failures(windows))
    assert batch["CONST"].ok is False and "constant" in (batch["CONST"].error or "")
    assert batch["SHORT"].ok is False and "at least" in (batch["SHORT"].error or "")
    for symbol, ref in sequential.items():
        result = batch[symbol]
        assert result.ok, result.error
        assert result.order == tuple(ref.order_)  # type: ignore[attr-defined]
        model = result.forecaster()
        np.testing.assert_allclose(model.params_, ref.params_,  # type: ignore[attr-defined]
                                   rtol=1e-8, atol=1e-12)
        assert result.aic == pytest.approx(ref.aic_, rel=1e-10)  # type: ignore[attr-defined]
        np.testing.assert_allclose(model.predict(5).mean, ref.predict(5).mean, rtol=1e-10)


def test_in_process_batch_reports_each_failure_and_keeps_order(
    windows: dict[str, pd.Series],
) -> None:
    two = dict(list(windows.items())[:2])
    batch = fit_many({"SHORT": two["W0"].iloc[:5], **two}, "arima", {"order": (0, 1, 1)},
                     backend="local", n_workers=1)
    assert [r.symbol for r in batch] == ["SHORT", "W0", "W1"]
    assert [r.ok for r in batch] == [False, True, True]
    assert batch["W0"].order == (0, 1, 1) and batch["W0"].state is not None
    assert len(batch.failed) == 1 and len(batch.succeeded) == 2


def test_progress_reaches_one_and_counts_every_series(windows: dict[str, pd.Series]) -> None:
    seen: list[tuple[float, str]] = []
    fit_many(dict(list(windows.items())[:2]), "naive", backend="local", n_workers=1,
             progress=lambda f, m: seen.append((f, m)))
    assert [f for f, _ in seen] == [0.5, 1.0] and "(2/2)" in seen[-1][1]


def test_bad_requests_fail_once_before_any_fit(windows: dict[str, pd.Series]) -> None:
    with pytest.raises(ValidationFailed, match="backend"):
        fit_many(windows, "auto_arima", backend="spark")
    with pytest.raises(ValidationFailed, match="unknown model"):
        fit_many(windows, "prophet")
    with pytest.raises(ValidationFailed, match="bad options"):
        fit_many(windows, "arima", {"nonsense": 1})
    with pytest.raises(ValidationFailed, match="n_workers"):
        fit_many(windows, "naive", n_workers=0)


def test_settings_come_from_the_environment() -> None:
    assert default_backend({}) == "local"
    assert default_backend({"BATCH_BACKEND": "Dask"}) == "dask"
    assert default_address({"DASK_ADDRESS": " tcp://10.0.0.1:8786 "}) == "tcp://10.0.0.1:8786"
    assert default_address({}) is None
    with pytest.raises(ValidationFailed, match="BATCH_BACKEND"):
        default_backend({"BATCH_BACKEND": "ray"})


@pytest.mark.slow
def test_local_pool_matches_sequential_fits(
    windows: dict[str, pd.Series], sequential: dict[str, Forecaster]
) -> None:
    batch = fit_many(_with_failures(windows), "auto_arima", {}, backend="local", n_workers=2)
    assert batch.backend == "local" and batch.workers == 2
    _assert_same_as_sequential(batch, windows, sequential)


@pytest.mark.slow
def test_dask_local_cluster_matches_sequential_fits(
    windows: dict[str, pd.Series], sequential: dict[str, Forecaster]
) -> None:
    pytest.importorskip("distributed")
    batch = fit_many(_with_failures(windows), "auto_arima", {}, backend="dask", n_workers=2)
    assert batch.backend == "dask" and batch.workers == 2
    _assert_same_as_sequential(batch, windows, sequential)


def test_unreachable_scheduler_is_one_clear_error(
    windows: dict[str, pd.Series], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(batch_module, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(ValidationFailed, match="cannot reach the Dask scheduler"):
        fit_many(dict(list(windows.items())[:1]), "naive", backend="dask",
                 address="tcp://127.0.0.1:1")


@pytest.mark.slow
def test_multi_series_search_then_refit_gives_the_same_models(
    windows: dict[str, pd.Series], sequential: dict[str, Forecaster]
) -> None:
    selections = search_many(windows)
    results = refit_many(windows, selections, n_workers=1)
    for result in results:
        ref = sequential[result.symbol]
        assert result.ok and result.order == tuple(ref.order_)  # type: ignore[attr-defined]
        assert result.aic == pytest.approx(ref.aic_, rel=1e-6)  # type: ignore[attr-defined]

"""Published bands: the adaptive conformal layer driven by the ledger, one implementation
for the forecast use case (daily job, API, CLI, Forecast page) and the replay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from core.auth import SYSTEM
from core.db.engine import Database
from core.db.models import ModelVersion
from core.forecast import conformal, service
from core.forecast.evaluation import calibrate
from core.forecast.service import FitRequest
from core.market.ingest import ingest_sample
from core.monitor import published
from core.monitor.ledger import reconcile
from core.monitor.replay import replay
from core.settings import Settings
from tests.integration.test_monitor_support import add_bars, add_model_version, log_simple

D = dt.date


def missed_history(db: Database, n: int, *, step: int = 1) -> dt.date:
    """``n`` reconciled one-step forecasts of MSFT whose 80% and 95% bands all missed (at
    ``step``); returns the last target date."""
    days = pd.bdate_range("2024-01-02", periods=n + step).date
    with db.begin() as s:
        mv = add_model_version(s)
        for i in range(n):
            log_simple(s, mv, days[i], [days[i + step]], [100.0], 100.0, width80=1.0,
                       width95=2.0)
        add_bars(s, "MSFT", {d: 110.0 for d in days[step:]})
    with db.begin() as s:
        reconcile(s, "MSFT")
    return days[n + step - 1]


def test_aci_state_follows_the_ledger_misses(db: Database) -> None:
    last = missed_history(db, 40)
    days = pd.bdate_range("2024-01-02", periods=41).date
    with db.begin() as s:  # a challenger logged the same days later: the first logged counts
        other = add_model_version(s, role="challenger")
        for i in range(40):
            log_simple(s, other, days[i], [days[i + 1]], [110.0], 110.0)
        reconcile(s, "MSFT")
    with db.read() as s:
        state = published.aci_state(s, "MSFT", 3, last)
        before = published.aci_state(s, "MSFT", 3, last - dt.timedelta(days=30))
    assert list(state.n) == [40, 0, 0]
    assert state.alpha[0, 0] == pytest.approx(0.2 + 0.005 * 40 * (0.2 - 1.0))
    s80, s95 = state.scales()
    assert s80[0] == pytest.approx(conformal.aci_scale(0.04, 0.8))
    assert s80[0] > 1.5 and s95[0] > 1.0
    # Steps without history follow the nearest shorter step that has some (left at 1.0,
    # a 20-day band narrowed after the 5 steps the daily job logs).
    assert list(s80[1:]) == [s80[0], s80[0]] and list(s95[1:]) == [s95[0], s95[0]]
    assert before.n[0] < 40  # a forecast made earlier never sees later actuals


def test_ledger_aci_equals_the_evaluation_aci() -> None:
    """The published layer (a function of the ledger's misses) gives the same scales as
    the evaluation's replay (``evaluation.calibrate``) on the same forecasts."""
    rng = np.random.default_rng(7)
    n, h = 300, 2
    origins = pd.bdate_range("2020-01-01", periods=n + h)
    rows = []
    for i in range(n):
        for k in range(1, h + 1):
            sd = 1.0 if i < 150 else 2.0
            actual = 100.0 + rng.normal(0, sd)
            rows.append({"origin": origins[i], "target": origins[i + k], "step": k,
                         "method": "garch", "actual": actual, "price": 100.0, "scored": True,
                         "naive": 100.0, "mean": 100.0, "lo80": 100 - 1.28, "hi80": 100 + 1.28,
                         "lo95": 100 - 1.96, "hi95": 100 + 1.96, "log": False})
    out = calibrate(pd.DataFrame(rows))
    aci = out[out["method"] == "garch+aci"].sort_values(["origin", "step"])
    last = aci[aci["origin"] == origins[n - 1]]
    done = aci[aci["target"] <= origins[n - 1]]
    miss80 = ((done["actual"] < done["lo80"]) | (done["actual"] > done["hi80"])).to_numpy()
    miss95 = ((done["actual"] < done["lo95"]) | (done["actual"] > done["hi95"])).to_numpy()
    state = published.aci_from_misses(done["step"].to_numpy(), miss80, miss95, h)
    s80, s95 = state.scales()
    np.testing.assert_allclose((last["hi80"].to_numpy() - 100) / 1.28, s80, rtol=1e-9)
    np.testing.assert_allclose((last["hi95"].to_numpy() - 100) / 1.96, s95, rtol=1e-9)


def test_forecast_publishes_the_aci_bands_and_names_the_method(
    db: Database, settings: Settings
) -> None:
    ingest_sample(db, actor=SYSTEM)
    request = FitRequest(symbol="MSFT", kind="naive", start=D(2015, 1, 1), folds=0)
    version = service.save_model(db, settings, service.fit_model(db, settings, request), SYSTEM)
    raw = service.load_model(db, settings, "MSFT").forecaster.predict(3)
    view = service.forecast(db, settings, "MSFT", 3, log_to_ledger=False)
    assert view.band_method == "gaussian+aci"
    np.testing.assert_allclose(view.result.hi80, raw.hi80)  # no reconciled history yet

    # Every published one-step band of the last 30 days missed: the next one is wider.
    y = service.load_model(db, settings, "MSFT").data.y
    with db.begin() as s:
        for i in range(30):
            origin, target = y.index[-32 + i].date(), y.index[-31 + i].date()
            mid = float(y.iloc[-32 + i])
            log_simple(s, version.id, origin, [target], [1.5 * mid], mid, width80=1e-6,
                       width95=2e-6)
        reconcile(s, "MSFT")
    view = service.forecast(db, settings, "MSFT", 3, log_to_ledger=False)
    s80 = view.band_scales[0]
    assert s80[0] == pytest.approx(conformal.aci_scale(0.2 + 0.005 * 30 * (0.2 - 1), 0.8))
    width = np.log(view.result.hi80) - np.log(view.result.mean)
    raw_width = np.log(raw.hi80) - np.log(raw.mean)
    assert width[0] == pytest.approx(s80[0] * raw_width[0], rel=1e-9)
    # Step 2 has no history of its own: it follows step 1's scale, so the band keeps
    # widening with the horizon.
    assert width[1] == pytest.approx(s80[0] * raw_width[1], rel=1e-9)

    with db.begin() as s:  # a version that says "none" publishes the model's own bands
        row = s.get(ModelVersion, version.id)
        assert row is not None
        row.spec = {**row.spec, "calibration": "none"}
    view = service.forecast(db, settings, "MSFT", 3, log_to_ledger=False)
    assert view.band_method == "gaussian"
    np.testing.assert_allclose(view.result.hi80, raw.hi80)


@pytest.mark.slow
def test_the_replay_publishes_through_the_same_layer(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.market.sample import load_sample_bars
    from core.market.store import upsert_bars

    db = Database.connect(f"sqlite:///{tmp_path / 'r.db'}")
    from core.db.migrate import upgrade

    upgrade(db)
    upsert_bars(db, "MSFT", load_sample_bars().tail(200), "sample")
    calls: list[dt.date] = []
    real = published.publish_bands

    def spy(*args: object, **kwargs: object) -> published.PublishedBands:
        calls.append(kwargs["as_of"])  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(published, "publish_bands", spy)
    idx = pd.DatetimeIndex(sorted(load_sample_bars().tail(200)["date"]))
    days = idx[-12:]
    summary = replay(db, settings, "MSFT", days[0].date(), days[-1].date(), kind="arima",
                     options={"order": [0, 1, 1]}, train_days=150, horizon=3,
                     into_production=True)
    assert calls == [d.date() for d in days] and summary.days_done == 12
    with db.read() as s:
        specs = list(s.scalars(select(ModelVersion.spec)))
    assert {sp["calibration"] for sp in specs} == {"aci"}
    assert {sp["band_method"] for sp in specs} == {"gaussian+aci"}

"""``POST /predict`` behind the cache: one small query decides the key, a miss forecasts.

Ledger choice: a miss calls ``service.forecast(..., issued_by="api")``, which logs the
forecast to the prediction ledger. A hit is not logged again: the ledger row for that
exact forecast (same champion version, data date and target dates) was written when it
was first computed, and the ledger is unique on those, so logging again would add nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from api.errors import UnknownSymbol
from api.runtime import Runtime
from api.schemas import PredictResponse
from core.cache import prediction_key
from core.db.engine import Database
from core.db.models import Bar, ModelVersion
from core.errors import ModelNotFound
from core.forecast import service


@dataclass(frozen=True)
class Champion:
    version_id: int
    data_date: dt.date | None


def current_champion(db: Database, symbol: str) -> Champion:
    """The champion's id and the last stored date, in one indexed query."""
    last = select(func.max(Bar.date)).where(Bar.symbol == symbol).scalar_subquery()
    champ = (
        select(ModelVersion.id)
        .where(ModelVersion.symbol == symbol, ModelVersion.role == "champion")
        .limit(1)
        .scalar_subquery()
    )
    with db.read() as session:
        last_date, version_id = session.execute(select(last, champ)).one()
    if version_id is None:
        if last_date is None:
            raise UnknownSymbol(f"unknown symbol {symbol}: no data is stored for it")
        raise ModelNotFound(
            f"{symbol} has no champion model yet; fit one on the Model fitting page or run "
            f"`python -m core fit --symbol {symbol} --model auto_arima`"
        )
    return Champion(int(version_id), last_date)


def cached(rt: Runtime, symbol: str, days: int) -> tuple[str, bytes | None]:
    """The cache key for this request and the cached body, if any."""
    champ = current_champion(rt.db, symbol)
    key = prediction_key(symbol, days, champ.version_id, champ.data_date or "none")
    return key, rt.cache.get(key)


def compute(rt: Runtime, symbol: str, days: int, key: str) -> bytes:
    """Forecast with the champion the key names, log it to the ledger, cache the JSON."""
    version_id = int(key.rsplit(":", 2)[-2])
    view = service.forecast(
        rt.db, rt.settings, symbol, days, version_id=version_id, issued_by="api"
    )
    r = view.result
    body = PredictResponse(
        symbol=view.symbol,
        model_version=view.version.id,
        model_kind=view.version.kind,
        model_label=(view.version.spec or {}).get("label"),
        data_date=view.data_date,
        beats_naive=view.beats_naive,
        random_walk=view.random_walk,
        dates=[d.date() for d in r.dates],
        mean=r.mean.tolist(),
        lo80=r.lo80.tolist(),
        hi80=r.hi80.tolist(),
        lo95=r.lo95.tolist(),
        hi95=r.hi95.tolist(),
        naive=view.naive.mean.tolist(),
        warnings=view.warnings,
    ).model_dump_json().encode()
    rt.cache.set(key, body, rt.config.prediction_ttl_seconds)
    return body

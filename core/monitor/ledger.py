"""The prediction ledger: every issued forecast, scored later against what happened.

Each forecast step becomes one ``Prediction`` row, with the naive (last value) forecast for
the same target logged beside it, so every score can be compared with the baseline on
exactly the same rows. ``reconcile`` fills in the actual once the target's bar exists.

Prices in the ledger are in the scale of ``data_date`` (the day the forecast was made);
a split between ``data_date`` and the target would otherwise look like a huge error, so the
raw close is multiplied by the split ratios in between (a 2:1 split, ratio 2.0, halves the
raw price; doubling it back restores the forecast's scale). Functions take the caller's Session and
never commit: the use case owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db.base import utcnow
from core.db.models import Bar, Prediction
from core.errors import ValidationFailed

LEDGER_COLUMNS = [
    "id", "symbol", "model_version_id", "issued_at", "issued_by", "data_date", "target_date",
    "step", "mean", "lo80", "hi80", "lo95", "hi95", "naive", "last_value", "exog_policy",
    "actual", "error", "naive_error", "reconciled_at",
]  # fmt: skip

_UNIQUE = ["model_version_id", "data_date", "target_date"]
_DATE_COLUMNS = ("data_date", "target_date")
_FLOAT_COLUMNS = (
    "mean", "lo80", "hi80", "lo95", "hi95", "naive", "last_value", "actual", "error", "naive_error",
)  # fmt: skip


def _as_date(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def _floats(name: str, values: Sequence[float] | float, n: int) -> list[float]:
    """``values`` as n finite floats (a scalar is repeated: the naive forecast is flat)."""
    if isinstance(values, int | float | np.number):
        out = [float(values)] * n
    else:
        out = [float(v) for v in values]
    if len(out) != n:
        raise ValidationFailed(f"{name} has {len(out)} values, the forecast has {n} dates")
    bad = [v for v in out if not math.isfinite(v)]
    if bad:
        raise ValidationFailed(f"{name} must be finite numbers, got {bad[0]!r}")
    return out


def check_bounds(
    lo95: Sequence[float], lo80: Sequence[float], hi80: Sequence[float], hi95: Sequence[float]
) -> None:
    """Refuse intervals out of order (``lo95 <= lo80 <= hi80 <= hi95``): swapped arguments."""
    for i, (a, b, c, d) in enumerate(zip(lo95, lo80, hi80, hi95, strict=True)):
        if not a <= b <= c <= d:
            raise ValidationFailed(
                f"step {i + 1}: intervals must satisfy lo95 <= lo80 <= hi80 <= hi95, "
                f"got {a:g}, {b:g}, {c:g}, {d:g}"
            )


def log_forecast(
    session: Session,
    *,
    symbol: str,
    model_version_id: int,
    data_date: dt.date,
    dates: Sequence[Any],
    mean: Sequence[float],
    lo80: Sequence[float],
    hi80: Sequence[float],
    lo95: Sequence[float],
    hi95: Sequence[float],
    naive: Sequence[float] | float,
    last_value: float,
    exog_policy: str | None,
    issued_by: str,
    issued_at: dt.datetime | None = None,
) -> int:
    """Log one forecast (one row per target date); returns the number of rows added.

    Logging the same forecast again adds nothing: rows are unique on (model version,
    data date, target date) and the insert is ``ON CONFLICT DO NOTHING``, so a rerun of a
    scheduled job or a double click in the dashboard is harmless.

    ``naive`` is the baseline forecast per step (a scalar means flat, as the random walk).
    ``issued_at`` defaults to now; a replay passes its simulated time.
    """
    targets = [_as_date(d) for d in dates]
    n = len(targets)
    if n == 0:
        return 0
    data_day = _as_date(data_date)
    if min(targets) <= data_day:
        raise ValidationFailed(
            f"target dates must be after the data date {data_day}, got {min(targets)}"
        )
    if len(set(targets)) != n:
        raise ValidationFailed(f"target dates must be distinct, got {sorted(map(str, targets))}")
    cols = {
        name: _floats(name, values, n)
        for name, values in {
            "mean": mean, "lo80": lo80, "hi80": hi80, "lo95": lo95, "hi95": hi95, "naive": naive,
        }.items()
    }  # fmt: skip
    check_bounds(cols["lo95"], cols["lo80"], cols["hi80"], cols["hi95"])
    issued_at = issued_at or utcnow()
    rows = [
        {
            "symbol": symbol,
            "model_version_id": model_version_id,
            "issued_at": issued_at,
            "issued_by": issued_by,
            "data_date": data_day,
            "target_date": target,
            "step": i + 1,
            "last_value": float(last_value),
            "exog_policy": exog_policy,
            **{name: values[i] for name, values in cols.items()},
        }
        for i, target in enumerate(sorted(targets))
    ]
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(Prediction).values(rows).on_conflict_do_nothing(
            index_elements=_UNIQUE
        )
    elif dialect == "sqlite":
        stmt = sqlite.insert(Prediction).values(rows).on_conflict_do_nothing(
            index_elements=_UNIQUE
        )
    else:  # pragma: no cover - the product supports SQLite and PostgreSQL only
        raise ValidationFailed(f"unsupported database {dialect!r}; use SQLite or PostgreSQL")
    # RETURNING counts the rows really added; rowcount is -1 for this statement on psycopg.
    return len(session.execute(stmt.returning(Prediction.id)).all())


def _split_scale(bars: pd.DataFrame, data_dates: pd.Series, targets: pd.Series) -> np.ndarray:
    """Product of split ratios with data_date < split date <= target, per prediction.

    With C(d) the cumulative product of ratios up to and including d, the product over
    (data_date, target] is C(target) / C(data_date). A 2:1 split (ratio 2.0) halves the raw
    price, so the raw close MULTIPLIED by this factor is back in the data date's scale
    (raw 51 after a 2:1 split is 102 in pre-split terms; dividing would give 25.5).
    """
    days = bars["date"].to_numpy(dtype="datetime64[ns]")
    cum = np.concatenate([[1.0], np.cumprod(bars["split_ratio"].to_numpy(dtype=float))])

    def at(when: pd.Series) -> np.ndarray:
        pos = np.searchsorted(days, when.to_numpy(dtype="datetime64[ns]"), side="right")
        return cum[pos]

    return at(targets) / at(data_dates)


def reconcile(
    session: Session,
    symbol: str,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Score every prediction whose target date now has a bar; returns rows updated.

    Sets ``actual`` (raw close times the split ratios in (data_date, target]),
    ``error = actual - mean`` and ``naive_error = actual - naive``. Idempotent: a second
    run updates nothing, but a revised close (the source corrected a bar) updates its scores.

    ``since`` limits the work to target dates on or after it (a daily job passes today
    minus the source's revision period); by default every prediction is checked. ``until``
    stops at target dates on or before it: a replay of day D must not see later bars.
    ``now`` stamps ``reconciled_at`` (default: the wall clock; a replay passes its own).
    """
    stmt = select(Prediction).where(Prediction.symbol == symbol).order_by(Prediction.id)
    if since is not None:
        stmt = stmt.where(Prediction.target_date >= since)
    if until is not None:
        stmt = stmt.where(Prediction.target_date <= until)
    preds = list(session.scalars(stmt))
    if not preds:
        return 0
    first = min(p.data_date for p in preds)
    last = max(p.target_date for p in preds)
    bar_rows = session.execute(
        select(Bar.date, Bar.close, Bar.split_ratio)
        .where(Bar.symbol == symbol, Bar.date >= first, Bar.date <= last)
        .order_by(Bar.date)
    ).all()
    if not bar_rows:
        return 0
    bars = pd.DataFrame(bar_rows, columns=["date", "close", "split_ratio"])
    bars["date"] = pd.to_datetime(bars["date"])
    # yfinance reports 0.0 on days without a split; the store should already say 1.0.
    ratio = bars["split_ratio"].astype(float)
    bars["split_ratio"] = ratio.where(ratio > 0, 1.0)
    close_by_day = dict(zip(bars["date"], bars["close"].astype(float), strict=True))

    scored = [p for p in preds if pd.Timestamp(p.target_date) in close_by_day]
    if not scored:
        return 0
    scale = _split_scale(
        bars,
        pd.Series(pd.to_datetime([p.data_date for p in scored])),
        pd.Series(pd.to_datetime([p.target_date for p in scored])),
    )
    now = now or utcnow()
    updated = 0
    for pred, factor in zip(scored, scale, strict=True):
        actual = close_by_day[pd.Timestamp(pred.target_date)] * float(factor)
        if pred.actual is not None and math.isclose(pred.actual, actual, rel_tol=1e-12):
            continue
        pred.actual = actual
        pred.error = actual - pred.mean
        pred.naive_error = actual - pred.naive
        pred.reconciled_at = now
        updated += 1
    session.flush()
    return updated


def ledger_frame(
    session: Session,
    symbol: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    model_version_id: int | None = None,
    issued_by: str | None = None,
) -> pd.DataFrame:
    """The ledger of one symbol as a DataFrame (target dates in ``[start, end]``).

    ``model_version_id`` and ``issued_by`` narrow it to one model or one front door
    (e.g. ``"replay"``).

    Columns are ``LEDGER_COLUMNS``; ``data_date`` and ``target_date`` are datetime64 so
    the frame plots and filters directly. Sorted by target date, then step.
    """
    stmt = select(*[getattr(Prediction, c) for c in LEDGER_COLUMNS]).where(
        Prediction.symbol == symbol
    )
    if start is not None:
        stmt = stmt.where(Prediction.target_date >= start)
    if end is not None:
        stmt = stmt.where(Prediction.target_date <= end)
    if model_version_id is not None:
        stmt = stmt.where(Prediction.model_version_id == model_version_id)
    if issued_by is not None:
        stmt = stmt.where(Prediction.issued_by == issued_by)
    stmt = stmt.order_by(Prediction.target_date, Prediction.step, Prediction.id)
    rows = session.execute(stmt).all()
    # Built column by column with explicit dtypes: a daily job (or a replay, once per
    # simulated day) reads this several times, and per-column inference was most of it.
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in LEDGER_COLUMNS]
    data: dict[str, Any] = {}
    for name, values in zip(LEDGER_COLUMNS, columns, strict=True):
        if name in _DATE_COLUMNS:
            data[name] = np.array(values, dtype="datetime64[D]").astype("datetime64[ns]")
        elif name in _FLOAT_COLUMNS:
            data[name] = np.array(values, dtype=np.float64)  # None (not reconciled) -> NaN
        else:
            data[name] = list(values)
    return pd.DataFrame(data, columns=LEDGER_COLUMNS)

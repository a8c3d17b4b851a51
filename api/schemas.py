"""Request and response bodies (pydantic), which also make the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import ValidationFailed
from core.forecast.checks import MAX_HORIZON
from core.symbols import check_symbol


class PredictRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"symbol": "MSFT", "days": 7}]})

    symbol: str = Field(min_length=1, max_length=16, description="Ticker, e.g. MSFT")
    # strict: "7", 7.0 and true (one day) were accepted as days; only a JSON integer is
    days: int = Field(ge=1, le=MAX_HORIZON, strict=True, description="Trading days ahead")

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        try:
            return check_symbol(value)
        except ValidationFailed as exc:
            raise ValueError(str(exc)) from None


class PredictResponse(BaseModel):
    symbol: str
    model_version: int = Field(description="Id of the champion model version used")
    model_kind: str
    model_label: str | None
    data_date: dt.date = Field(description="Last trading day in the data")
    beats_naive: bool | None = Field(
        description="Whether the model beat the naive forecast in its stored backtest "
        "(majority of folds); null when it was saved without a backtest"
    )
    random_walk: bool
    band_method: str = Field(
        "", description="The published bands: the model's band layer, '+aci' when the "
        "ledger-driven adaptive conformal layer corrects them (e.g. garch+aci)")
    dates: list[dt.date]
    mean: list[float]
    lo80: list[float]
    hi80: list[float]
    lo95: list[float]
    hi95: list[float]
    naive: list[float] = Field(description="The naive (last value) forecast for the same dates")
    warnings: list[str]


class SymbolOut(BaseModel):
    symbol: str
    first_date: dt.date
    last_date: dt.date
    rows: int


class SymbolsResponse(BaseModel):
    symbols: list[SymbolOut]


class ModelOut(BaseModel):
    id: int
    kind: str
    label: str | None
    role: str
    train_start: dt.date
    train_end: dt.date
    n_obs: int
    aic: float | None
    bic: float | None
    beats_naive: bool | None
    created_by: str
    created_at: dt.datetime


class ModelsResponse(BaseModel):
    symbol: str
    champion_id: int | None
    versions: list[ModelOut]


class DependencyOut(BaseModel):
    status: Literal["ok", "down"]
    required: bool = Field(description="Whether the API is unhealthy without it (else degraded)")
    detail: str


class HealthResponse(BaseModel):
    """``ok``, ``degraded`` (an optional dependency is down; 200) or ``unhealthy`` (a required
    one is down; 503). ``dependencies`` only for a caller with a valid API key."""

    status: Literal["ok", "degraded", "unhealthy"]
    dependencies: dict[str, DependencyOut] | None = None


class ErrorResponse(BaseModel):
    detail: str

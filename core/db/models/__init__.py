"""ORM models. Importing this package registers every table on ``Base.metadata``."""

from core.db.base import Base
from core.db.models.api import ApiKey, ApiRequest
from core.db.models.jobs import Job
from core.db.models.market import Bar, IngestRun, Symbol
from core.db.models.monitoring import Alert, AlertDelivery, DriftEvent, Prediction
from core.db.models.registry import ModelEvent, ModelVersion

__all__ = [
    "Alert",
    "AlertDelivery",
    "ApiKey",
    "ApiRequest",
    "Bar",
    "Base",
    "DriftEvent",
    "IngestRun",
    "Job",
    "ModelEvent",
    "ModelVersion",
    "Prediction",
    "Symbol",
]

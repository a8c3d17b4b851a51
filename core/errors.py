"""One error hierarchy. Front doors (pages, CLI, API) catch ``CoreError`` and show its message."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error the product reports to a user."""


class ValidationFailed(CoreError):
    """Input (a symbol, a CSV, a setting, a downloaded frame) is not acceptable."""


class DataUnavailable(CoreError):
    """A data source gave nothing usable (network down, empty download, rate limit)."""


class NotEnoughHistory(ValidationFailed):
    """A series is shorter than an operation needs."""


class ModelNotFound(CoreError):
    """No saved model matches the request."""


class ArtifactRejected(CoreError):
    """A model artifact is missing or does not match its recorded hash."""


class DatabaseUnavailable(CoreError):
    """The database cannot be reached, is locked, or is not migrated."""


class PermissionDenied(CoreError):
    """The current user may not perform this write."""


class JobConflict(CoreError):
    """A job of the same kind is already running for this symbol."""


class Conflict(CoreError):
    """Another writer changed the same thing first (a concurrent promotion or rollback);
    the request was not applied and can be reviewed and made again."""


class FitFailed(CoreError):
    """A model could not be fitted, or its fit failed the sanity checks."""

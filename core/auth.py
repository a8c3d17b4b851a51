"""Who is acting, and the server-side check that only analysts write.

Pages hide write buttons from viewers, but the rule lives here: every write use case
calls ``require_analyst`` first, so a viewer calling a use case directly is refused too.
The local analyst password is checked against a bcrypt hash kept in secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import bcrypt

from core.errors import PermissionDenied, ValidationFailed

Role = Literal["analyst", "viewer"]


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role

    @property
    def is_analyst(self) -> bool:
        return self.role == "analyst"


LOCAL_ANALYST = Actor(name="local-analyst", role="analyst")
SYSTEM = Actor(name="system", role="analyst")
VIEWER = Actor(name="viewer", role="viewer")


def require_analyst(actor: Actor, action: str) -> None:
    """Raise ``PermissionDenied`` unless ``actor`` may perform a write."""
    if not actor.is_analyst:
        raise PermissionDenied(
            f"{actor.name} is a viewer and may not {action}; sign in as an analyst"
        )


def hash_password(password: str) -> str:
    """Return a bcrypt hash of ``password`` to put in secrets as ``ANALYST_PASSWORD_HASH``.

    >>> verify_password("s3cret-pass", hash_password("s3cret-pass"))
    True
    """
    if len(password) < 8:
        raise ValidationFailed("an analyst password needs at least 8 characters")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def verify_password(password: str, stored_hash: str) -> bool:
    """Constant-time check of ``password`` against a bcrypt hash; False for a malformed hash."""
    try:
        return bcrypt.checkpw(password.encode(), stored_hash.encode())
    except ValueError:
        return False

"""API keys: create (shown once), list (prefixes only), revoke, and check a presented key.

A key is 32 random bytes (``secrets.token_urlsafe``) behind a fixed ``sk_`` marker. It has
that much entropy, so a plain SHA-256 is a sound verifier (no slow password hash needed)
and lets a request find its key with one indexed equality lookup. Only the hash and a
short prefix (``sk_`` + 8 characters, for display and the request log) are stored.

>>> key = new_key()
>>> key.startswith("sk_") and len(key) > 40 and prefix_of(key) == key[:11]
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from core.auth import Actor, require_analyst
from core.db.base import utcnow
from core.db.engine import Database
from core.db.models import ApiKey
from core.errors import ValidationFailed

MARKER = "sk_"
PREFIX_LEN = len(MARKER) + 8
DEFAULT_RATE_LIMIT = 60
MAX_RATE_LIMIT = 1_000_000


@dataclass(frozen=True)
class KeyInfo:
    """What the API needs to know about an authenticated key (no secret in it)."""

    id: int
    name: str
    prefix: str
    rate_limit_per_minute: int
    created_by: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_key() -> str:
    """A fresh random key (256 bits of entropy)."""
    return MARKER + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """SHA-256 hex of the key: the only form stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str:
    """The part of a key that may be shown (lists, logs)."""
    return key[:PREFIX_LEN]


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=row.id, name=row.name, prefix=row.prefix,
        rate_limit_per_minute=row.rate_limit_per_minute, created_by=row.created_by,
        created_at=row.created_at, revoked_at=row.revoked_at,
    )


def check_rate_limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RATE_LIMIT:
        raise ValidationFailed(
            f"a rate limit must be a whole number of requests per minute from 1 to "
            f"{MAX_RATE_LIMIT:,}, got {value!r}"
        )
    return value


def create_key(
    db: Database, name: str, actor: Actor, *, rate_limit_per_minute: int = DEFAULT_RATE_LIMIT
) -> tuple[KeyInfo, str]:
    """Store a new key's hash and return ``(info, key)``; the key is never retrievable again."""
    require_analyst(actor, "create an API key")
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationFailed(f"a key name needs 1-64 characters, got {name!r}")
    limit = check_rate_limit(rate_limit_per_minute)
    with db.begin() as session:
        while True:  # a prefix collision (1 in 2**48) would break the unique index: draw again
            key = new_key()
            if session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix_of(key))) is None:
                break
        row = ApiKey(
            name=name, prefix=prefix_of(key), key_hash=hash_key(key), created_by=actor.name,
            created_at=utcnow(), rate_limit_per_minute=limit,
        )
        session.add(row)
        session.flush()
        return _info(row), key


def list_keys(db: Database) -> list[KeyInfo]:
    """Every key, newest first (prefixes only)."""
    with db.read() as session:
        return [_info(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id.desc()))]


def revoke_key(db: Database, prefix: str, actor: Actor) -> KeyInfo:
    """Mark the key with this prefix revoked (idempotent: revoking twice keeps the first time)."""
    require_analyst(actor, "revoke an API key")
    with db.begin() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix.strip())).first()
        if row is None:
            raise ValidationFailed(
                f"no API key with prefix {prefix!r}; list them with `python -m core apikey list`"
            )
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        session.flush()
        return _info(row)


def authenticate(db: Database, key: str | None) -> KeyInfo | None:
    """The active key matching ``key``, or None (missing, unknown or revoked)."""
    if not key or not key.startswith(MARKER) or len(key) > 128:
        return None
    with db.read() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
        if row is None or row.revoked_at is not None:
            return None
        return _info(row)

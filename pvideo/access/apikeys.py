"""API keys with scopes, stored as SHA-256 digests.

A key is ``pvk_<prefix>_<secret>``: 32 random bytes, so a plain SHA-256 digest
is as strong as a slow hash (nothing to brute-force) and lets a request find
its key with one indexed lookup. The key itself is shown once, at creation.
Keys from ``PVIDEO_API_KEYS`` (or the embedded ``api.key``) hold every scope.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvideo.db.models import ApiKey
from pvideo.errors import DataError, NotFound

SCOPES = ("campaigns", "analytics", "admin", "privacy")  # privacy: erase and export customers
ALL_SCOPES = frozenset(SCOPES)
_PREFIX = "pvk_"
MAX_KEY_LENGTH = 200


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, scopes: Iterable[str], *, name: str | None = None) -> tuple[ApiKey, str]:
    """Store a new key; return its row and the key itself (the only time it exists in clear)."""
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if not wanted or unknown:
        raise DataError(f"scopes must be some of {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})")
    prefix = secrets.token_hex(4)
    key = f"{_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(name=(name or f"key {prefix}")[:200], prefix=prefix, key_hash=key_hash(key), scopes=wanted)
    session.add(row)
    session.flush()
    return row, key


def revoke_key(session: Session, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id!r} not found")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.flush()
    return row


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def stored_key(session: Session, key: str) -> ApiKey | None:
    """The live (not revoked) stored key, or ``None``."""
    if not key.startswith(_PREFIX) or len(key) > MAX_KEY_LENGTH:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash(key)))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, key_hash(key)):
        return None
    return row


def key_scopes(session: Session, key: str | None, env_keys: Iterable[str]) -> frozenset[str] | None:
    """The scopes ``key`` grants, or ``None`` when it is no valid key at all."""
    if not key:
        return None
    if any(hmac.compare_digest(key.encode(), k.encode()) for k in env_keys):
        return ALL_SCOPES
    row = stored_key(session, key)
    return frozenset(row.scopes) if row is not None else None

"""API keys: created, listed, revoked and checked.

A key is ``ci_`` and 43 URL-safe characters (32 random bytes). Only its sha256 is
stored: with that much entropy a slow password hash adds nothing (the approach of
GitHub's and Stripe's tokens). The first 11 characters are the key's ``prefix``, stored
in clear to find the row and to name the key in ``keys list`` and ``keys revoke``.
Scopes are ordered: ``read`` < ``predict`` < ``admin``; a key may do what its scope
and every lower scope allow.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from custintel.appdb.schema import ApiKey, utcnow
from custintel.errors import ConfigError

__all__ = ["SCOPES", "KeyInfo", "allows", "create_key", "list_keys", "revoke_key", "verify_key"]

SCOPES = ("read", "predict", "admin")
PREFIX_LENGTH = 11


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown of a key: never the key itself."""

    prefix: str
    name: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.prefix, row.name, row.scope, row.created_at, row.revoked_at, row.last_used_at
    )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def allows(scope: str, needed: str) -> bool:
    """Whether a key of ``scope`` may do what ``needed`` requires."""
    return SCOPES.index(scope) >= SCOPES.index(needed)


def create_key(session: Session, scope: str, name: str = "") -> tuple[str, KeyInfo]:
    """A new key of ``scope``: the key (shown once, never stored) and its info."""
    if scope not in SCOPES:
        raise ConfigError(f"unknown scope {scope!r}", hint=f"use one of {', '.join(SCOPES)}")
    key = "ci_" + secrets.token_urlsafe(32)
    row = ApiKey(prefix=key[:PREFIX_LENGTH], key_hash=_digest(key), name=name, scope=scope)
    session.add(row)
    session.flush()
    return key, _info(row)


def list_keys(session: Session) -> list[KeyInfo]:
    """Every key, revoked ones included, oldest first."""
    return [_info(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id))]


def revoke_key(session: Session, prefix: str) -> KeyInfo:
    """Revoke the key whose prefix (as ``keys list`` shows it) is ``prefix``."""
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix[:PREFIX_LENGTH]))
    if row is None or len(prefix) < PREFIX_LENGTH:
        raise ConfigError(
            f"no API key with prefix {prefix!r}",
            hint="`custintel keys list` shows the prefixes of every key",
        )
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return _info(row)


def verify_key(session: Session, key: str) -> KeyInfo | None:
    """The info of ``key`` when it is a live key, else None (unknown or revoked). The
    hash is compared in constant time."""
    if not key.startswith("ci_") or len(key) < PREFIX_LENGTH:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == key[:PREFIX_LENGTH]))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _digest(key)):
        return None
    return _info(row)

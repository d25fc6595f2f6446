"""What routes depend on: the app state, the database session, the caller's key.

``require("read" | "predict" | "admin")`` is the one way a route asks for a key: it
reads ``Authorization: Bearer <key>``, checks it against the app database and the
scope, and answers 401 or 403 as problem+json otherwise.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from custintel.api.problems import Problem
from custintel.appdb import AppDB
from custintel.appdb.keys import KeyInfo, allows, verify_key
from custintel.config import Settings

__all__ = ["AppState", "DbSession", "StateDep", "db_session", "per_app", "require", "state"]


@dataclass
class AppState:
    """What one API process holds: settings, the app database and per-process extras
    (rate limiter, cache, metrics) that routers and middleware may add."""

    settings: Settings
    db: AppDB
    extras: dict[str, Any] = field(default_factory=dict)


_extras_lock = threading.Lock()
T = TypeVar("T")


def per_app(app: AppState, name: str, make: Callable[[], T]) -> T:
    """The object kept in ``app.extras[name]``, made by ``make`` on first use (once,
    even when requests race for it): the rate limiter, the response cache, metrics."""
    found: T | None = app.extras.get(name)
    if found is None:
        with _extras_lock:
            found = app.extras.get(name)
            if found is None:
                found = make()
                app.extras[name] = found
    return found


def state(request: Request) -> AppState:
    app_state: AppState = request.app.state.custintel
    return app_state


StateDep = Annotated[AppState, Depends(state)]


def db_session(app: StateDep) -> Iterator[Session]:
    with app.db.session() as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]


# The key as the OpenAPI document declares it, so that /docs offers "Authorize". Missing
# or malformed, it is None here and the check below answers (problem+json, 401).
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `custintel keys create --scope read|predict|admin`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


def _verified(app: AppState, token: str) -> KeyInfo | None:
    """``token``'s key when live. A live key is remembered for
    ``settings.key_cache_seconds`` (a database read saved on every request), so a key
    revoked from another process stops working within that time."""
    ttl = app.settings.key_cache_seconds
    cache: dict[str, tuple[KeyInfo, float]] = per_app(app, "verified_keys", dict)
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    now = time.monotonic()
    hit = cache.get(digest)
    if hit is not None and hit[1] > now:
        return hit[0]
    with app.db.session() as session:
        key = verify_key(session, token)
    if key is None or ttl <= 0:
        cache.pop(digest, None)
        return key
    if len(cache) > 10_000:
        cache.clear()
    cache[digest] = (key, now + ttl)
    return key


def require(scope: str) -> Callable[..., KeyInfo]:
    """A dependency that admits keys of ``scope`` or higher and returns the key's info."""

    def check(request: Request, app: StateDep, credentials: Credentials) -> KeyInfo:
        token = credentials.credentials.strip() if credentials else None
        if not token:
            raise Problem(
                401,
                "Unauthorized",
                "send an API key as `Authorization: Bearer <key>`; "
                "`custintel keys create --scope read` makes one",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = _verified(app, token)
        if key is None:
            raise Problem(
                401,
                "Unauthorized",
                "the API key is unknown or revoked; `custintel keys list` shows the live keys",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not allows(key.scope, scope):
            raise Problem(
                403,
                "Forbidden",
                f"this route needs a key with scope {scope!r} (or higher); "
                f"key {key.prefix} has {key.scope!r}",
            )
        request.state.key = key
        return key

    return check

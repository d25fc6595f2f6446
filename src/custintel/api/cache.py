"""ETags and a response cache for the expensive reads (segments, forecasts, pages).

A version's results rows never change once written, so an answer is fully determined
by the request (path and query) and the ids of the model versions it read. The ETag is
a hash of exactly that: a client sending ``If-None-Match`` gets 304 without the
answer being rebuilt, and the built body is kept under the same key, in process (a
small LRU) by default or in Redis when ``redis_url`` is set (shared by every API
process; entries expire after an hour). Activating another version changes the key,
so nothing needs invalidating. A Redis outage is a cache miss, never an error.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from custintel.api.deps import AppState, per_app
from custintel.config import Settings

__all__ = ["MemoryCache", "RedisCache", "ResponseCache", "cache_for", "cached_json", "etag"]

log = logging.getLogger("custintel.api")
CACHE_CONTROL = "private, no-cache"  # may be stored, must be revalidated (cheap: 304)


class ResponseCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, body: bytes) -> None: ...


class MemoryCache:
    """The newest ``max_entries`` bodies in this process."""

    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def set(self, key: str, body: bytes) -> None:
        with self._lock:
            self._items[key] = body
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


class RedisCache:
    """Bodies in Redis under ``<namespace><hash>`` (``custintel:cache:`` by default,
    ``CUSTINTEL_REDIS_NAMESPACE``), expiring after ``ttl`` s."""

    def __init__(self, url: str, *, namespace: str, ttl: int = 3600):
        import redis

        self.ttl = ttl
        self.namespace = namespace
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._error = redis.RedisError

    def get(self, key: str) -> bytes | None:
        try:
            body = self._redis.get(self.namespace + key)
        except self._error as error:
            log.warning("response cache: Redis unavailable (%s)", error)
            return None
        return body if isinstance(body, bytes) else None

    def set(self, key: str, body: bytes) -> None:
        try:
            self._redis.set(self.namespace + key, body, ex=self.ttl)
        except self._error as error:
            log.warning("response cache: Redis unavailable (%s)", error)

    def close(self) -> None:
        self._redis.close()


def cache_for(app: AppState) -> ResponseCache:
    """The response cache of ``app`` (created on first use from its settings)."""
    return per_app(app, "response_cache", lambda: _new_cache(app.settings))


def _new_cache(settings: Settings) -> ResponseCache:
    if settings.redis_url:
        return RedisCache(settings.redis_url, namespace=f"{settings.redis_namespace}:cache:")
    return MemoryCache()


def etag(request: Request, version_ids: Sequence[int]) -> tuple[str, str]:
    """The cache key and the (strong) ETag of ``request`` answered from ``version_ids``."""
    query = "&".join(f"{k}={v}" for k, v in sorted(request.query_params.multi_items()))
    versions = ",".join(str(v) for v in version_ids)
    key = hashlib.sha256(f"{request.url.path}?{query}|{versions}".encode()).hexdigest()
    return key, f'"{key[:32]}"'


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    candidates = {t.strip().removeprefix("W/") for t in header.split(",")}
    return tag in candidates or "*" in candidates


def cached_json(
    request: Request,
    app: AppState,
    version_ids: Sequence[int],
    build: Callable[[], BaseModel],
) -> Response:
    """Answer ``request``: 304 when the client holds the current ETag, else the cached
    body, else ``build()`` serialised (and cached)."""
    key, tag = etag(request, version_ids)
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, "Vary": "Authorization"}
    if _matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    cache = cache_for(app)
    body = cache.get(key)
    if body is None:
        body = build().model_dump_json().encode()
        cache.set(key, body)
    return Response(body, media_type="application/json", headers=headers)

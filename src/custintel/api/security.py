"""Guards around the routes: per-key rate limits, CORS and a request-body limit.

- Rate limit: a token bucket per API key (``rate_limit_per_minute`` tokens, refilled
  evenly over a minute), checked *after* the key is verified, so nobody can spend
  another key's budget by sending its prefix. In-process by default; in Redis when
  ``redis_url`` is set, so that every API process behind a load balancer shares one
  bucket per key. Over the limit: 429 problem+json with ``Retry-After``. If Redis does
  not answer, requests are let through (logged): a limiter outage must not take the
  API down with it.
- CORS: only the origins in ``cors_origins``; none when empty.
- Body limit: a body above ``max_body_bytes`` is refused with 413 before the route
  reads it (``Content-Length``), or as soon as a streamed body passes the limit.

Keys are named by their prefix only, never in full, in every message and log line.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custintel.api.deps import AppState, StateDep, per_app, require
from custintel.api.problems import PROBLEM, Problem
from custintel.appdb.keys import KeyInfo
from custintel.config import Settings

__all__ = [
    "AdminKey",
    "BodyLimitMiddleware",
    "MemoryRateLimiter",
    "PredictKey",
    "RateLimiter",
    "ReadKey",
    "RedisRateLimiter",
    "authorized",
    "install",
    "limiter_for",
]

log = logging.getLogger("custintel.api")


class RateLimiter(Protocol):
    """``take(name)`` spends one token of ``name``'s bucket: 0.0 when allowed, else the
    seconds until a token is back."""

    def take(self, name: str) -> float: ...


class MemoryRateLimiter:
    """Token buckets in this process (one API process, or tests)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str) -> float:
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(name, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate


# KEYS[1] bucket; ARGV capacity, rate per second. Uses the server's clock so that every
# API process agrees. Returns the wait in milliseconds (0 = allowed).
_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return wait
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every API process (atomic Lua script)."""

    def __init__(self, url: str, per_minute: int, *, namespace: str):
        import redis

        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.namespace = namespace
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._script = self._redis.register_script(_BUCKET_LUA)
        self._error = redis.RedisError

    def take(self, name: str) -> float:
        try:
            wait_ms = self._script(keys=[self.namespace + name], args=[self.capacity, self.rate])
        except self._error as error:
            log.warning("rate limiter: Redis unavailable (%s); request let through", error)
            return 0.0
        return int(wait_ms) / 1000.0

    def close(self) -> None:
        self._redis.close()


def limiter_for(app: AppState) -> RateLimiter:
    """The process's rate limiter for ``app`` (created on first use from its settings)."""
    return per_app(app, "rate_limiter", lambda: _new_limiter(app.settings))


def _new_limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter(
            settings.redis_url,
            settings.rate_limit_per_minute,
            namespace=f"{settings.redis_namespace}:ratelimit:",
        )
    return MemoryRateLimiter(settings.rate_limit_per_minute)


def authorized(scope: str) -> Callable[..., KeyInfo]:
    """A dependency admitting keys of ``scope`` or higher (401/403 otherwise) that then
    spends one token of the key's rate limit (429 when empty)."""

    def check(app: StateDep, key: KeyInfo) -> KeyInfo:
        wait = limiter_for(app).take(key.prefix)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise Problem(
                429,
                "Too many requests",
                f"key {key.prefix} is over its limit of {app.settings.rate_limit_per_minute} "
                f"requests per minute; retry in {retry} s",
                headers={"Retry-After": str(retry)},
                retry_after=retry,
            )
        return key

    # set as an object, not a string: a postponed annotation could not see ``scope``
    check.__annotations__["key"] = Annotated[KeyInfo, Depends(require(scope))]
    return check


ReadKey = Annotated[KeyInfo, Depends(authorized("read"))]
PredictKey = Annotated[KeyInfo, Depends(authorized("predict"))]
AdminKey = Annotated[KeyInfo, Depends(authorized("admin"))]


class _TooLarge(StarletteHTTPException):
    """Raised from ``receive``: FastAPI passes HTTP exceptions from body reading through
    (others become a 400), so the problem handler answers it as 413."""

    def __init__(self, max_bytes: int):
        super().__init__(413, _too_large(max_bytes))


def _too_large(max_bytes: int) -> str:
    return (
        f"the request body is larger than {max_bytes:,} bytes; send fewer customer ids "
        "per request (or raise CUSTINTEL_MAX_BODY_BYTES)"
    )


class BodyLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` with 413 problem+json; paths in
    ``per_path`` (the bulk upload) have their own limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, send, limit)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        import json

        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Content too large",
                "status": 413,
                "detail": _too_large(limit),
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, settings: Settings | None = None) -> None:
    """Add the body limit and (when origins are configured) CORS to ``app``."""
    config: Settings = settings or app.state.custintel.settings
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=config.max_body_bytes,
        # bulk uploads are checked against their own, larger limit (jobs/bulk.py)
        per_path={"/v1/bulk": config.bulk_max_bytes + 64 * 1024},
    )
    if config.cors_origins:
        options: dict[str, Any] = {
            "allow_origins": config.cors_origins,
            "allow_methods": ["GET", "POST"],
            "allow_headers": ["Authorization", "Content-Type", "If-None-Match"],
            "expose_headers": ["ETag", "Retry-After"],
            "max_age": 600,
        }
        app.add_middleware(CORSMiddleware, **options)


_TOKEN = re.compile(r"(token=)[^&\s\"]+")


class RedactTokens(logging.Filter):
    """Mask ``token=<key>`` in access-log lines: keys are never logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        record.msg = _TOKEN.sub(r"\1***", str(record.msg))
        return True

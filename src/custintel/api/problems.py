"""Every error as RFC 9457 ``application/problem+json``, never a stack trace.

custintel's own errors carry their HTTP status, a title, the message (what and where)
and the fix; validation errors name the field; anything unexpected is a 500 whose body
says only that, with an id to find it in the log.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from custintel.errors import CustintelError

__all__ = ["PROBLEM", "Problem", "install", "problem_response"]

PROBLEM = "application/problem+json"
log = logging.getLogger("custintel.api")


class Problem(Exception):
    """An error a route raises on purpose: status, title, detail (what to fix), and
    extra members (``Retry-After`` goes in ``headers``)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            request, error.status, error.title, error.detail, error.headers, **error.extra
        )

    @app.exception_handler(CustintelError)
    async def _ours(request: Request, error: CustintelError) -> JSONResponse:
        detail = f"{error.where}: {error.message}" if error.where else error.message
        headers = {"Retry-After": "30"} if error.http_status == 503 else None
        return problem_response(
            request, error.http_status, error.title, detail, headers, fix=error.hint
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in error.errors()
        ]
        where = "; ".join(f"{e['where']}: {e['problem']}" for e in errors)
        return problem_response(
            request, 422, "Invalid request", f"the request is not valid: {where}", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = str(error.detail)
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}; see /docs for the routes"
        headers = dict(error.headers or {})
        return problem_response(
            request, error.status_code, _title(error.status_code), detail, headers
        )

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, error: OperationalError) -> JSONResponse:
        log.warning("app database unavailable: %s", type(error.orig).__name__)
        return problem_response(
            request,
            503,
            "Service unavailable",
            "the app database is not reachable; try again shortly",
            {"Retry-After": "10"},
        )

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    async def _redis_down(request: Request, error: Exception) -> JSONResponse:
        log.warning("Redis unavailable: %s", type(error).__name__)
        return problem_response(
            request,
            503,
            "Service unavailable",
            "the job queue (Redis) is not reachable; try again shortly",
            {"Retry-After": "10"},
        )

    app.add_exception_handler(RedisConnectionError, _redis_down)
    app.add_exception_handler(RedisTimeoutError, _redis_down)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s on %s %s", incident, request.method, request.url.path)
        return problem_response(
            request,
            500,
            "Internal error",
            f"an unexpected error happened (incident {incident}); it is in the server log",
        )


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

"""The FastAPI application: ``create_app(settings)`` builds it, routers attach to it."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from custintel import __version__
from custintel.api import metrics, problems, security
from custintel.api.deps import AppState
from custintel.appdb import AppDB
from custintel.config import Settings

__all__ = ["create_app", "create_worker_app"]

DESCRIPTION = """
custintel's HTTP API: segments, sales forecasts and customer predictions for a shop,
each with its measured accuracy. Every route but the health checks needs an API key
(`custintel keys create --scope read|predict|admin`), sent as
`Authorization: Bearer <key>`. Errors are `application/problem+json` (RFC 9457).
"""


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """The API over the data directory of ``settings`` (the environment's by default);
    the app database is migrated to the newest schema first."""
    settings = settings or Settings()
    db = AppDB.from_settings(settings)
    if migrate:
        db.migrate()
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, security.RedactTokens) for f in access.filters):
        access.addFilter(security.RedactTokens())
    # /docs is the dashboard's own page (vendored Swagger UI); FastAPI's default pages
    # load their scripts from a CDN.
    app = FastAPI(
        title="custintel",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.custintel = AppState(settings=settings, db=db)
    problems.install(app)
    security.install(app)
    metrics.install(app)
    from custintel.api.routers import ROUTERS

    for router in ROUTERS:
        app.include_router(router)
    from custintel.dashboard import install as install_dashboard

    install_dashboard(app)  # the pages and /static: no key, the data comes from /v1
    return app


def create_worker_app() -> FastAPI:
    """The app of one of several ``custintel serve --workers N`` processes: settings
    from the environment, the database already migrated by ``serve``."""
    return create_app(migrate=False)

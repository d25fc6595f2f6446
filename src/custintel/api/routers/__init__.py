"""One router per capability; ``ROUTERS`` is the list ``create_app`` includes."""

from custintel.api.metrics import router as metrics_router
from custintel.api.routers import customers, dashboard, forecasts, health, models, segments
from custintel.api.routers.jobs import job_routers

ROUTERS = [health.router, metrics_router]
ROUTERS += [segments.router, customers.router, forecasts.router, models.router]
ROUTERS += job_routers
ROUTERS += [dashboard.router]

__all__ = ["ROUTERS"]

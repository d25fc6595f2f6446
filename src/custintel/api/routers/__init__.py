"""One router per capability; ``ROUTERS`` is the list ``create_app`` includes."""

from custintel.api.routers import health

ROUTERS = [health.router]

__all__ = ["ROUTERS"]

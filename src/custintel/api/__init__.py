"""The HTTP API (FastAPI): routes under ``/v1``, one router per capability, thin
handlers over the app database and the service functions (DESIGN.md, HTTP contract)."""

from custintel.api.app import create_app

__all__ = ["create_app"]

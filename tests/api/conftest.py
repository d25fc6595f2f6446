"""API test fixtures: an app over a fresh data directory, and keys of each scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_helpers import bearer as bearer
from custintel.api import create_app
from custintel.appdb.keys import create_key
from custintel.config import Settings


@pytest.fixture()
def settings(home: Path) -> Settings:
    return Settings(home=home)


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.state.custintel.db.dispose()


def key_per_scope(client: TestClient) -> dict[str, str]:
    """A live key of each scope for the app behind ``client``."""
    db = client.app.state.custintel.db  # type: ignore[attr-defined]
    out = {}
    with db.session() as session:
        for scope in ("read", "predict", "admin"):
            key, _ = create_key(session, scope, name=f"test {scope}")
            out[scope] = key
    return out


@pytest.fixture()
def keys(client: TestClient) -> dict[str, str]:
    """A live key of each scope for the bare `client` app."""
    return key_per_scope(client)


@pytest.fixture()
def api(settings: Settings) -> Iterator[TestClient]:
    """An app (body limit, CORS, metrics middleware, as create_app builds it) over a
    seeded shop (tests/api/seed.py)."""
    from seed import seed_shop

    app = create_app(settings)
    seed_shop(app.state.custintel.db, settings.home / "models")
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.state.custintel.db.dispose()


@pytest.fixture()
def api_keys(api: TestClient) -> dict[str, str]:
    """A live key of each scope for the seeded `api` app."""
    return key_per_scope(api)

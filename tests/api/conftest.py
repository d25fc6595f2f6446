"""API test fixtures: an app over a fresh data directory, and keys of each scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

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


@pytest.fixture()
def keys(client: TestClient) -> dict[str, str]:
    """A live key of each scope, as `Authorization` headers."""
    db = client.app.state.custintel.db  # type: ignore[attr-defined]
    out = {}
    with db.session() as session:
        for scope in ("read", "predict", "admin"):
            key, _ = create_key(session, scope, name=f"test {scope}")
            out[scope] = key
    return out


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture()
def api(settings: Settings) -> Iterator[TestClient]:
    """An app (body limit, CORS, metrics middleware, as create_app builds it) over a
    seeded shop (tests/api/seed.py)."""
    from seed import seed_shop

    app = create_app(settings)
    seed_shop(app.state.custintel.db)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.state.custintel.db.dispose()


@pytest.fixture()
def api_keys(api: TestClient) -> dict[str, str]:
    """A live key of each scope for the `api` app."""
    db = api.app.state.custintel.db  # type: ignore[attr-defined]
    out = {}
    with db.session() as session:
        for scope in ("read", "predict", "admin"):
            key, _ = create_key(session, scope, name=f"test {scope}")
            out[scope] = key
    return out


@pytest.fixture()
def redis_url(request: pytest.FixtureRequest) -> str:
    """Redis on 127.0.0.1:6379 (skips, or fails when services are required, without it).

    ``need_service`` comes from tests/conftest.py, which shares this module's name
    ``conftest``, so it is found among the loaded plugins rather than imported."""
    root = str(Path(__file__).resolve().parents[1] / "conftest.py")
    plugins = request.config.pluginmanager.get_plugins()
    top = next(p for p in plugins if getattr(p, "__file__", None) == root)
    top.need_service("Redis", "127.0.0.1", 6379)
    return "redis://127.0.0.1:6379/0"

"""Keys, scopes, rate limits (in process and in Redis), body limit, CORS, ETags and
metrics on the /v1 routes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_helpers import bearer
from custintel.api import create_app, security
from custintel.api import metrics as api_metrics
from custintel.api.security import MemoryRateLimiter
from custintel.appdb.keys import create_key, revoke_key
from custintel.config import Settings

PROBLEM = "application/problem+json"
ROUTES = [
    ("GET", "/v1/segments", "read"),
    ("GET", "/v1/segments/migration?start=2024-01-01&end=2024-04-01", "read"),
    ("GET", "/v1/customers", "read"),
    ("GET", "/v1/customers/C001", "read"),
    ("GET", "/v1/forecasts?timeframe=weekly", "read"),
    ("GET", "/v1/models", "read"),
    ("GET", "/v1/models/value/1", "read"),
    ("POST", "/v1/predictions", "predict"),
    ("POST", "/v1/models/value/1/activate", "admin"),
]
LOWER = {"predict": "read", "admin": "predict"}


def _call(client: TestClient, method: str, path: str, headers: dict[str, str] | None = None):
    body = {"customer_ids": ["C001"]} if path == "/v1/predictions" else None
    return client.request(method, path, headers=headers or {}, json=body)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_a_key_of_its_scope(
    api: TestClient, api_keys: dict[str, str], method: str, path: str, scope: str
) -> None:
    none = _call(api, method, path)
    assert none.status_code == 401 and none.headers["content-type"] == PROBLEM
    assert none.headers["www-authenticate"] == "Bearer"
    assert _call(api, method, path, bearer("ci_" + "x" * 43)).status_code == 401
    assert _call(api, method, path, bearer(api_keys[scope])).status_code == 200
    if scope in LOWER:
        low = _call(api, method, path, bearer(api_keys[LOWER[scope]]))
        assert low.status_code == 403 and scope in low.json()["detail"]


def test_a_revoked_key_is_401_and_never_echoed(api: TestClient, api_keys: dict[str, str]) -> None:
    db = api.app.state.custintel.db  # type: ignore[attr-defined]
    key = api_keys["read"]
    with db.session() as session:
        revoke_key(session, key[:11])
    response = api.get("/v1/segments", headers=bearer(key))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert key not in response.text and key[11:] not in response.text


def test_the_token_bucket_refills_over_time() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(60, clock=lambda: now[0])  # one token per second
    assert all(limiter.take("k") == 0.0 for _ in range(60))
    assert limiter.take("k") == pytest.approx(1.0)
    assert limiter.take("other") == 0.0  # buckets are per key
    now[0] = 2.5
    assert limiter.take("k") == 0.0 and limiter.take("k") == 0.0
    assert limiter.take("k") == pytest.approx(0.5)


def _limited_app(home: Path, **settings: object) -> tuple[TestClient, str, str]:
    app = create_app(Settings(home=home, rate_limit_per_minute=3, **settings))  # type: ignore[arg-type]
    with app.state.custintel.db.session() as session:
        first, _ = create_key(session, "read")
        second, _ = create_key(session, "read")
    return TestClient(app, raise_server_exceptions=False), first, second


def _assert_limited(client: TestClient, first: str, second: str) -> None:
    statuses = [client.get("/v1/models", headers=bearer(first)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    over = client.get("/v1/models", headers=bearer(first))
    assert over.status_code == 429 and over.headers["content-type"] == PROBLEM
    assert 1 <= int(over.headers["retry-after"]) <= 20
    assert first[:11] in over.json()["detail"] and first not in over.text
    assert client.get("/v1/models", headers=bearer(second)).status_code == 200


def test_rate_limit_per_key_in_process(home: Path) -> None:
    client, first, second = _limited_app(home)
    with client:
        _assert_limited(client, first, second)


@pytest.mark.services
def test_rate_limit_per_key_in_redis_is_shared_by_processes(home: Path, redis_url: str) -> None:
    import redis

    url = redis_url
    namespace = f"test-{uuid.uuid4().hex}"
    client, first, second = _limited_app(home, redis_url=url, redis_namespace=namespace)
    limiter = security.limiter_for(client.app.state.custintel)  # type: ignore[attr-defined]
    assert isinstance(limiter, security.RedisRateLimiter)
    assert limiter.namespace == f"{namespace}:ratelimit:"
    with client:
        _assert_limited(client, first, second)
    # a second API process sees the same, spent bucket
    other = security.RedisRateLimiter(url, 3, namespace=limiter.namespace)
    assert other.take(first[:11]) > 0
    keys = redis.Redis.from_url(url).keys(limiter.namespace + "*")
    assert keys and all(first[11:].encode() not in k for k in keys)
    redis.Redis.from_url(url).delete(*keys)
    other.close()
    limiter.close()


def test_a_body_over_the_limit_is_413(home: Path) -> None:
    app = create_app(Settings(home=home, max_body_bytes=100))
    with app.state.custintel.db.session() as session:
        key, _ = create_key(session, "predict")
    ids = [f"customer-{i}" for i in range(50)]
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/predictions", json={"customer_ids": ids}, headers=bearer(key))
        assert response.status_code == 413 and response.headers["content-type"] == PROBLEM
        assert "100 bytes" in response.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            yield b'{"customer_ids": ['
            for i in ids:
                yield f'"{i}",'.encode()
            yield b'"x"]}'

        streamed = client.post(
            "/v1/predictions",
            content=chunks(),
            headers={**bearer(key), "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413, streamed.text
        assert streamed.headers["content-type"] == PROBLEM


def test_cors_allows_only_the_configured_origins(home: Path) -> None:
    app = create_app(Settings(home=home, cors_origins=["https://shop.example"]))
    with TestClient(app) as client:
        preflight = {
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        }
        ok = client.options("/v1/segments", headers={"Origin": "https://shop.example", **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
        bad = client.options(
            "/v1/segments", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in bad.headers


def test_no_cors_headers_without_configured_origins(api: TestClient) -> None:
    response = api.get("/healthz", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/v1/segments",
        "/v1/customers?sort=clv&limit=5",
        "/v1/forecasts?timeframe=weekly&horizon=2",
        "/v1/segments/migration?start=2024-01-01&end=2024-04-01",
    ],
)
def test_expensive_reads_answer_304_to_a_current_etag(
    api: TestClient, api_keys: dict[str, str], path: str
) -> None:
    first = api.get(path, headers=bearer(api_keys["read"]))
    tag = first.headers["etag"]
    again = api.get(path, headers={**bearer(api_keys["read"]), "If-None-Match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag and not again.content
    cached = api.get(path, headers=bearer(api_keys["read"]))
    assert cached.json() == first.json()


def test_activation_changes_the_etag(api: TestClient, api_keys: dict[str, str]) -> None:
    read = bearer(api_keys["read"])
    tag = api.get("/v1/customers", headers=read).headers["etag"]
    api.post("/v1/models/value/2/activate", headers=bearer(api_keys["admin"]))
    response = api.get("/v1/customers", headers={**read, "If-None-Match": tag})
    assert response.status_code == 200 and response.headers["etag"] != tag
    assert response.json()["model"]["version"] == 2


@pytest.mark.services
def test_the_response_cache_in_redis(home: Path, redis_url: str) -> None:
    from seed import seed_shop

    from custintel.api.cache import RedisCache, cache_for

    namespace = f"test-{uuid.uuid4().hex}"
    app = create_app(Settings(home=home, redis_url=redis_url, redis_namespace=namespace))
    seed_shop(app.state.custintel.db)
    cache = cache_for(app.state.custintel)
    assert isinstance(cache, RedisCache)
    assert cache.namespace == f"{namespace}:cache:"
    with app.state.custintel.db.session() as session:
        key, _ = create_key(session, "read")
    with TestClient(app) as client:
        first = client.get("/v1/segments", headers=bearer(key))
        stored = cache._redis.keys(cache.namespace + "*")
        assert len(stored) == 1
        assert client.get("/v1/segments", headers=bearer(key)).json() == first.json()
        cache._redis.delete(*stored)
    cache.close()


def test_the_redis_namespace_names_the_job_queue_and_refuses_separators(home: Path) -> None:
    """Deployments sharing one Redis database keep apart by their namespace: it prefixes
    the rate-limit and cache keys (tests above) and names the job queue."""
    from pydantic import ValidationError

    from custintel.jobs.queue import build_huey

    assert build_huey(Settings(home=home, redis_namespace="shop-a")).name == "shop-a"
    assert build_huey(Settings(home=home)).name == "custintel"
    with pytest.raises(ValidationError, match="redis_namespace"):
        Settings(home=home, redis_namespace="shop a:b")


def test_metrics_are_open_and_count_by_route_template(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    api.get("/v1/customers/C001", headers=bearer(api_keys["read"]))
    api.get("/v1/customers/C002", headers=bearer(api_keys["read"]))
    api.post(
        "/v1/predictions",
        json={"customer_ids": ["C001", "C002", "zz"]},
        headers=bearer(api_keys["predict"]),
    )
    response = api.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/")
    text = response.text
    assert (
        'custintel_http_request_duration_seconds_count{method="GET",'
        'route="/v1/customers/{customer_id}",status="200"} 2.0' in text
    )
    assert "C001" not in text
    assert 'custintel_predictions_served_total{route="/v1/predictions"} 2.0' in text
    assert 'custintel_predictions_served_total{route="/v1/customers/{customer_id}"} 2.0' in text
    assert 'custintel_model_age_seconds{capability="value"}' in text
    assert api_keys["read"] not in text


def test_metrics_without_middleware_still_answer(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 200
    api_metrics.metrics_for(client.app.state.custintel)  # type: ignore[attr-defined]


def test_a_key_revoked_elsewhere_stops_once_its_cache_entry_expires(
    api: TestClient, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verified key is trusted for key_cache_seconds; after that the revocation
    (made by another process, here straight in the database) applies."""
    import time as clock

    state = api.app.state.custintel  # type: ignore[attr-defined]
    key = api_keys["read"]
    assert api.get("/v1/segments", headers=bearer(key)).status_code == 200
    with state.db.session() as session:
        revoke_key(session, key[:11])
    assert api.get("/v1/segments", headers=bearer(key)).status_code == 200  # still cached
    later = clock.monotonic() + state.settings.key_cache_seconds + 1
    monkeypatch.setattr("custintel.api.deps.time.monotonic", lambda: later)
    assert api.get("/v1/segments", headers=bearer(key)).status_code == 401


def test_metrics_count_jobs_by_outcome_with_their_run_time(api: TestClient) -> None:
    from datetime import datetime, timedelta

    from custintel.appdb.schema import Job

    db = api.app.state.custintel.db  # type: ignore[attr-defined]
    start = datetime(2026, 1, 1, 3, 0, 0)
    with db.session() as session:
        session.add_all(
            [
                Job(
                    id="a" * 32,
                    kind="train",
                    status="succeeded",
                    started_at=start,
                    finished_at=start + timedelta(seconds=30),
                ),
                Job(
                    id="b" * 32,
                    kind="train",
                    status="succeeded",
                    started_at=start,
                    finished_at=start + timedelta(seconds=50),
                ),
                Job(
                    id="c" * 32,
                    kind="bulk",
                    status="failed",
                    started_at=start,
                    finished_at=start + timedelta(seconds=5),
                ),
                Job(id="d" * 32, kind="sync", status="queued"),
            ]
        )
    text = api.get("/metrics").text
    assert 'custintel_jobs{kind="train",status="succeeded"} 2.0' in text
    assert 'custintel_job_duration_seconds_sum{kind="train",status="succeeded"} 80.0' in text
    assert 'custintel_jobs{kind="bulk",status="failed"} 1.0' in text
    assert 'custintel_jobs{kind="sync",status="queued"} 1.0' in text

"""Health checks and the problem+json shape of errors."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_answers_without_a_key(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_503_with_reasons_before_any_training(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["retry-after"]
    body = response.json()
    assert body["status"] == "not ready"
    assert any("segmentation has no active model" in r for r in body["reasons"])


def test_an_unknown_route_is_problem_json_naming_the_path(client: TestClient) -> None:
    response = client.get("/v1/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "/v1/nothing" in response.json()["detail"]

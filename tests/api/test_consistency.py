"""Atomic activation under concurrent requests, and the routes on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from seed import seed_shop

from api_helpers import bearer
from custintel.api import create_app, queries
from custintel.appdb.keys import create_key
from custintel.config import Settings
from custintel.registry.versions import activate


def test_every_answer_comes_from_exactly_one_version_while_activations_swap(
    api: TestClient, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Activations here come from "another process" (straight to the database), which an
    # API process sees after ACTIVE_TTL_SECONDS; look every time so both are served.
    monkeypatch.setattr(queries, "ACTIVE_TTL_SECONDS", 0.0)
    db = api.app.state.custintel.db  # type: ignore[attr-defined]
    stop = threading.Event()
    seen: list[tuple[int, float, float, int]] = []
    errors: list[str] = []

    def swap() -> None:
        version = 1
        while not stop.is_set():
            version = 3 - version
            with db.session() as session:
                activate(session, "value", version)

    def read() -> None:
        for _ in range(40):
            response = api.get("/v1/customers/C003", headers=bearer(api_keys["read"]))
            if response.status_code != 200:
                errors.append(response.text)
                continue
            body = response.json()
            (value,) = [m["version"] for m in body["models"] if m["capability"] == "value"]
            p = body["predictions"]
            seen.append((value, p["expected_spend"], p["clv"], len(p["top_factors"])))

    swapper = threading.Thread(target=swap)
    readers = [threading.Thread(target=read) for _ in range(4)]
    swapper.start()
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    swapper.join()
    assert not errors
    assert len(seen) == 160
    for version, spend, clv, _ in seen:  # C003 is i=2: spend 100v+2, clv 1000v+2
        assert (spend, clv) == (100.0 * version + 2, 1000.0 * version + 2)
    assert {v for v, *_ in seen} == {1, 2}, "both versions were served"


def test_customers_and_models_on_postgresql(home: Path, postgres_url: str) -> None:
    app = create_app(Settings(home=home, database_url=postgres_url))
    db = app.state.custintel.db
    seed_shop(db)
    with db.session() as session:
        read, _ = create_key(session, "read")
        admin, _ = create_key(session, "admin")
        predict, _ = create_key(session, "predict")
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            one = client.get("/v1/customers/C002", headers=bearer(read)).json()
            assert one["predictions"]["expected_spend"] == 101.0
            assert one["segment"]["rfm_segment"] == "At risk"
            page = client.get(
                "/v1/customers",
                params={"sort": "churn_probability", "order": "asc", "limit": 3},
                headers=bearer(read),
            ).json()
            assert [c["customer_id"] for c in page["items"]] == ["C010", "C009", "C008"]
            last = client.get(
                "/v1/customers",
                params={"sort": "churn_probability", "offset": 9},
                headers=bearer(read),
            ).json()
            assert [c["customer_id"] for c in last["items"]] == ["C004"]  # nulls last
            batch = client.post(
                "/v1/predictions", json={"customer_ids": ["C001", "x"]}, headers=bearer(predict)
            ).json()
            assert batch["unknown"] == ["x"]
            migration = client.get(
                "/v1/segments/migration",
                params={"start": "2024-01-01", "end": "2024-04-01"},
                headers=bearer(read),
            ).json()
            assert sum(f["customers"] for f in migration["flows"]) == 10
            models = client.get("/v1/models", headers=bearer(read)).json()
            assert len(models) == 5
            activated = client.post("/v1/models/value/2/activate", headers=bearer(admin))
            assert activated.status_code == 200
            detail = client.get("/v1/models/value/2", headers=bearer(read)).json()
            assert detail["active"] is True
            assert (
                client.get("/v1/customers/C002", headers=bearer(read)).json()["predictions"][
                    "expected_spend"
                ]
                == 201.0
            )
    finally:
        db.dispose()

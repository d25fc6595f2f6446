"""The /v1/jobs, /v1/bulk and /v1/schedules routes over a real app; tasks run inline
(immediate mode) except where the test is about a job that waits in the queue."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jobs_helpers import bearer, no_traceback
from openpyxl import load_workbook

from custintel.api import create_app
from custintel.appdb.keys import create_key
from custintel.config import Settings
from custintel.jobs.queue import JobQueue, build_huey


def make_app(settings: Settings, *, immediate: bool) -> FastAPI:
    app = create_app(settings)
    state = app.state.custintel
    if immediate:
        huey = build_huey(settings, immediate=True)
        state.extras["jobs"] = JobQueue(settings, db=state.db, huey=huey, schedules=False)
    return app


@pytest.fixture()
def app(settings: Settings) -> Iterator[FastAPI]:
    app = make_app(settings, immediate=True)
    yield app
    app.state.custintel.db.dispose()


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture()
def keys(app: FastAPI) -> dict[str, dict[str, str]]:
    out = {}
    with app.state.custintel.db.session() as session:
        for scope in ("read", "predict", "admin"):
            key, _ = create_key(session, scope)
            out[scope] = bearer(key)
    return out


def test_submit_train_then_status_and_result(
    client: TestClient, keys: dict[str, dict[str, str]], fake_training: list[object]
) -> None:
    response = client.post(
        "/v1/jobs", json={"kind": "train", "capability": "value"}, headers=keys["admin"]
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    status = client.get(f"/v1/jobs/{job['id']}", headers=keys["read"]).json()
    assert status["status"] == "succeeded" and status["percent"] == 100
    assert status["links"]["result"] == f"/v1/jobs/{job['id']}/result"
    result = client.get(f"/v1/jobs/{job['id']}/result", headers=keys["read"]).json()
    assert result["result"]["trained"]["value"]["version"] == 7
    listed = client.get("/v1/jobs?kind=train", headers=keys["read"]).json()
    assert [j["id"] for j in listed] == [job["id"]]


def test_scopes_and_validation(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    body = {"kind": "train"}
    assert client.post("/v1/jobs", json=body).status_code == 401
    assert client.post("/v1/jobs", json=body, headers=keys["predict"]).status_code == 403
    bad = client.post("/v1/jobs", json={"kind": "bake"}, headers=keys["admin"])
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/jobs/" + "0" * 32, headers=keys["read"]).status_code == 404
    assert client.get("/v1/jobs/../etc", headers=keys["read"]).status_code == 404
    assert client.get("/v1/jobs/xyz", headers=keys["read"]).status_code == 422


def test_a_failed_job_shows_its_error_and_can_be_retried(
    client: TestClient, keys: dict[str, dict[str, str]], settings: Settings
) -> None:
    job = client.post("/v1/jobs", json={"kind": "sync"}, headers=keys["admin"]).json()
    assert job["status"] == "failed" and "custintel.toml" in job["error"]
    no_traceback(job["error"])
    result = client.get(f"/v1/jobs/{job['id']}/result", headers=keys["read"])
    assert result.status_code == 409 and "failed" in result.json()["detail"]
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=keys["admin"]).status_code == 409

    settings.mapping_path.write_text('[tables.orders]\npath = "orders.csv"\n')
    (settings.home / "orders.csv").write_text("customer_id,ordered_at,amount\nc1,2024-01-02,3\n")
    retried = client.post(f"/v1/jobs/{job['id']}/retry", headers=keys["admin"])
    assert retried.status_code == 202
    assert retried.json()["status"] == "succeeded" and retried.json()["id"] == job["id"]
    assert client.post(f"/v1/jobs/{job['id']}/retry", headers=keys["admin"]).status_code == 409


def test_a_job_survives_a_restart_of_the_api_and_can_be_cancelled(
    settings: Settings, fake_training: list[object]
) -> None:
    first = make_app(settings, immediate=False)  # the real SQLite queue, no worker
    with TestClient(first) as client:
        with first.state.custintel.db.session() as session:
            admin = bearer(create_key(session, "admin")[0])
        job = client.post("/v1/jobs", json={"kind": "train"}, headers=admin).json()
        running = client.get(f"/v1/jobs/{job['id']}/result", headers=admin)
        assert running.status_code == 409 and "queued (0%)" in running.json()["detail"]
    first.state.custintel.db.dispose()

    second = make_app(settings, immediate=False)
    with TestClient(second) as client:
        again = client.get(f"/v1/jobs/{job['id']}", headers=admin).json()
        assert again["status"] == "queued"
        queue: JobQueue = second.state.custintel.extras["jobs"]
        assert queue.huey.pending_count() == 1  # the message survived too
        cancelled = client.post(f"/v1/jobs/{job['id']}/cancel", headers=admin).json()
        assert cancelled["status"] == "cancelled"
        # the queued message is revoked: a worker skips it
        (message,) = queue.huey.pending()
        assert queue.huey.is_revoked(message)
    second.state.custintel.db.dispose()
    assert fake_training == []


def test_bulk_upload_to_download(
    client: TestClient, keys: dict[str, dict[str, str]], fake_scoring: None
) -> None:
    files = {"file": ("../../my ids.csv", b"customer_id\nc1\nzz\nc1\n", "text/csv")}
    assert client.post("/v1/bulk", files=files, headers=keys["read"]).status_code == 403
    response = client.post("/v1/bulk", files=files, headers=keys["predict"])
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "succeeded"
    assert job["params"]["filename"] == "my ids.csv" and job["params"]["duplicates"] == 1
    url = f"/v1/jobs/{job['id']}/result"
    csv = client.get(url + "?format=csv", headers=keys["read"])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == [
        "customer_id,found,expected_spend,caveats",
        "c1,True,10.0,",
        "zz,False,,",
    ]
    xlsx = client.get(url + "?format=xlsx", headers=keys["read"])
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet["A3"].value == "zz"
    summary = client.get(url, headers=keys["read"]).json()
    assert summary["result"]["rows"] == 2


def test_bulk_upload_errors_name_the_row(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    files = {"file": ("ids.csv", b"customer_id,name\nc1,a\n,b\n", "text/csv")}
    response = client.post("/v1/bulk", files=files, headers=keys["predict"])
    assert response.status_code == 422
    assert "row 3: 'customer_id' is empty" in response.json()["detail"]


def test_bulk_template(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    response = client.get("/v1/bulk/template", headers=keys["read"])
    assert response.status_code == 200 and response.text == "customer_id\n"
    assert "attachment" in response.headers["content-disposition"]


def test_a_train_job_has_no_result_file(
    client: TestClient, keys: dict[str, dict[str, str]], fake_training: list[object]
) -> None:
    job = client.post("/v1/jobs", json={"kind": "train"}, headers=keys["admin"]).json()
    response = client.get(f"/v1/jobs/{job['id']}/result?format=csv", headers=keys["read"])
    assert response.status_code == 422


def test_schedules_are_listed(
    client: TestClient, keys: dict[str, dict[str, str]], settings: Settings
) -> None:
    assert client.get("/v1/schedules", headers=keys["read"]).json() == []
    settings.mapping_path.write_text('[schedule]\ntrain = "0 3 * * *"\n')
    (schedule,) = client.get("/v1/schedules", headers=keys["read"]).json()
    assert schedule["name"] == "train" and schedule["cron"] == "0 3 * * *"
    assert schedule["timezone"] == "UTC" and schedule["next_run"].endswith(
        ("03:00:00Z", "03:00:00+00:00")
    )


def test_redis_down_is_503_with_retry_after_and_reads_still_answer(settings: Settings) -> None:
    """With the job queue on a Redis that does not answer, starting a job is 503 with
    Retry-After (not a 500), and the job list, read from the app database, still works."""
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    app = create_app(down)
    with app.state.custintel.db.session() as session:
        key, _ = create_key(session, "admin")
    with TestClient(app, raise_server_exceptions=False) as client:
        started = client.post(
            "/v1/jobs", json={"kind": "train", "capability": "value"}, headers=bearer(key)
        )
        assert started.status_code == 503, started.text
        assert started.headers["retry-after"] and "job queue" in started.json()["detail"]
        assert client.get("/v1/jobs", headers=bearer(key)).status_code == 200
    app.state.custintel.db.dispose()

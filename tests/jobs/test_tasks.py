"""The huey tasks, run inline (immediate mode): each keeps its job row true, a failed
training never replaces the active model, errors are messages (never tracebacks or
secrets), crashes are retried by huey while attempts remain, cancellation works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from jobs_helpers import fake_version, no_traceback

from custintel import training
from custintel.appdb import AppDB
from custintel.appdb.schema import ModelVersion
from custintel.config import Settings
from custintel.errors import NotEnoughData, SourceConnectionError
from custintel.jobs.queue import JobQueue
from custintel.jobs.state import cancel_job, get_job
from custintel.jobs.tasks import RETRY_DELAY
from custintel.registry.versions import activate, active


def test_train_one_capability_succeeds_with_its_version(
    queue: JobQueue, fake_training: list[tuple[str, str | None]]
) -> None:
    job = queue.submit("train", {"capability": "forecasting"})
    assert job.status == "succeeded", job.error
    assert fake_training == [("forecasting", job.id)]
    assert job.progress == 1.0 and job.attempts == 1
    assert job.result == {
        "trained": {
            "forecasting": {"version": 7, "model_version_id": 107, "metrics": {"mae": 1.5}}
        },
        "failed": {},
    }


def test_train_all_trains_every_capability(
    queue: JobQueue, fake_training: list[tuple[str, str | None]]
) -> None:
    job = queue.submit("train", {"capability": "all"})
    assert job.status == "succeeded"
    assert [c for c, _ in fake_training] == ["segmentation", "forecasting", "value"]


def _activate_v1(db: AppDB) -> None:
    with db.session() as session:
        session.add(ModelVersion(capability="value", version=1, artifact="v1", sha256="a" * 64))
        session.flush()
        activate(session, "value", 1)


def test_a_failed_training_fails_the_job_and_keeps_the_active_model(
    queue: JobQueue, db: AppDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    _activate_v1(db)

    def train_capability(settings: Settings, capability: str, **_: Any) -> Any:
        raise NotEnoughData(
            "only 3 customers have two orders", where="orders", hint="sync more history"
        )

    monkeypatch.setattr(training, "train_capability", train_capability)
    job = queue.submit("train", {"capability": "value"})

    assert job.status == "failed"
    assert job.error == "orders: only 3 customers have two orders\nFix: sync more history"
    assert job.attempts == 1  # the data's fault: not retried
    with db.session() as session:
        still = active(session, "value")
        assert still is not None and still.version == 1


def test_train_all_reports_which_capability_failed_and_keeps_the_others(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    def train_capability(settings: Settings, capability: str, **_: Any) -> Any:
        if capability == "forecasting":
            raise NotEnoughData("fewer than 8 weeks of orders")
        return fake_version(capability)

    monkeypatch.setattr(training, "train_capability", train_capability)
    job = queue.submit("train", {"capability": "all"})
    assert job.status == "failed"
    assert job.error == "1 of 3 failed: forecasting: fewer than 8 weeks of orders"
    assert job.result is not None and set(job.result["trained"]) == {"segmentation", "value"}


def test_a_crash_is_retried_by_huey_then_fails_with_the_type_only(
    settings: Settings, db: AppDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custintel.jobs.queue import build_huey

    calls = []

    def train_capability(settings: Settings, capability: str, **_: Any) -> Any:
        calls.append(capability)
        raise RuntimeError("postgresql://shop:s3cret@db/shop exploded")

    monkeypatch.setattr(training, "train_capability", train_capability)
    huey = build_huey(settings, immediate=True)
    queue = JobQueue(settings.model_copy(update={"job_max_attempts": 2}), db=db, huey=huey)
    job = queue.submit("train", {"capability": "value"})
    # immediate mode keeps huey's delayed retry in its schedule: run it as the consumer would
    assert job.status == "queued" and "attempt 1 of 2" in (job.message or "")
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=RETRY_DELAY + 1)
    (retry,) = huey.read_schedule(later)
    huey.execute(retry, later)
    job = get_job(db, job.id)
    assert len(calls) == 2 and job.attempts == 2
    assert job.status == "failed"
    assert job.error == (
        "an unexpected error happened (RuntimeError); the worker log has the details; "
        "2 attempts made"
    )
    no_traceback(job.error)


def test_secrets_in_error_messages_are_masked(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    def train_capability(settings: Settings, capability: str, **_: Any) -> Any:
        raise SourceConnectionError(
            "connection refused", where="postgresql+psycopg://shop:s3cret@10.0.0.5/shop"
        )

    monkeypatch.setattr(training, "train_capability", train_capability)
    job = queue.submit("train", {"capability": "segmentation"})
    assert job.status == "failed" and job.error is not None
    assert "s3cret" not in job.error and "shop:***@10.0.0.5" in job.error


def test_cancel_seen_at_a_progress_point_stops_the_job(
    queue: JobQueue, db: AppDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    def train_capability(settings: Settings, capability: str, *, progress: Any, **_: Any) -> Any:
        progress(0.2, "started")
        cancel_job(db, _["job_id"])  # someone asks for the cancellation meanwhile
        progress(0.4, "still going")
        raise AssertionError("not reached")

    monkeypatch.setattr(training, "train_capability", train_capability)
    job = queue.submit("train", {"capability": "value"})
    assert job.status == "cancelled"
    assert job.progress == pytest.approx(0.4)  # the point where it was seen


def test_sync_without_a_mapping_fails_with_the_fix(queue: JobQueue) -> None:
    job = queue.submit("sync", {})
    assert job.status == "failed" and job.error is not None
    assert "custintel.toml" in job.error and "Fix:" in job.error


def test_sync_loads_the_data_directory_mapping(queue: JobQueue, settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "orders.csv").write_text(
        "customer_id,ordered_at,amount,order_id\nc1,2024-01-02,10.5,o1\nc2,2024-01-03,20,o2\n"
        "c1,2024-02-01,5,o3\nc1,2024-02-01,-5,o3\nc2,2024-01-03,20,o2\n"
    )
    settings.mapping_path.write_text('[tables.orders]\npath = "orders.csv"\n')
    job = queue.submit("sync", {})
    assert job.status == "succeeded", job.error
    assert job.result is not None
    (orders,) = [t for t in job.result["tables"] if t["table"] == "orders"]
    # o3's return is another row of o3; o2's second, identical row a double export.
    assert (orders["inserted"], orders["numbered_rows"]) == (4, 1)
    assert (orders["rejected"], orders["reasons"]) == (1, {"duplicate": 1})
    assert orders["rejects_file"].startswith("orders-")


def test_bulk_scores_the_uploaded_ids_in_chunks(
    queue: JobQueue, settings: Settings, fake_scoring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custintel.jobs import tasks
    from custintel.jobs.bulk import result_file, write_input
    from custintel.jobs.state import new_job_id

    monkeypatch.setattr(tasks, "BULK_CHUNK", 2)
    job_id = new_job_id()
    write_input(settings, job_id, ["c1", "x2", "c3"])
    job = queue.submit("bulk", {}, job_id=job_id)
    assert job.status == "succeeded", job.error
    assert job.result is not None and job.result["customers"] == 3 and job.result["rows"] == 3
    text = result_file(settings, job_id, "csv").read_text()
    assert text.splitlines()[0] == "customer_id,found,expected_spend,caveats"
    assert "x2,False," in text


@pytest.mark.parametrize("served", [1, 2])
def test_bulk_reads_the_version_it_started_with_and_repeats_its_caveats(
    queue: JobQueue, settings: Settings, db: AppDB, monkeypatch: pytest.MonkeyPatch, served: int
) -> None:
    """Another value version activated while a bulk job runs changes none of its rows;
    the result names the version the rows came from and carries its caveats."""
    from api.seed import CHANCE_NOTE, seed_shop
    from custintel.jobs import tasks
    from custintel.jobs.bulk import result_file, write_input
    from custintel.jobs.state import new_job_id

    seed_shop(db)  # value versions 1 (measured) and 2 (churn at chance)
    with db.session() as s:
        activate(s, "value", served)
    other = 3 - served
    real = training.score_ids

    def score_then_switch(*args: Any, **kwargs: Any) -> Any:
        frame = real(*args, **kwargs)
        with db.session() as s:
            activate(s, "value", other)
        return frame

    monkeypatch.setattr(training, "score_ids", score_then_switch)
    monkeypatch.setattr(tasks, "BULK_CHUNK", 2)
    job_id = new_job_id()
    write_input(settings, job_id, ["C001", "C002", "C003", "C004", "C005"])
    job = queue.submit("bulk", {}, job_id=job_id)
    assert job.status == "succeeded", job.error
    assert job.result is not None and job.result["model_version"] == served
    expected = (
        [{"output": "churn_probability", "status": "no better than chance", "note": CHANCE_NOTE}]
        if served == 2
        else []
    )
    assert job.result["caveats"] == expected
    rows = pd.read_csv(result_file(settings, job_id, "csv"), keep_default_na=False)
    # the seed's spend encodes the version: 100 * version + the customer's position
    assert rows["expected_spend"].tolist() == [100.0 * served + i for i in range(5)]
    # the file says it too, on every row, for whoever opens it without the job's result
    cell = "churn_probability: no better than chance" if served == 2 else ""
    assert rows["caveats"].tolist() == [cell] * 5

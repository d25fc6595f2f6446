"""Job rows: create, list, cancel, retry, progress with heartbeat, and recovery of
jobs whose worker died."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from custintel.appdb import AppDB
from custintel.appdb.schema import Job
from custintel.jobs.state import (
    DEAD_WORKER,
    JobCancelled,
    JobConflict,
    JobInfo,
    JobNotFound,
    Reporter,
    cancel_job,
    create_job,
    finish_job,
    get_job,
    list_jobs,
    recover_stale,
    reset_for_retry,
    start_job,
)


def test_a_new_job_is_queued_and_listed_newest_first(db: AppDB) -> None:
    first = create_job(db, "train", {"capability": "all"})
    second = create_job(db, "sync", {})
    assert first.status == "queued" and first.progress == 0.0 and first.attempts == 0
    assert len(first.id) == 32
    assert {j.id for j in list_jobs(db)} == {first.id, second.id}
    assert [j.id for j in list_jobs(db, kind="sync")] == [second.id]
    assert list_jobs(db, status="running") == []


def test_unknown_job_is_not_found(db: AppDB) -> None:
    with pytest.raises(JobNotFound, match="no job"):
        get_job(db, "0" * 32)


def test_start_counts_an_attempt_and_skips_jobs_not_queued(db: AppDB) -> None:
    job = create_job(db, "sync", {})
    started = start_job(db, job.id)
    assert started is not None and started.status == "running" and started.attempts == 1
    assert start_job(db, job.id) is None  # a second message for the same job is stale
    finish_job(db, job.id, "succeeded", result={"ok": True})
    done = get_job(db, job.id)
    assert done.status == "succeeded" and done.progress == 1.0 and done.result == {"ok": True}


def test_cancel_a_queued_job_at_once_and_a_running_one_at_its_next_progress_point(
    db: AppDB,
) -> None:
    queued = create_job(db, "sync", {})
    assert cancel_job(db, queued.id).status == "cancelled"
    assert start_job(db, queued.id) is None

    running = create_job(db, "sync", {})
    start_job(db, running.id)
    asked = cancel_job(db, running.id)
    assert asked.status == "running" and asked.cancel_requested
    with pytest.raises(JobCancelled):
        Reporter(db, running.id)(0.5, "half way")
    finish_job(db, running.id, "cancelled")
    with pytest.raises(JobConflict, match="already cancelled"):
        cancel_job(db, running.id)


def test_retry_only_failed_or_cancelled_jobs_with_fresh_attempts(db: AppDB) -> None:
    job = create_job(db, "sync", {})
    with pytest.raises(JobConflict, match="only failed or cancelled"):
        reset_for_retry(db, job.id)
    start_job(db, job.id)
    finish_job(db, job.id, "failed", error="boom")
    again = reset_for_retry(db, job.id)
    assert (again.status, again.attempts, again.error, again.progress) == ("queued", 0, None, 0.0)


def test_reporter_records_progress_message_and_heartbeat(db: AppDB) -> None:
    job = create_job(db, "train", {})
    start_job(db, job.id)
    reporter = Reporter(db, job.id)
    reporter.part(0.5, 0.5)(0.5, "second half, half done")
    now = get_job(db, job.id)
    assert now.progress == pytest.approx(0.75)
    assert now.message == "second half, half done"
    reporter("orders", "read")  # sync's (table, step) form: a message, no progress
    assert get_job(db, job.id).message == "read orders"
    assert get_job(db, job.id).progress == pytest.approx(0.75)


def test_reporter_beats_between_progress_calls(db: AppDB) -> None:
    job = create_job(db, "train", {})
    start_job(db, job.id)
    with db.session() as session:
        session.get(Job, job.id).heartbeat_at = datetime(2020, 1, 1, tzinfo=UTC)  # type: ignore[union-attr]
    with Reporter(db, job.id, heartbeat_seconds=0.05):
        time.sleep(0.3)
    beat = get_job(db, job.id).heartbeat_at
    assert beat is not None and beat.year > 2020


def _running(db: AppDB, attempts: int, *, cancel: bool = False) -> JobInfo:
    job = create_job(db, "train", {"capability": "all"})
    for _ in range(attempts):
        start_job(db, job.id)
        with db.session() as session:
            session.get(Job, job.id).status = "queued"  # type: ignore[union-attr]
    start_job(db, job.id)
    if cancel:
        cancel_job(db, job.id)
    return get_job(db, job.id)


def test_recover_stale_requeues_while_attempts_remain_then_fails_with_the_reason(
    db: AppDB,
) -> None:
    fresh = _running(db, 0)  # attempt 1 of 3
    spent = _running(db, 2)  # attempt 3 of 3
    stopping = _running(db, 0, cancel=True)
    requeued: list[str] = []
    later = datetime.now(UTC) + timedelta(minutes=5)

    assert recover_stale(db, timedelta(minutes=10), max_attempts=3, now=later) == []
    changed = recover_stale(
        db, timedelta(minutes=1), max_attempts=3, requeue=lambda j: requeued.append(j.id), now=later
    )

    assert {j.id for j in changed} == {fresh.id, spent.id, stopping.id}
    assert get_job(db, fresh.id).status == "queued"
    assert DEAD_WORKER in (get_job(db, fresh.id).message or "")
    assert requeued == [fresh.id]
    failed = get_job(db, spent.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.startswith(DEAD_WORKER)
    assert get_job(db, stopping.id).status == "cancelled"
    assert not [j for j in list_jobs(db) if j.status == "running"]

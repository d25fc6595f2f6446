"""Real consumers: the in-process worker on the SQLite queue, one task through Redis,
and a worker process killed mid-job (SIGKILL) whose job recovery settles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from jobs_helpers import wait_for
from typer.testing import CliRunner

from custintel.appdb import AppDB
from custintel.config import Settings
from custintel.jobs.queue import JobQueue, build_huey, start_in_process_worker
from custintel.jobs.state import DEAD_WORKER, get_job


def test_in_process_worker_runs_queued_jobs_on_sqlite(
    settings: Settings, db: AppDB, fake_training: list[tuple[str, str | None]]
) -> None:
    queue = JobQueue(settings, db=db)  # SQLite at $CUSTINTEL_HOME/jobs.huey.db
    assert Path(queue.huey.storage.filename) == settings.home / "jobs.huey.db"
    job = queue.submit("train", {"capability": "segmentation"})
    assert job.status == "queued"
    handle = start_in_process_worker(settings, queue=queue)
    try:
        done = wait_for(lambda: (j := get_job(db, job.id)).status == "succeeded" and j)
    finally:
        handle.stop()
    assert done.progress == 1.0 and fake_training == [("segmentation", job.id)]
    assert queue.huey.pending_count() == 0


def test_one_task_through_redis(
    settings: Settings, db: AppDB, redis_url: str, fake_training: list[tuple[str, str | None]]
) -> None:
    import redis

    name = f"custintel-test-{uuid.uuid4().hex[:10]}"
    on_redis = settings.model_copy(update={"redis_url": redis_url})
    huey = build_huey(on_redis, name=name)
    queue = JobQueue(on_redis, db=db, huey=huey)
    try:
        job = queue.submit("train", {"capability": "value"})
        assert huey.pending_count() == 1  # the message is in Redis
        handle = start_in_process_worker(on_redis, queue=queue)
        try:
            done = wait_for(lambda: (j := get_job(db, job.id)).status == "succeeded" and j)
        finally:
            handle.stop()
        assert done.result is not None and done.result["trained"]["value"]["version"] == 7
        assert huey.pending_count() == 0
    finally:
        huey.storage.flush_all()
        client = redis.Redis.from_url(redis_url)
        leftover = client.keys(f"huey.*{name}*")
        if leftover:
            client.delete(*leftover)
        assert not client.keys(f"huey.*{name}*")


WORKER = textwrap.dedent(
    """
    import sys, time
    from custintel import training
    from custintel.cli.worker_commands import run_worker
    from custintel.config import get_settings

    def train_capability(settings, capability, *, progress, job_id):
        for step in range(600):  # a minute of work, with progress every 0.1 s
            progress(step / 600, f"step {step}")
            time.sleep(0.1)
        raise AssertionError("the test kills the worker long before")

    training.train_capability = train_capability
    run_worker(get_settings())
    """
)


def start_worker(home: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CUSTINTEL_HOME": str(home),
        "CUSTINTEL_JOB_HEARTBEAT_SECONDS": "0.2",
        "CUSTINTEL_JOB_MAX_ATTEMPTS": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_during_run(db: AppDB, job_id: str, worker: subprocess.Popen[bytes], attempt: int) -> None:
    try:
        wait_for(
            lambda: (
                (j := get_job(db, job_id)).status == "running"
                and j.attempts == attempt
                and j.progress > 0
            ),
            timeout=30,
        )
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)


@pytest.mark.slow
def test_a_killed_worker_leaves_the_job_retried_then_failed_never_running(
    settings: Settings, db: AppDB
) -> None:
    settings = settings.model_copy(update={"job_max_attempts": 2})
    queue = JobQueue(settings, db=db)
    job = queue.submit("train", {"capability": "value"})

    kill_during_run(db, job.id, start_worker(settings.home), attempt=1)
    assert get_job(db, job.id).status == "running"  # what the dead worker left
    time.sleep(1.1)  # heartbeats are stored to the second
    (recovered,) = queue.recover(older_than=timedelta(seconds=1))
    assert recovered.status == "queued" and DEAD_WORKER in (recovered.message or "")
    assert job.id in [t.id for t in queue.huey.pending()]  # back in the queue

    kill_during_run(db, job.id, start_worker(settings.home), attempt=2)
    time.sleep(1.1)
    (failed,) = queue.recover(older_than=timedelta(seconds=1))
    final = get_job(db, job.id)
    assert failed.status == final.status == "failed"
    assert final.error == f"{DEAD_WORKER} (attempt 2 of 2)"


def test_worker_command_is_registered() -> None:
    from custintel.cli import app

    result = CliRunner().invoke(app, ["worker", "--help"])
    assert result.exit_code == 0 and "--no-periodic" in result.output

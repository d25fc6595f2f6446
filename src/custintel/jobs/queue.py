"""The job queue: a huey instance built from the settings, and :class:`JobQueue`, which
submits, cancels, retries and recovers jobs over it and the app database.

huey stores its queue in SQLite (``$CUSTINTEL_HOME/jobs.huey.db``) on the embedded
default and in Redis when ``CUSTINTEL_REDIS_URL`` is set. A queue message carries only
the job's id, which is also the huey task id (so huey's ``revoke_by_id`` cancels a
queued job); everything else about a job lives in its row (:mod:`custintel.jobs.state`).
Tasks are registered on each instance when it is built (not at import time), so the
API process and the worker each build theirs from their own settings and agree on the
task names (``custintel.jobs.tasks.<kind>``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from custintel.appdb import AppDB
from custintel.config import Settings
from custintel.errors import ConfigError, StoreError
from custintel.jobs.state import (
    JobInfo,
    cancel_job,
    create_job,
    finish_job,
    get_job,
    recover_stale,
    reset_for_retry,
)

if TYPE_CHECKING:
    from huey.api import TaskWrapper

    from custintel.jobs.schedule import Schedule

__all__ = [
    "KINDS",
    "JobQueue",
    "WorkerHandle",
    "build_huey",
    "consumer_options",
    "huey_path",
    "start_in_process_worker",
]

log = logging.getLogger("custintel.jobs")

KINDS = ("train", "sync", "bulk")


def huey_path(settings: Settings) -> str:
    """The SQLite file of the embedded queue."""
    return str((settings.home / "jobs.huey.db").resolve())


def build_huey(settings: Settings, *, name: str | None = None, immediate: bool = False) -> Huey:
    """A huey instance over Redis (``settings.redis_url``) or the data directory's
    SQLite file, its queue named ``name`` (``settings.redis_namespace`` unless given).
    ``immediate`` runs each task as it is enqueued (unit tests). huey's own result store
    is off: results live in the job rows."""
    name = name or settings.redis_namespace
    common: dict[str, Any] = {"results": False, "utc": True, "immediate": immediate}
    if settings.redis_url:
        return RedisHuey(name, url=settings.redis_url, **common)
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=huey_path(settings), **common)


class JobQueue:
    """Jobs over one huey instance and one app database.

    ``submit`` writes the job row first and then enqueues its id, so a job the API
    accepted is never only in memory; ``recover`` settles the jobs whose worker died.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        db: AppDB | None = None,
        huey: Huey | None = None,
        schedules: bool = True,
    ):
        from custintel.jobs.schedule import register_schedules
        from custintel.jobs.tasks import register_tasks

        self.settings = settings
        self.db = db if db is not None else AppDB.from_settings(settings)
        self.huey = huey if huey is not None else build_huey(settings)
        self.tasks: dict[str, TaskWrapper] = register_tasks(self)
        self.schedules: list[Schedule] = register_schedules(self) if schedules else []

    @property
    def stale_after(self) -> timedelta:
        """How old a running job's heartbeat may be before its worker is taken for dead:
        three beats, and at least 30 seconds."""
        return timedelta(seconds=max(3 * self.settings.job_heartbeat_seconds, 30.0))

    def submit(self, kind: str, params: dict[str, Any], *, job_id: str | None = None) -> JobInfo:
        """Record a queued job and enqueue it; returns the job as it is now (in
        immediate mode, already finished)."""
        if kind not in KINDS:
            raise ConfigError(f"unknown job kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
        job = create_job(self.db, kind, params, job_id=job_id)
        self.enqueue(job)
        return get_job(self.db, job.id)

    def enqueue(self, job: JobInfo) -> None:
        """Put ``job``'s id on the queue; a queue that cannot be reached fails the job
        (with the reason) and raises StoreError."""
        task = self.tasks[job.kind]
        try:
            self.huey.restore_by_id(job.id)  # a revoke left by an earlier cancel
            self.huey.enqueue(task.s(job.id, id=job.id))
        except Exception as error:
            log.exception("job %s: cannot enqueue", job.id)
            reason = f"the job queue is unreachable ({type(error).__name__})"
            finish_job(self.db, job.id, "failed", error=reason)
            raise StoreError(
                reason,
                where="CUSTINTEL_REDIS_URL"
                if self.settings.redis_url
                else huey_path(self.settings),
                hint="check that Redis is running, or that the data directory is writable; "
                "then retry the job",
            ) from None

    def get(self, job_id: str) -> JobInfo:
        return get_job(self.db, job_id)

    def cancel(self, job_id: str) -> JobInfo:
        """Cancel a queued job (its queue message is revoked) or ask a running one to
        stop at its next progress point."""
        job = cancel_job(self.db, job_id)
        if job.status == "cancelled":
            self.huey.revoke_by_id(job_id, revoke_once=True)
        return job

    def retry(self, job_id: str) -> JobInfo:
        """Run a failed or cancelled job again, with fresh attempts."""
        job = reset_for_retry(self.db, job_id)
        self.enqueue(job)
        return get_job(self.db, job_id)

    def recover(self, older_than: timedelta | None = None) -> list[JobInfo]:
        """Settle running jobs whose heartbeat stopped: queued again while attempts
        remain, else failed with the reason. Returns the jobs changed."""
        return recover_stale(
            self.db,
            older_than if older_than is not None else self.stale_after,
            max_attempts=self.settings.job_max_attempts,
            requeue=self.enqueue,
        )


class _EmbeddedConsumer(Consumer):
    """huey's consumer without signal handlers: it runs in threads of a process that
    owns its signals (``custintel serve``), not in the main thread of its own."""

    def _set_signal_handlers(self) -> None:
        pass


@dataclass
class WorkerHandle:
    """A running in-process worker; ``stop()`` lets a running task finish (up to
    ``shutdown_timeout`` seconds; a job cut short is recovered by the next worker)."""

    queue: JobQueue
    consumer: Consumer

    def stop(self) -> None:
        self.consumer.stop(graceful=True)


def consumer_options(*, workers: int = 1, periodic: bool = True) -> dict[str, Any]:
    """The huey consumer's options: thread workers, polling at most every 2 s."""
    return {
        "workers": workers,
        "worker_type": "thread",
        "periodic": periodic,
        "initial_delay": 0.1,
        "backoff": 1.5,
        "max_delay": 2.0,
        "shutdown_timeout": 10.0,
    }


def start_in_process_worker(
    settings: Settings,
    *,
    queue: JobQueue | None = None,
    workers: int = 1,
    periodic: bool = True,
) -> WorkerHandle:
    """Run the job worker in threads of this process (``custintel serve`` on the
    embedded default): stale jobs are recovered first, then huey's consumer starts."""
    queue = queue if queue is not None else JobQueue(settings)
    queue.recover()
    consumer = _EmbeddedConsumer(queue.huey, **consumer_options(workers=workers, periodic=periodic))
    consumer.start()
    log.info("in-process job worker started (%d thread(s))", workers)
    return WorkerHandle(queue, consumer)

"""Job rows in the app database: the one place a job's state lives.

The queue (huey) only carries a job's id; whether it is queued, running, done, its
progress and its result are rows of the ``jobs`` table, so they survive a restart of the
API or of the worker. A running job writes a heartbeat; a job whose heartbeat stops (its
worker was killed) is found by :func:`recover_stale` and put back in the queue, or failed
with the reason once it has used its attempts.

Status moves: ``queued -> running -> succeeded | failed | cancelled``; ``queued ->
cancelled`` (cancel before it starts); ``failed | cancelled -> queued`` (retry);
``running -> queued`` (a crash or a dead worker, while attempts remain).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from custintel.appdb import AppDB
from custintel.appdb.schema import Job, utcnow

__all__ = [
    "DEAD_WORKER",
    "FINISHED",
    "JobCancelled",
    "JobConflict",
    "JobInfo",
    "JobNotFound",
    "Reporter",
    "cancel_job",
    "create_job",
    "finish_job",
    "get_job",
    "list_jobs",
    "new_job_id",
    "recover_stale",
    "requeue_job",
    "reset_for_retry",
    "start_job",
]

log = logging.getLogger("custintel.jobs")

FINISHED = ("succeeded", "failed", "cancelled")
DEAD_WORKER = "the worker stopped during the job"


class JobNotFound(LookupError):
    """No job has this id (the API answers 404)."""

    def __init__(self, job_id: str):
        super().__init__(
            f"no job {job_id!r}; GET /v1/jobs lists the jobs (`custintel worker` runs them)"
        )
        self.job_id = job_id


class JobConflict(RuntimeError):
    """The job is not in a state that allows the action (the API answers 409)."""


class JobCancelled(Exception):
    """Raised at a progress point of a job whose cancellation was asked for."""


@dataclass(frozen=True)
class JobInfo:
    """A job as the API and the CLI show it; ``progress`` is 0..1."""

    id: str
    kind: str
    params: dict[str, Any]
    status: str
    progress: float
    message: str | None
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def _info(row: Job) -> JobInfo:
    return JobInfo(
        row.id,
        row.kind,
        dict(row.params or {}),
        row.status,
        float(row.progress or 0.0),
        row.message,
        row.result,
        row.error,
        row.attempts or 0,
        bool(row.cancel_requested),
        row.created_at,
        row.started_at,
        row.finished_at,
        row.heartbeat_at,
    )


def new_job_id() -> str:
    """32 hex characters: the job's id, also its huey task id and its bulk folder name."""
    return uuid.uuid4().hex


def _row(session: Any, job_id: str) -> Job:
    row: Job | None = session.get(Job, job_id)
    if row is None:
        raise JobNotFound(job_id)
    return row


def create_job(
    db: AppDB, kind: str, params: dict[str, Any], *, job_id: str | None = None
) -> JobInfo:
    """A new queued job row (the caller enqueues it afterwards)."""
    with db.session() as session:
        row = Job(
            id=job_id or new_job_id(),
            kind=kind,
            params=params,
            status="queued",
            progress=0.0,
            attempts=0,
            cancel_requested=False,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return _info(row)


def get_job(db: AppDB, job_id: str) -> JobInfo:
    with db.session() as session:
        return _info(_row(session, job_id))


def list_jobs(
    db: AppDB, *, kind: str | None = None, status: str | None = None, limit: int = 50
) -> list[JobInfo]:
    """The newest ``limit`` jobs, optionally of one kind and status."""
    query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if status is not None:
        query = query.where(Job.status == status)
    with db.session() as session:
        return [_info(r) for r in session.scalars(query)]


def start_job(db: AppDB, job_id: str) -> JobInfo | None:
    """Mark a queued job running (one more attempt) and return it; None when it must
    not run: unknown, cancelled or already finished (a stale queue message)."""
    with db.session() as session:
        row = session.get(Job, job_id, with_for_update=True)
        if row is None or row.status != "queued":
            return None
        if row.cancel_requested:
            row.status, row.finished_at = "cancelled", utcnow()
            row.message = "cancelled before it started"
            return None
        now = utcnow()
        row.status = "running"
        row.attempts = (row.attempts or 0) + 1
        row.started_at = now
        row.heartbeat_at = now
        row.error = None
        row.message = "started"
        return _info(row)


def finish_job(
    db: AppDB,
    job_id: str,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    message: str | None = None,
) -> None:
    """Record the end of a run: ``succeeded`` (with its result), ``failed`` (with the
    error, a message for people, never a traceback) or ``cancelled``."""
    if status not in FINISHED:
        raise ValueError(f"status {status!r} is not one of {FINISHED}")
    with db.session() as session:
        row = _row(session, job_id)
        row.status = status
        row.finished_at = utcnow()
        row.error = error
        if result is not None:
            row.result = result
        if status == "succeeded":
            row.progress = 1.0
        row.message = message or status


def requeue_job(db: AppDB, job_id: str, reason: str) -> None:
    """Put a running job back to queued (it will run again), saying why."""
    with db.session() as session:
        row = _row(session, job_id)
        row.status = "queued"
        row.message = f"queued again: {reason}"
        row.progress = 0.0


def cancel_job(db: AppDB, job_id: str) -> JobInfo:
    """Ask a job to stop: a queued job is cancelled at once; a running one stops at its
    next progress point. Cancelling a finished job is a conflict."""
    with db.session() as session:
        row = _row(session, job_id)
        if row.status in FINISHED:
            raise JobConflict(f"job {job_id} has already {row.status}; there is nothing to cancel")
        row.cancel_requested = True
        if row.status == "queued":
            row.status, row.finished_at = "cancelled", utcnow()
            row.message = "cancelled before it started"
        else:
            row.message = "cancellation requested; the job stops at its next progress point"
        return _info(row)


def reset_for_retry(db: AppDB, job_id: str) -> JobInfo:
    """Queue a failed or cancelled job again, with fresh attempts (the caller
    enqueues it). Retrying a job that is queued, running or succeeded is a conflict."""
    with db.session() as session:
        row = _row(session, job_id)
        if row.status not in ("failed", "cancelled"):
            raise JobConflict(
                f"job {job_id} is {row.status}; only failed or cancelled jobs can be retried"
            )
        row.status = "queued"
        row.progress = 0.0
        row.error = None
        row.result = None
        row.attempts = 0
        row.cancel_requested = False
        row.started_at = row.finished_at = row.heartbeat_at = None
        row.message = "queued again (retry)"
        return _info(row)


def recover_stale(
    db: AppDB,
    older_than: timedelta,
    *,
    max_attempts: int = 3,
    requeue: Callable[[JobInfo], None] | None = None,
    now: datetime | None = None,
) -> list[JobInfo]:
    """Find running jobs whose heartbeat is older than ``older_than`` (their worker
    died) and settle them: queued again (``requeue`` is then called with each, after
    the commit) while ``attempts < max_attempts``, else failed with the reason
    :data:`DEAD_WORKER`. Returns the jobs changed, in their new state."""
    cutoff = (now or datetime.now(UTC)) - older_than
    changed: list[JobInfo] = []
    with db.session() as session:
        rows = session.scalars(
            select(Job).where(Job.status == "running").with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            beat = row.heartbeat_at or row.started_at or row.created_at
            if beat.tzinfo is None:  # SQLite gives naive datetimes back; they are UTC
                beat = beat.replace(tzinfo=UTC)
            if beat >= cutoff:
                continue
            if row.cancel_requested:
                row.status, row.finished_at = "cancelled", utcnow()
                row.message = f"cancelled ({DEAD_WORKER})"
            elif (row.attempts or 0) < max_attempts:
                row.status, row.progress = "queued", 0.0
                row.message = (
                    f"queued again: {DEAD_WORKER} (attempt {row.attempts} of {max_attempts})"
                )
            else:
                row.status, row.finished_at = "failed", utcnow()
                row.error = f"{DEAD_WORKER} (attempt {row.attempts} of {max_attempts})"
                row.message = "failed"
            changed.append(_info(row))
    for job in changed:
        log.warning("job %s (%s): %s", job.id, job.kind, job.message)
        if job.status == "queued" and requeue is not None:
            requeue(job)
    return changed


class Reporter:
    """A running job's progress callback, and its heartbeat.

    Call it with a fraction (0..1) and a message, or with sync's ``(table, step)``;
    each call records progress and a heartbeat, and raises :class:`JobCancelled` when a
    cancellation was asked for. Between calls a daemon thread keeps the heartbeat going
    every ``heartbeat_seconds``, so a long step is not taken for a dead worker; the thread
    dies with the process, which is what lets :func:`recover_stale` tell a dead worker.
    Use it as a context manager (the thread runs inside the ``with``).
    """

    def __init__(
        self,
        db: AppDB,
        job_id: str,
        *,
        heartbeat_seconds: float = 10.0,
        start: float = 0.0,
        span: float = 1.0,
    ):
        self.db = db
        self.job_id = job_id
        self.heartbeat_seconds = heartbeat_seconds
        self.start, self.span = start, span
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def part(self, start: float, span: float) -> Reporter:
        """A reporter for one part of the job: its 0..1 maps to start..start+span."""
        return Reporter(
            self.db,
            self.job_id,
            heartbeat_seconds=self.heartbeat_seconds,
            start=self.start + start * self.span,
            span=span * self.span,
        )

    def __call__(self, first: float | str, second: str = "") -> None:
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if isinstance(first, int | float):
            fraction = min(max(float(first), 0.0), 1.0)
            values["progress"] = round(self.start + fraction * self.span, 4)
            if second:
                values["message"] = second
        else:
            values["message"] = f"{second} {first}".strip()
        with self.db.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))
            cancel = session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id))
        if cancel:
            raise JobCancelled(self.job_id)

    def beat(self) -> None:
        """Record a heartbeat only."""
        with self.db.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(heartbeat_at=utcnow()))

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self.beat()
            except Exception:  # a busy database must not kill the job; the next beat retries
                log.warning("job %s: heartbeat not written", self.job_id, exc_info=True)

    def __enter__(self) -> Reporter:
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{self.job_id[:8]}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

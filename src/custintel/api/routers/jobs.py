"""``/v1/jobs``: background jobs (train, sync, bulk scoring) as durable resources:
submit, status and progress, result, cancel, retry; and ``/v1/schedules``.

Handlers only translate: the job rows and the queue are :mod:`custintel.jobs`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from custintel.api.deps import StateDep
from custintel.api.problems import Problem
from custintel.api.schemas import PROBLEM_RESPONSES
from custintel.api.security import AdminKey, ReadKey
from custintel.jobs.queue import JobQueue
from custintel.jobs.schedule import read_schedules
from custintel.jobs.state import JobConflict, JobInfo, JobNotFound, list_jobs

__all__ = ["JobIn", "JobOut", "QueueDep", "ScheduleOut", "job_out", "job_queue", "router"]

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=PROBLEM_RESPONSES)
schedules_router = APIRouter(prefix="/v1/schedules", tags=["jobs"], responses=PROBLEM_RESPONSES)
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a job id (32 hex digits)")]
_lock = threading.Lock()


class JobIn(BaseModel):
    """A job to run: ``train`` (one capability, or ``all``) or ``sync`` (the data
    directory's custintel.toml into its store)."""

    kind: Literal["train", "sync"]
    capability: Literal["segmentation", "forecasting", "value", "all"] = "all"

    model_config = {"json_schema_extra": {"example": {"kind": "train", "capability": "all"}}}


class JobOut(BaseModel):
    """A job's state; ``progress`` is 0..1 and ``percent`` the same in whole percent."""

    model_config = {
        "json_schema_extra": {
            "example": {
                "id": "6dd71c133bff40b4b3806be17de9a0d4",
                "kind": "train",
                "status": "running",
                "progress": 0.4,
                "percent": 40,
                "message": "training value",
                "error": None,
                "params": {"capability": "all"},
                "result": None,
                "attempts": 1,
                "cancel_requested": False,
                "created_at": "2026-11-29T22:27:57Z",
                "started_at": "2026-11-29T22:27:59Z",
                "finished_at": None,
                "heartbeat_at": "2026-11-29T22:28:09Z",
                "links": {
                    "self": "/v1/jobs/6dd71c133bff40b4b3806be17de9a0d4",
                    "cancel": "/v1/jobs/6dd71c133bff40b4b3806be17de9a0d4/cancel",
                    "retry": "/v1/jobs/6dd71c133bff40b4b3806be17de9a0d4/retry",
                },
            }
        }
    }

    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1)
    percent: int = Field(ge=0, le=100)
    message: str | None
    error: str | None
    params: dict[str, Any]
    result: dict[str, Any] | None
    attempts: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    links: dict[str, str]


class ScheduleOut(BaseModel):
    """A ``[schedule]`` entry of custintel.toml and its next run (UTC)."""

    model_config = {
        "json_schema_extra": {
            "example": {
                "name": "train",
                "cron": "30 2 * * *",
                "kind": "train",
                "params": {"capability": "all"},
                "timezone": "UTC",
                "next_run": "2026-11-30T02:30:00Z",
            }
        }
    }

    name: str
    cron: str
    kind: str
    params: dict[str, str]
    timezone: str = "UTC"
    next_run: datetime | None


def job_out(job: JobInfo) -> JobOut:
    base = f"/v1/jobs/{job.id}"
    links = {"self": base, "cancel": f"{base}/cancel", "retry": f"{base}/retry"}
    if job.status == "succeeded":
        links["result"] = f"{base}/result"
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,  # type: ignore[arg-type]
        progress=job.progress,
        percent=round(job.progress * 100),
        message=job.message,
        error=job.error,
        params=job.params,
        result=job.result,
        attempts=job.attempts,
        cancel_requested=job.cancel_requested,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        heartbeat_at=job.heartbeat_at,
        links=links,
    )


def job_queue(app: StateDep) -> JobQueue:
    """The process's job queue, built on first use from the app's settings and
    database (tests put their own in ``extras["jobs"]``). It does not read
    ``[schedule]``: schedules run in the worker."""
    queue: JobQueue | None = app.extras.get("jobs")
    if queue is None:
        with _lock:
            queue = app.extras.get("jobs")
            if queue is None:
                queue = JobQueue(app.settings, db=app.db, schedules=False)
                app.extras["jobs"] = queue
    return queue


QueueDep = Annotated[JobQueue, Depends(job_queue)]


@contextmanager
def job_problems() -> Iterator[None]:
    """Unknown job: 404; an action the job's state does not allow: 409."""
    try:
        yield
    except JobNotFound as error:
        raise Problem(404, "Job not found", str(error)) from None
    except JobConflict as error:
        raise Problem(409, "Conflict", str(error)) from None


def existing_job(job_id: JobId, queue: QueueDep) -> JobInfo:
    with job_problems():
        return queue.get(job_id)


ExistingJob = Annotated[JobInfo, Depends(existing_job)]


def accepted(job: JobInfo, response: Response) -> JobOut:
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job_out(job)


@router.post("", status_code=202, summary="Start a training or sync job")
def submit_job(body: JobIn, queue: QueueDep, _: AdminKey, response: Response) -> JobOut:
    params = {"capability": body.capability} if body.kind == "train" else {}
    return accepted(queue.submit(body.kind, params), response)


@router.get("", summary="The newest jobs, optionally of one kind and status")
def get_jobs(
    queue: QueueDep,
    _: ReadKey,
    kind: Annotated[Literal["train", "sync", "bulk"] | None, Query()] = None,
    status: Annotated[
        Literal["queued", "running", "succeeded", "failed", "cancelled"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobOut]:
    return [job_out(j) for j in list_jobs(queue.db, kind=kind, status=status, limit=limit)]


@router.get("/{job_id}", summary="A job's status and progress")
def get_job(job: ExistingJob, _: ReadKey) -> JobOut:
    return job_out(job)


@router.get(
    "/{job_id}/result",
    summary="A finished job's result; a bulk job's file with ?format=csv|xlsx",
    response_model=None,
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "job_id": "6dd71c133bff40b4b3806be17de9a0d4",
                        "kind": "train",
                        "result": {"trained": {"value": {"version": 3}}, "failed": {}},
                    }
                },
                "text/csv": {"example": "customer_id,found,expected_spend\nC00042,True,31.5\n"},
            }
        }
    },
)
def get_result(
    job: ExistingJob,
    app: StateDep,
    _: ReadKey,
    format: Annotated[Literal["csv", "xlsx"] | None, Query()] = None,
) -> dict[str, Any] | FileResponse:
    from custintel.jobs.bulk import result_file

    if job.status != "succeeded":
        detail = f"job {job.id} is {job.status}"
        if job.status in ("queued", "running"):
            detail += f" ({round(job.progress * 100)}%); ask again when it has succeeded"
        elif job.error:
            detail += f": {job.error}"
        raise Problem(409, "Job has no result", detail, job_status=job.status)
    if format is None:
        return {"job_id": job.id, "kind": job.kind, "result": job.result or {}}
    if job.kind != "bulk":
        raise Problem(422, "Invalid request", f"a {job.kind} job has no result file; omit ?format")
    path = result_file(app.settings, job.id, format)
    media = (
        "text/csv"
        if format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return FileResponse(path, media_type=media, filename=f"custintel-bulk-{job.id[:8]}.{format}")


@router.post("/{job_id}/cancel", summary="Cancel a queued job, or stop a running one")
def cancel(job_id: JobId, queue: QueueDep, _: AdminKey) -> JobOut:
    with job_problems():
        return job_out(queue.cancel(job_id))


@router.post("/{job_id}/retry", status_code=202, summary="Run a failed or cancelled job again")
def retry(job_id: JobId, queue: QueueDep, _: AdminKey, response: Response) -> JobOut:
    with job_problems():
        return accepted(queue.retry(job_id), response)


@schedules_router.get("", summary="The scheduled jobs of custintel.toml ([schedule])")
def get_schedules(app: StateDep, _: ReadKey) -> list[ScheduleOut]:
    return [
        ScheduleOut(name=s.name, cron=s.cron, kind=s.kind, params=s.params, next_run=s.next_run())
        for s in read_schedules(app.settings)
    ]


def _routers() -> list[APIRouter]:
    from custintel.api.routers import bulk

    return [router, schedules_router, bulk.router]


job_routers = _routers()

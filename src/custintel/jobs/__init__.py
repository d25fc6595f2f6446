"""Durable background jobs on huey: training, syncing and bulk scoring.

A job's state lives in the app database (:mod:`custintel.jobs.state`); the queue
(:mod:`custintel.jobs.queue`: SQLite in the data directory, or Redis) carries only its
id. ``custintel worker`` consumes the queue; ``custintel serve`` can run the same
consumer in-process on the embedded default (:func:`start_in_process_worker`).
"""

from custintel.jobs.queue import (
    KINDS,
    JobQueue,
    WorkerHandle,
    build_huey,
    start_in_process_worker,
)
from custintel.jobs.state import (
    JobCancelled,
    JobConflict,
    JobInfo,
    JobNotFound,
    Reporter,
    recover_stale,
)

__all__ = [
    "KINDS",
    "JobCancelled",
    "JobConflict",
    "JobInfo",
    "JobNotFound",
    "JobQueue",
    "Reporter",
    "WorkerHandle",
    "build_huey",
    "recover_stale",
    "start_in_process_worker",
]

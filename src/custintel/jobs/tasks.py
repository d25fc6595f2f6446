"""The huey tasks: train (one capability or all), sync, bulk scoring.

Each task takes only a job id and runs :func:`run_job`, which keeps the job's row
true: ``running`` with a heartbeat while it works, then ``succeeded`` with its result,
``failed`` with a message for people (custintel errors give their message and fix;
anything else gives its type only: never a traceback, and secrets in URLs are masked),
or ``cancelled`` when a cancellation is seen at a progress point. An unexpected error
is retried by huey (``retries``) while the job has attempts left; a custintel error is
the data's or the configuration's, so it fails at once.

Training calls :func:`custintel.training.train_capability`, which activates a version
only when its training succeeded: a failed job never replaces the active model.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from custintel.errors import ConfigError, CustintelError
from custintel.jobs.state import (
    JobCancelled,
    JobInfo,
    Reporter,
    finish_job,
    get_job,
    requeue_job,
    start_job,
)
from custintel.registry.versions import CAPABILITIES

if TYPE_CHECKING:
    from huey.api import TaskWrapper

    from custintel.jobs.queue import JobQueue

__all__ = ["BULK_CHUNK", "RETRY_DELAY", "TRAIN_TARGETS", "describe_error", "register_tasks"]

log = logging.getLogger("custintel.jobs")

TRAIN_TARGETS = (*CAPABILITIES, "all")
BULK_CHUNK = 50_000  # ids scored per call; progress and cancellation are checked between
RETRY_DELAY = 10  # seconds before huey runs a crashed job again
_URL_SECRET = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@\s]+@")

Body = Callable[["JobQueue", JobInfo, Reporter], dict[str, Any]]


def _mask(text: str) -> str:
    """``scheme://user:password@host`` becomes ``scheme://user:***@host``."""
    return _URL_SECRET.sub(r"\g<head>***@", text)


def describe_error(error: BaseException) -> str:
    """What a failed job's row says: a custintel error's where, message and fix; for
    anything else only its type (the worker log has the traceback)."""
    if isinstance(error, CustintelError):
        return _mask(str(error))
    return f"an unexpected error happened ({type(error).__name__}); the worker log has the details"


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _service(name: str) -> Callable[..., Any]:
    """A service function of :mod:`custintel.training`, looked up when the job runs
    (so tests can replace it)."""
    from custintel import training

    return getattr(training, name)


def run_job(queue: JobQueue, job_id: str, body: Body) -> None:
    """Run ``body`` for the job ``job_id`` and record how it ended (see the module)."""
    db, settings = queue.db, queue.settings
    job = start_job(db, job_id)
    if job is None:  # cancelled, finished or unknown: a stale message
        log.info("job %s: not queued, skipped", job_id)
        return
    reporter = Reporter(db, job_id, heartbeat_seconds=settings.job_heartbeat_seconds)
    try:
        with reporter:
            result = body(queue, job, reporter)
    except JobCancelled:
        finish_job(db, job_id, "cancelled", message="cancelled at a progress point")
    except _PartlyFailed as error:
        finish_job(db, job_id, "failed", result=error.result, error=error.message)
    except CustintelError as error:
        finish_job(db, job_id, "failed", error=describe_error(error))
    except Exception as error:
        log.exception("job %s (%s) crashed", job_id, job.kind)
        attempts = get_job(db, job_id).attempts
        if attempts < settings.job_max_attempts:
            requeue_job(
                db,
                job_id,
                f"{describe_error(error)} (attempt {attempts} of {settings.job_max_attempts})",
            )
            raise  # huey runs it again after RETRY_DELAY
        finish_job(db, job_id, "failed", error=f"{describe_error(error)}; {attempts} attempts made")
    else:
        finish_job(db, job_id, "succeeded", result=_json_safe(result), message="done")


class _PartlyFailed(Exception):
    """Some capabilities of a "train all" job failed; the others were trained."""

    def __init__(self, message: str, result: dict[str, Any]):
        super().__init__(message)
        self.message, self.result = message, result


def train_body(queue: JobQueue, job: JobInfo, report: Reporter) -> dict[str, Any]:
    """Train ``params.capability`` (or each capability, for ``all``); each one that
    trains is activated by ``train_capability``, each one that fails keeps its model."""
    target = job.params.get("capability", "all")
    if target not in TRAIN_TARGETS:
        raise ConfigError(
            f"unknown capability {target!r}", hint=f"use one of {', '.join(TRAIN_TARGETS)}"
        )
    capabilities = list(CAPABILITIES) if target == "all" else [target]
    trained: dict[str, Any] = {}
    failed: dict[str, str] = {}
    share = 1.0 / len(capabilities)
    for i, capability in enumerate(capabilities):
        report(i * share, f"training {capability}")
        try:
            version = _service("train_capability")(
                queue.settings,
                capability,
                progress=report.part(i * share, share),
                job_id=job.id,
            )
        except CustintelError as error:
            if len(capabilities) == 1:
                raise
            failed[capability] = describe_error(error)
            continue
        trained[capability] = {
            "version": version.version,
            "model_version_id": version.id,
            "metrics": version.metrics,
        }
        report((i + 1) * share, f"{capability} trained (version {version.version})")
    result: dict[str, Any] = {"trained": trained, "failed": failed}
    if trained:
        # The shop's own tables follow the newly active versions. Their failure does not
        # undo the training (the versions are active and served); the result says so.
        try:
            rows = _service("write_back_active")(queue.settings)
            if rows is not None:
                result["writeback"] = rows
        except CustintelError as error:
            result["writeback_error"] = describe_error(error)
            report(1.0, f"trained; writing back to the shop's database failed: {error}")
    if failed:
        reasons = "; ".join(f"{c}: {m}" for c, m in failed.items())
        raise _PartlyFailed(f"{len(failed)} of {len(capabilities)} failed: {reasons}", result)
    return result


def sync_body(queue: JobQueue, job: JobInfo, report: Reporter) -> dict[str, Any]:
    """Sync the data directory's custintel.toml into its store (all or nothing)."""
    from custintel.data.ingest import SYNC_ORDER
    from custintel.data.mapping import load_mapping
    from custintel.training import sync_data_directory

    settings = queue.settings
    tables = load_mapping(settings.mapping_path).tables if settings.mapping_path.exists() else {}
    steps = 3 * sum(1 for t in SYNC_ORDER if t in tables)
    done = 0

    def step(table: str, what: str) -> None:
        nonlocal done
        report(min(done / max(steps, 1), 0.99), f"{what} {table}")
        done += 1

    sync_report = sync_data_directory(settings, progress=step)
    return {
        "tables": [
            {
                "table": t.table,
                "read": t.read,
                "inserted": t.inserted,
                "updated": t.updated,
                "unchanged": t.unchanged,
                "rejected": t.rejected,
                "rejects_file": t.rejects_file.name if t.rejects_file else None,
                "reasons": dict(t.reasons),
                "numbered_rows": t.numbered_rows,
                "derived": t.derived,
            }
            for t in sync_report.tables
        ]
    }


def bulk_body(queue: JobQueue, job: JobInfo, report: Reporter) -> dict[str, Any]:
    """Score the uploaded ids in chunks of :data:`BULK_CHUNK` and write the results.
    Every chunk reads the versions the first one read, and the result names the value
    version and repeats its caveats (columns that rank no better than chance), in the
    result and in a ``caveats`` column of the file, so neither is read without them."""
    import pandas as pd

    from custintel.jobs.bulk import read_input, write_results
    from custintel.value.eligibility import caveats_cell

    ids = read_input(queue.settings, job.id)
    score_ids = _service("score_ids")
    frames: list[pd.DataFrame] = []
    for start in range(0, len(ids), BULK_CHUNK):
        chunk = ids[start : start + BULK_CHUNK]
        pinned = frames[0].attrs["versions"] if frames else None
        frames.append(score_ids(queue.settings, chunk, versions=pinned))
        done = start + len(chunk)
        report(0.95 * done / len(ids), f"scored {done:,} of {len(ids):,} customers")
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    about = frames[0].attrs if frames else {}
    caveats = about.get("caveats", [])
    if frames:
        frame["caveats"] = caveats_cell(caveats)
    write_results(queue.settings, job.id, frame)
    base = f"/v1/jobs/{job.id}/result"
    return {
        "customers": len(ids),
        "rows": len(frame),
        "columns": [str(c) for c in frame.columns],
        "model_version": about.get("model_version"),
        "caveats": caveats,
        "downloads": {"csv": f"{base}?format=csv", "xlsx": f"{base}?format=xlsx"},
    }


BODIES: dict[str, Body] = {"train": train_body, "sync": sync_body, "bulk": bulk_body}


def register_tasks(queue: JobQueue) -> dict[str, TaskWrapper]:
    """Register one huey task per job kind on ``queue.huey``; each takes a job id.
    huey retries a crashed run (``retries``: the attempts left after the first)."""
    retries = max(queue.settings.job_max_attempts - 1, 0)
    tasks: dict[str, TaskWrapper] = {}
    for kind, body in BODIES.items():

        def run(job_id: str, body: Body = body) -> None:
            run_job(queue, job_id, body)

        run.__name__ = run.__qualname__ = kind
        tasks[kind] = queue.huey.task(name=kind, retries=retries, retry_delay=RETRY_DELAY)(run)
    return tasks
